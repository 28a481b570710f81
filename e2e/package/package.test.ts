/**
 * The package as a user installs it (issue 11): the tarball that `npm pack`
 * makes, installed with npm into scratch projects, then
 * - its files: LICENSE, README, package.json and dist/ only, every export
 *   pointing at a shipped file;
 * - its declarations under `skipLibCheck: false`: a Node project (lib
 *   ES2022, @types/node, no DOM) under moduleResolution bundler and
 *   nodenext, a browser project (lib DOM, no @types/node), and a project
 *   with neither for the Sans-I/O core;
 * - its runtime in Node: the entries import, a WebSocket connects, the
 *   polyfill installs itself where Node has no WebSocket, and the README's
 *   hello world (examples/node-echo.ts) prints its echo.
 *
 * And installing from git (`npm i git+file://<this repository>`, as
 * `npm i <git url>` does): npm clones the committed HEAD, installs its
 * devDependencies, runs `prepare` (scripts/prepare.mjs builds dist/), and
 * packs the result. Uncommitted changes are not part of that install.
 *
 * No network for the tarball: polysocket's runtime dependencies are packed
 * from this repository's node_modules and installed with `--offline`, and
 * @types/node is linked from it. The git install prefers npm's cache for the
 * clone's devDependencies (`npm ci` here filled it) and may reach the
 * registry for what is missing.
 */
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs');

/** `npm run build`, `npm pack` and the offline install, on two busy cores. */
const SETUP_TIMEOUT = 180_000;
/** One `tsc` run (@types/node or lib.dom checked in full: ~5 s idle, 25 s seen under load) or one Node process. */
const STEP_TIMEOUT = 120_000;
/** The git install: a clone, its devDependencies (~400 MB unpacked), two builds. */
const GIT_TIMEOUT = 300_000;

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment of a user's shell: without the variables that `npm test`
 * and Vitest set (npm's lifecycle and config variables would configure the
 * nested npm runs; NODE_ENV=test would reach the build).
 */
function userEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const lower = key.toLowerCase();
    if (lower.startsWith('npm_') && !keep.has(lower)) continue;
    if (key.startsWith('VITEST') || key === 'TEST' || key === 'NODE_ENV' || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return env;
}

