/**
 * One WPT test file in one mode, in a worker thread of its own: a fresh
 * realm, shaped like the global scope the test was written for.
 *
 * - Every job: `self`, `location` (the worker script's or the page's URL, so
 *   relative URLs resolve as in the browser), the global as an event target
 *   for testharness's `error` / `unhandledrejection` listeners (uncaught
 *   exceptions and unhandled rejections of the thread are dispatched there),
 *   `importScripts()` (synchronous, from the checkout, substituted as wpt
 *   serve would) and `fetch()` (same files, for idlharness's IDL).
 * - Worker jobs (`.any.js`, `.worker.js`): `WorkerGlobalScope` and
 *   `DedicatedWorkerGlobalScope` with the global as their instance, so that
 *   testharness.js picks its dedicated-worker environment (results wait for
 *   `done()`) and idlharness.js its `Exposed=DedicatedWorker` rules;
 *   `postMessage` is a sink, since no page listens; `GLOBAL` as wpt's
 *   worker wrapper defines it.
 * - Page jobs (`.html`): `window === self` and no `document`, so that
 *   testharness.js runs as in a JavaScript shell (results once the scripts
 *   have run and the tests are done).
 *
 * testharness.js has no timeout of its own in those environments (the page
 * around a worker keeps time), so a timer calls its `timeout()` after the
 * test's WPT timeout. Results go to the pool through `parentPort`.
 */
import dns from 'node:dns';
import { createRequire } from 'node:module';
import type * as net from 'node:net';
import { Script } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import {
  type ClassicScript,
  HARNESS_STATUSES,
  type HarnessResult,
  type SubtestResult,
  TEST_STATUSES,
  type WorkerInput,
  type WorkerMessage,
} from './messages.js';
import { readResource, WPT_HOST_NAMES } from './resources.js';

const input = workerData as WorkerInput;
const { job } = input;
const scope = globalThis as unknown as Record<string, unknown>;
const scopeEvents = new EventTarget();
let harnessLoaded = false;
let completed = false;

function send(message: WorkerMessage): void {
  parentPort!.postMessage(message);
}

/** Report an outcome without testharness (it failed to load, or never will). */
function completeWithoutHarness(harness: HarnessResult): void {
  if (completed) return;
  completed = true;
  send({ type: 'complete', tests: [], harness });
}

/** Dispatch an `error` event at the global, as a browser does for an uncaught exception. */
function reportError(error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (!harnessLoaded) {
    completeWithoutHarness({ status: 'ERROR', message: `before testharness.js loaded: ${message}` });
    return;
  }
  const event = new Event('error');
  Object.defineProperties(event, {
    message: { value: message },
    error: { value: error },
    filename: { value: '' },
    lineno: { value: 0 },
    colno: { value: 0 },
  });
  scopeEvents.dispatchEvent(event);
}

function reportRejection(reason: unknown): void {
  if (!harnessLoaded) {
    completeWithoutHarness({ status: 'ERROR', message: `unhandled rejection: ${String(reason)}` });
    return;
  }
  const event = new Event('unhandledrejection');
  Object.defineProperty(event, 'reason', { value: reason });
  scopeEvents.dispatchEvent(event);
}

/**
 * wpt serve's host names (`web-platform.test`, its subdomains, the `alt`
 * host) are 127.0.0.1; other names fail at once rather than reaching a
 * real resolver, except `localhost`. The runner is offline by design.
 */
