#!/usr/bin/env node
// Installs what the tests need beyond npm packages, idempotently:
// - Debian's python3-websockets (a real RFC 6455 peer, run with /usr/bin/python3);
// - Debian's python3-six, which pywebsocket3 (the web-platform-tests'
//   WebSocket server, e2e/wpt) imports;
// - Debian's chromium (the browser of the end-to-end tests, driven by
//   Playwright with executablePath; browsers are never downloaded);
// - Debian's tinyproxy, squid and microsocks: real HTTP, HTTPS and SOCKS5
//   proxies for e2e/proxies (started there on loopback, never as services);
// and checks that the Deno and Bun binaries of the `deno` and `bun` npm
//   packages run: Deno hosts the WebTransport gateway (gateway/) of the
//   browser tests, and both run the cross-runtime suite (e2e/runtimes). They
//   come with `npm ci` through the packages' postinstall scripts (npm 11 warns
//   that these are "not yet covered by allowScripts", and runs them). Where the
//   scripts were skipped (--ignore-scripts), they are run here.
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

function hasPythonSix() {
  const probe = spawnSync(PYTHON, ['-c', 'import six'], { stdio: 'ignore' });
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
if (!hasPythonSix()) missing.push('python3-six');
if (!existsSync(CHROMIUM)) missing.push('chromium');
const PROXIES = {
  tinyproxy: '/usr/bin/tinyproxy',
  squid: '/usr/sbin/squid',
  microsocks: '/usr/bin/microsocks',
};
for (const [name, path] of Object.entries(PROXIES)) if (!existsSync(path)) missing.push(name);
if (missing.length > 0) aptInstall(missing);
if (!hasPythonWebsockets()) {
  console.error(`setup: ${PYTHON} still cannot import websockets`);
  process.exit(1);
}
if (!hasPythonSix()) {
  console.error(`setup: ${PYTHON} still cannot import six`);
  process.exit(1);
}
for (const path of [CHROMIUM, ...Object.values(PROXIES)]) {
  if (!existsSync(path)) {
    console.error(`setup: ${path} is still missing`);
    process.exit(1);
  }
}

/** Check that node_modules/.bin/NAME runs; run the package's postinstall once if not. */
function ensureRuntime(name, postinstall) {
  const bin = new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
  const version = () => spawnSync(bin, ['--version'], { encoding: 'utf8' });
  let probe = version();
  if (probe.status !== 0) {
    const dir = new URL(`../node_modules/${name}/`, import.meta.url).pathname;
    console.log(`setup: ${name} does not run; running its postinstall (node ${postinstall})`);
    spawnSync(process.execPath, [postinstall], { cwd: dir, stdio: 'inherit' });
    probe = version();
  }
  if (probe.status !== 0) {
    console.error(`setup: ${bin} --version failed (${probe.error?.message ?? probe.stderr}); run npm ci`);
    process.exit(1);
  }
}

ensureRuntime('deno', './install.cjs');
ensureRuntime('bun', 'install.js');