/** Run a command to completion, bounded in time; never throws on a non-zero exit. */
function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs = STEP_TIMEOUT,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: userEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stdout}\n${stderr}`));
          return;
        }
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
      },
    );
  });
}

/** Run a command that must succeed; its output is the failure message otherwise. */
async function runOk(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs?: number,
): Promise<Result> {
  const result = await run(command, args, cwd, timeoutMs);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited with ${result.code}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

const npm = (args: readonly string[], cwd: string, timeoutMs?: number) => runOk('npm', args, cwd, timeoutMs);
const QUIET = ['--no-audit', '--no-fund'];

interface PackResult {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

async function pack(folders: readonly string[], destination: string): Promise<PackResult[]> {
  const { stdout } = await npm(
    ['pack', '--ignore-scripts', '--json', '--pack-destination', destination, ...folders],
    ROOT,
  );
  return JSON.parse(stdout) as PackResult[];
}

/** A scratch project: package.json, then npm install of `specs`, then @types/node linked in. */
async function scratchProject(
  dir: string,
  specs: readonly string[],
  flags: readonly string[],
  timeoutMs?: number,
) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    // allowScripts: npm 11 runs a git dependency's `prepare` and warns;
    // npm 12 runs it only when allowed.
    `${JSON.stringify({ name: 'scratch', private: true, type: 'module', allowScripts: { polysocket: true } }, null, 2)}\n`,
  );
  await npm(['install', ...flags, ...QUIET, ...specs], dir, timeoutMs);
  // After the install, which prunes what it did not install.
  mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules/@types/node'), join(dir, 'node_modules/@types/node'), 'dir');
}

function tsconfig(options: Record<string, unknown>, files: readonly string[]): string {
  const compilerOptions = { target: 'ES2022', strict: true, skipLibCheck: false, noEmit: true, ...options };
  return `${JSON.stringify({ compilerOptions, files }, null, 2)}\n`;
}

/** `tsc -p <config>`: its diagnostics, empty when the project type-checks. */
async function typeCheck(dir: string, config: string): Promise<string> {
  const { code, stdout, stderr } = await run(process.execPath, [TSC, '-p', config], dir);
  return code === 0 ? '' : `exit ${code}\n${stdout}${stderr}`;
}

// Entries for Node processes (Node, Electron's main and preload) and for
// pages and other runtimes without @types/node.
const NODE_ENTRIES = ['node', 'protocol', 'polyfill', 'streams', 'electron/main', 'electron/preload'];
const WEB_ENTRIES = [
  '',
  'lite',
  'polyfill',
  'protocol',
  'streams',
  'webtransport',
  'direct-sockets',
  'chrome-sockets',
  'deno',
  'bun',
  'electron/renderer',
];

function importsOf(entries: readonly string[]): string {
  return entries
    .map(
      (entry, i) =>
        `import * as entry${i} from 'polysocket${entry === '' ? '' : `/${entry}`}';\nvoid entry${i};\n`,
    )
    .join('');
}

/** Imports the Node entries, connects once, and reports what it saw as JSON. */
const RUNTIME_CHECK = `
import { WebSocket } from 'polysocket/node';
import { ClientProtocol } from 'polysocket/protocol';
const native = globalThis.WebSocket;
await import('polysocket/polyfill');
const ws = new WebSocket(process.argv[2]);
const opened = await new Promise((resolve) => {
  ws.onopen = () => resolve(true);
  ws.onclose = () => resolve(false);
});
ws.close(1000);
// The transports' subpaths export what the root entry re-exports: the same
// objects, from shared chunks (instanceof GatewayError holds across them).
const root = await import('polysocket');
const streams = await import('polysocket/streams');
const webtransport = await import('polysocket/webtransport');
console.log(JSON.stringify({
  opened,
  protocol: typeof ClientProtocol,
  polyfill: native === undefined ? globalThis.WebSocket === WebSocket : globalThis.WebSocket === native,
  closeEvent: typeof globalThis.CloseEvent,
  subpaths:
    typeof streams.streamsTransport === 'function' &&
    root.streamsTransport === streams.streamsTransport &&
    root.webTransportTransport === webtransport.webTransportTransport &&
    root.GatewayError === webtransport.GatewayError,
}));
`;
const RUNTIME_OK = {
  opened: true,
  protocol: 'function',
  polyfill: true,
  closeEvent: 'function',
  subpaths: true,
};

let work: string;
let tarball: string;
let packed: PackResult;
let dependencyTarballs: string[];
let echoServer: WebSocketServer;
let echoUrl: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'polysocket-package-'));
  echoServer = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  echoServer.on('connection', (peer) =>
    peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary })),
  );
  await new Promise<void>((resolve) => echoServer.once('listening', resolve));
  echoUrl = `ws://127.0.0.1:${(echoServer.address() as AddressInfo).port}/`;

  // Built here rather than by `npm pack`'s prepare hook: a tarball of a
  // stale dist/ would test nothing, and --ignore-scripts keeps the JSON
  // output of `npm pack` clean.
  await npm(['run', 'build'], ROOT, SETUP_TIMEOUT);
  const [result] = await pack([ROOT], work);
  packed = result!;
  tarball = join(work, packed.filename);

  // The runtime dependencies as pinned by package-lock.json, from node_modules.
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const runtime = Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && entry.dev !== true)
    .map(([path]) => join(ROOT, path));
  mkdirSync(join(work, 'deps'));
  dependencyTarballs = (await pack(runtime, join(work, 'deps'))).map((p) => join(work, 'deps', p.filename));
}, SETUP_TIMEOUT);