function wptLookup(original: typeof dns.lookup): typeof dns.lookup {
  const lookup = (hostname: string, options: unknown, callback?: unknown): void => {
    const done = (typeof options === 'function' ? options : callback) as (
      error: NodeJS.ErrnoException | null,
      address?: string | dns.LookupAddress[],
      family?: number,
    ) => void;
    const all =
      typeof options === 'object' && options !== null && (options as dns.LookupOptions).all === true;
    const name = hostname.toLowerCase();
    if (name === 'localhost') {
      (original as (...args: unknown[]) => void)(hostname, options, callback);
    } else if (WPT_HOST_NAMES.has(name)) {
      process.nextTick(() =>
        all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4),
      );
    } else {
      const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname} (offline WPT run)`);
      error.code = 'ENOTFOUND';
      process.nextTick(() => done(error));
    }
  };
  return lookup as typeof dns.lookup;
}

function defineGlobal(name: string, value: unknown): void {
  // As the platform's interface objects (and src/polyfill.ts) are defined.
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

/** Run a classic script in the global scope, with its code cache when the pool made one. */
function runClassic(code: string, filename: string, cached: ClassicScript | undefined): unknown {
  const cachedData = cached !== undefined && cached.source === code ? cached.cachedData : undefined;
  return new Script(code, {
    filename,
    ...(cachedData === undefined ? {} : { cachedData }),
  }).runInThisContext();
}

const libraryModules = new Map<string, { exports: unknown }>();
const requireBuiltin = createRequire(import.meta.url);

/**
 * `require()` for the library's CommonJS files: its own files (`./x.cjs`)
 * from the pool's compiled copies, once each; Node's built-in modules.
 */
function requireLibrary(specifier: string): unknown {
  if (!specifier.startsWith('./')) return requireBuiltin(specifier);
  const name = specifier.slice(2);
  const loaded = libraryModules.get(name);
  if (loaded !== undefined) return loaded.exports;
  const script = input.library[name];
  if (script === undefined) throw new Error(`the library bundle has no ${name}`);
  const module = { exports: {} };
  libraryModules.set(name, module);
  const wrapper = runClassic(script.source, `polysocket:${name}`, script) as (
    exports: unknown,
    require: (specifier: string) => unknown,
    module: { exports: unknown },
  ) => void;
  wrapper(module.exports, requireLibrary, module);
  return module.exports;
}

/** Load `polysocket/node` or `polysocket/polyfill` and return its exports. */
function loadLibrary(entry: 'node' | 'polyfill'): unknown {
  return requireLibrary(`./${entry}.cjs`);
}

interface NodeEntry {
  readonly WebSocket: unknown;
  readonly CloseEvent: unknown;
  readonly WebSocketStream: unknown;
  readonly WebSocketError: unknown;
  readonly bindOptions: (base: unknown, defaults: object) => unknown;
  readonly nodeTransport: (options: object) => unknown;
}

/** Put `WebSocket`, `CloseEvent`, `WebSocketStream` and `WebSocketError` in the global scope as the mode says. */
function installWebSocket(): void {
  switch (input.mode) {
    case 'node': {
      // The default transport (node:net / node:tls) resolves through
      // dns.lookup and trusts NODE_EXTRA_CA_CERTS (set by the runner): the
      // exported class is installed untouched.
      dns.lookup = wptLookup(dns.lookup);
      const entry = loadLibrary('node') as NodeEntry;
      defineGlobal('WebSocket', entry.WebSocket);
      defineGlobal('CloseEvent', entry.CloseEvent);
      defineGlobal('WebSocketStream', entry.WebSocketStream);
      defineGlobal('WebSocketError', entry.WebSocketError);
      return;
    }
    case 'polyfill': {
      dns.lookup = wptLookup(dns.lookup);
      // Node 22 has a native WebSocket (and CloseEvent), which the polyfill
      // keeps; remove them first so that the polyfill's own are tested.
      delete scope['WebSocket'];
      delete scope['CloseEvent'];
      delete scope['WebSocketStream'];
      delete scope['WebSocketError'];
      loadLibrary('polyfill');
      for (const name of ['WebSocket', 'WebSocketStream', 'WebSocketError']) {
        if (typeof scope[name] !== 'function') throw new Error(`polysocket/polyfill installed no ${name}`);
      }
      return;
    }
    case 'bound': {
      const entry = loadLibrary('node') as NodeEntry;
      // The names and the CA live in the transport, as an app would bind
      // them: `lookup` maps the names while the URL's host stays the Host
      // header and the TLS server name.
      const netOptions: Pick<net.TcpNetConnectOpts, 'lookup'> = { lookup: wptLookup(dns.lookup) };
      const transport = entry.nodeTransport({ net: netOptions, tls: { ca: input.ca } });
      defineGlobal('WebSocket', entry.bindOptions(entry.WebSocket, { transport }));
      defineGlobal('CloseEvent', entry.CloseEvent);
      defineGlobal('WebSocketStream', entry.bindOptions(entry.WebSocketStream, { transport }));
      defineGlobal('WebSocketError', entry.WebSocketError);
      return;
    }
  }
}

/** Register the runner's callbacks once testharness.js has defined them. */
function hookHarness(): void {
  harnessLoaded = true;
  const toResult = (test: { name: string; status: number; message: string | null }): SubtestResult => ({
    name: String(test.name),
    status: TEST_STATUSES[test.status] ?? 'FAIL',
    message: test.message ?? null,
  });
  (scope['add_result_callback'] as (callback: (test: never) => void) => void)((test) => {
    send({ type: 'result', test: toResult(test) });
  });
  (scope['add_completion_callback'] as (callback: (tests: never[], status: never) => void) => void)(
    (tests, status: { status: number; message: string | null }) => {
      completed = true;
      send({
        type: 'complete',
        tests: tests.map(toResult),
        harness: { status: HARNESS_STATUSES[status.status] ?? 'ERROR', message: status.message ?? null },
      });
    },
  );
  setTimeout(() => (scope['timeout'] as () => void)(), job.timeoutMs);
}

function runScript(code: string, filename: string): void {
  runClassic(code, filename, input.scripts[new URL(filename).pathname]);
  if (!harnessLoaded && typeof scope['add_completion_callback'] === 'function') hookHarness();
}

function importScripts(...urls: unknown[]): void {
  for (const raw of urls) {
    const url = new URL(String(raw), job.url);
    const resource = readResource(url, input.config);
    if (resource.status !== 200) {
      throw new DOMException(`importScripts(): ${url.href} answered ${resource.status}`, 'NetworkError');
    }
    runScript(new TextDecoder().decode(resource.body), url.href);
  }
}

/** Node's own `fetch`, before the page's replaces it. */
const nodeFetch = globalThis.fetch;

async function wptFetch(request: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = new URL(request instanceof Request ? request.url : String(request), job.url);
  // The stash lives in the static server (servers.ts), which WebSockets reach too.
  if (url.pathname.startsWith('/fetch/api/resources/stash-')) {
    return nodeFetch(`http://127.0.0.1:${input.config.ports.http[0]}${url.pathname}${url.search}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`fetch(): ${url.href} not served`);
  if (init?.method !== undefined && init.method.toUpperCase() !== 'GET') {
    throw new TypeError(`fetch(): only GET is served (${init.method} ${url.href})`);
  }
  const resource = readResource(url, input.config);
  return new Response(resource.body, { status: resource.status, headers: resource.headers });
}

