/**
 * The gateway's check that certificate verification is on before it makes
 * TLS connections for pages (gateway/tls.ts, verificationProblem): run in a
 * Deno process with and without `--unsafely-ignore-certificate-errors`,
 * the flag that turns verification off for the whole process without the
 * program being able to ask.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, inject, test } from 'vitest';
import { DENO } from '../browser/support/gateway.js';

const TLS_MODULE = new URL('../../gateway/tls.ts', import.meta.url).href;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Run verificationProblem() in a Deno process with `flags`; its result. */
async function problemWith(flags: readonly string[]): Promise<string | null> {
  const code = `import { verificationProblem } from ${JSON.stringify(TLS_MODULE)};
console.log(JSON.stringify({ problem: await verificationProblem() }));`;
  const child = spawn(DENO, ['eval', ...flags, code], {
    cwd: ROOT,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000 * inject('timeScale'));
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  if (exitCode !== 0) throw new Error(`deno eval exited ${exitCode}: ${stderr}`);
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return (JSON.parse(line) as { problem: string | null }).problem;
}

test('verification on: no problem', async () => {
  expect(await problemWith([])).toBeNull();
});

test('--unsafely-ignore-certificate-errors: seen, and TLS for pages would be refused', async () => {
  expect(await problemWith(['--unsafely-ignore-certificate-errors'])).toMatch(
    /certificate verification is off in this Deno process/,
  );
});