afterAll(async () => {
  await new Promise((resolve) => echoServer?.close(resolve));
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  let project: string;

  beforeAll(async () => {
    project = join(work, 'project');
    await scratchProject(project, [tarball, ...dependencyTarballs], ['--offline'], SETUP_TIMEOUT);
    writeFileSync(join(project, 'node-entries.ts'), importsOf(NODE_ENTRIES));
    writeFileSync(join(project, 'web-entries.ts'), importsOf(WEB_ENTRIES));
    writeFileSync(join(project, 'core-entry.ts'), importsOf(['protocol']));
    copyFileSync(join(ROOT, 'examples/node-echo.ts'), join(project, 'node-echo.ts'));
    writeFileSync(join(project, 'runtime-check.mjs'), RUNTIME_CHECK);
    const node = { lib: ['ES2022'], types: ['node'] };
    const nodeFiles = ['node-entries.ts', 'node-echo.ts'];
    writeFileSync(
      join(project, 'tsconfig.node-bundler.json'),
      tsconfig({ ...node, module: 'esnext', moduleResolution: 'bundler' }, nodeFiles),
    );
    writeFileSync(
      join(project, 'tsconfig.node-nodenext.json'),
      tsconfig({ ...node, module: 'nodenext', moduleResolution: 'nodenext' }, nodeFiles),
    );
    writeFileSync(
      join(project, 'tsconfig.web-bundler.json'),
      tsconfig({ lib: ['ES2022', 'DOM'], types: [], module: 'esnext', moduleResolution: 'bundler' }, [
        'web-entries.ts',
      ]),
    );
    writeFileSync(
      join(project, 'tsconfig.core-nodenext.json'),
      tsconfig({ lib: ['ES2022'], types: [], module: 'nodenext', moduleResolution: 'nodenext' }, [
        'core-entry.ts',
      ]),
    );
  }, SETUP_TIMEOUT);

  test('holds LICENSE, README.md, package.json and dist/, and every export points at a file in it', () => {
    const files = new Set(packed.files.map((f) => f.path));
    expect([...files].filter((f) => !f.startsWith('dist/')).sort()).toEqual([
      'LICENSE',
      'README.md',
      'package.json',
    ]);
    expect(readFileSync(join(project, 'node_modules/polysocket/LICENSE'), 'utf8')).toMatch(
      /^MIT License\n\nCopyright \(c\) 2026 polysocket contributors\n/,
    );
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, string | Record<string, string>>;
    };
    const targets = Object.values(manifest.exports).flatMap((target) =>
      typeof target === 'string' ? [target] : Object.values(target),
    );
    const missing = targets
      .map((target) => target.replace(/^\.\//, ''))
      .filter((target) => !files.has(target));
    expect(missing).toEqual([]);
  });

  test.each([
    ['a Node project (ES2022, @types/node, no DOM), moduleResolution bundler', 'tsconfig.node-bundler.json'],
    [
      'a Node project (ES2022, @types/node, no DOM), moduleResolution nodenext',
      'tsconfig.node-nodenext.json',
    ],
    [
      'a browser project (ES2022 + DOM, no @types/node), moduleResolution bundler',
      'tsconfig.web-bundler.json',
    ],
    ['the core in a project with neither (ES2022, no types)', 'tsconfig.core-nodenext.json'],
  ])(
    'declarations type-check with skipLibCheck false in %s',
    async (_, config) => {
      expect(await typeCheck(project, config)).toBe('');
    },
    STEP_TIMEOUT,
  );

  test(
    'imports and connects in Node; the polyfill installs WebSocket where Node has none',
    async () => {
      const { stdout } = await runOk(process.execPath, ['runtime-check.mjs', echoUrl], project);
      expect(JSON.parse(stdout)).toEqual(RUNTIME_OK);
    },
    STEP_TIMEOUT,
  );

  test(
    "the README's Node hello world (examples/node-echo.ts) runs and is shown in the README as is",
    async () => {
      const { stdout } = await runOk(process.execPath, [TSX, 'node-echo.ts', echoUrl], project);
      expect(stdout).toBe('received: hello\nclosed: 1000 true\n');
      const example = readFileSync(join(ROOT, 'examples/node-echo.ts'), 'utf8');
      const code = example.slice(example.indexOf('import '));
      expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(`\`\`\`ts\n${code}\`\`\`\n`);
    },
    STEP_TIMEOUT,
  );
});

describe('installing from git', () => {
  test(
    'npm i git+file://<repository> builds dist/ in prepare, and the package imports and connects',
    async () => {
      const project = join(work, 'from-git');
      await scratchProject(
        project,
        [`git+file://${ROOT}`, ...dependencyTarballs],
        ['--prefer-offline'],
        GIT_TIMEOUT,
      );
      const installed = join(project, 'node_modules/polysocket');
      expect(existsSync(join(installed, 'dist/node.js'))).toBe(true);
      expect(existsSync(join(installed, 'LICENSE'))).toBe(true);
      writeFileSync(join(project, 'runtime-check.mjs'), RUNTIME_CHECK);
      const { stdout } = await runOk(process.execPath, ['runtime-check.mjs', echoUrl], project);
      expect(JSON.parse(stdout)).toEqual(RUNTIME_OK);
    },
    GIT_TIMEOUT,
  );

  test(
    'npm i <folder of a clone without its devDependencies> says to run npm install there',
    async () => {
      const clone = join(work, 'clone');
      await runOk('git', ['clone', '--quiet', ROOT, clone], work);
      const project = join(work, 'from-folder');
      mkdirSync(project);
      writeFileSync(join(project, 'package.json'), '{ "name": "scratch", "private": true }\n');
      const result = await run(
        'npm',
        ['install', '--offline', ...QUIET, clone, ...dependencyTarballs],
        project,
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('building dist/ needs the devDependencies');
    },
    STEP_TIMEOUT,
  );
});