function setUpScope(): void {
  defineGlobal('self', globalThis);
  defineGlobal('location', new URL(job.url));
  defineGlobal('addEventListener', scopeEvents.addEventListener.bind(scopeEvents));
  defineGlobal('removeEventListener', scopeEvents.removeEventListener.bind(scopeEvents));
  defineGlobal('dispatchEvent', scopeEvents.dispatchEvent.bind(scopeEvents));
  defineGlobal('importScripts', importScripts);
  defineGlobal('fetch', wptFetch);
  if (job.title !== null) defineGlobal('META_TITLE', job.title);
  if (job.kind === 'html') {
    defineGlobal('window', globalThis);
    return;
  }
  // Interface objects whose only instance is the global, which is all that
  // testharness.js and idlharness.js ask of them (`self instanceof ...`).
  for (const name of ['WorkerGlobalScope', 'DedicatedWorkerGlobalScope']) {
    const scopeInterface = () => {
      throw new TypeError('Illegal constructor');
    };
    Object.defineProperty(scopeInterface, 'name', { value: name });
    Object.defineProperty(scopeInterface, Symbol.hasInstance, {
      value: (value: unknown) => value === globalThis,
    });
    defineGlobal(name, scopeInterface);
  }
  defineGlobal('postMessage', () => {});
  defineGlobal('GLOBAL', { isWindow: () => false, isWorker: () => true, isShadowRealm: () => false });
}

async function main(): Promise<void> {
  process.on('uncaughtException', reportError);
  process.on('unhandledRejection', reportRejection);
  setUpScope();
  try {
    installWebSocket();
  } catch (error) {
    completeWithoutHarness({
      status: 'ERROR',
      message: `installing WebSocket (${input.mode}): ${String(error)}`,
    });
    return;
  }
  for (const script of job.scripts) {
    try {
      if ('src' in script) importScripts(script.src);
      else runScript(script.inline, new URL(script.name, job.url).href);
    } catch (error) {
      reportError(error);
      // A worker's script stops at its first uncaught exception; a page goes
      // on with its next <script>.
      if (job.kind !== 'html') return;
    }
  }
  if (!harnessLoaded) {
    completeWithoutHarness({ status: 'ERROR', message: 'testharness.js was never loaded' });
    return;
  }
  if (job.callDone) (scope['done'] as () => void)();
}

await main();
