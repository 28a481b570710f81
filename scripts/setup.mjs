#!/usr/bin/env node
// Installs what the tests need beyond npm packages, idempotently:
// - Debian's python3-websockets (a real RFC 6455 peer, run with /usr/bin/python3);
// - Debian's chromium (the browser of the end-to-end tests, driven by
//   Playwright with executablePath; browsers are never downloaded);
// and checks that the Deno binary of the `deno` npm package runs: it hosts the
//   WebTransport gateway (gateway/) of the browser tests. It comes with
//   `npm ci`; a missing one means the package's install script was skipped.
// Runs before `npm test`, `npm run demo` and `npm run bench`; does nothing when
// everything is present already.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PYTHON = '/usr/bin/python3';
const CHROMIUM = '/usr/bin/chromium';

function hasPythonWebsockets() {
  const probe = spawnSync(PYTHON, ['-c', 'import websockets'], { stdio: 'ignore' });
  return probe.status === 0;
}

function aptInstall(packages) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const prefix = root ? [] : ['sudo', '-n'];
  const run = (args) => {
    const [command, ...rest] = [...prefix, ...args];
    execFileSync(command, rest, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  console.log(`setup: apt-get install -y ${packages.join(' ')}`);
  try {
    run(['apt-get', 'install', '-y', '-qq', ...packages]);
  } catch {
    // A new machine has no package lists yet.
    run(['apt-get', 'update', '-qq']);
    run(['apt-get', 'install', '-y', '-qq', ...packages]);
  }
}

const missing = [];
if (!hasPythonWebsockets()) missing.push('python3-websockets');
if (!existsSync(CHROMIUM)) missing.push('chromium');
if (missing.length > 0) aptInstall(missing);
if (!hasPythonWebsockets()) {
  console.error(`setup: ${PYTHON} still cannot import websockets`);
  process.exit(1);
}
if (!existsSync(CHROMIUM)) {
  console.error(`setup: ${CHROMIUM} is still missing`);
  process.exit(1);
}

const DENO = new URL('../node_modules/.bin/deno', import.meta.url).pathname;
const deno = spawnSync(DENO, ['--version'], { encoding: 'utf8' });
if (deno.status !== 0) {
  console.error(`setup: ${DENO} --version failed (${deno.error?.message ?? deno.stderr}); run npm ci`);
  process.exit(1);
}
