/**
 * `npm run demo`: starts the demo (demo/stack.ts) on 127.0.0.1: a `ws`
 * echo/chat/flood server (also over TLS, for wss:// through the gateway),
 * the Deno WebTransport gateway with a fresh certificate (allow-listing
 * only that server), and the demo page; prints the URL to open, and runs
 * until Ctrl-C (SIGINT) or SIGTERM, which stop everything.
 *
 *     node --import tsx scripts/demo.ts [--port N] [--verbose]
 *     node --import tsx scripts/demo.ts --smoke     start, check, stop; exit 0 if all is well
 *
 * --smoke loads the page and /config.json over HTTP, talks to the server
 * (a WebSocket echo), and sends a WebSocket handshake through the gateway
 * (Deno's WebTransport client), over TCP and over the gateway's TLS, then
 * exits.
 *
 * `node --import tsx`, not the `tsx` command: that one runs the script in a
 * child process, relays SIGINT and SIGTERM to it, and kills it with SIGKILL
 * when it has not acknowledged the signal within 30 ms (tsx 4.23). On a busy machine
 * that happens, and the gateway, which this process stops on a signal,
 * is left running.
 */
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { probeGateway, type RunningDemo, startDemo } from '../demo/stack.js';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    port: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

const smoke = values.smoke === true;
const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[22m` : text);
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[22m` : text);

/** Bound on a stop, from the first signal: a start in progress included. */
const STOP_LIMIT_MS = 60_000;

/** The start in progress or done; set before the first signal can be handled. */
let starting: Promise<RunningDemo> | undefined;
/** The --smoke check in progress. */
let checking: Promise<void> | undefined;
let stopping: Promise<never> | undefined;

/**
 * Stop everything, then exit with the first caller's `exitCode`; later
 * calls wait for the same stop. Children are stopped even when they are
 * still starting: the start in progress is waited for, then stopped, since
 * a child this process does not stop and wait for (the Deno gateway) would
 * outlive it. The smoke check is waited for too: its gateway probe is a
 * process of its own, bounded by its own timeout.
 */
function shutdown(exitCode: number): Promise<never> {
  stopping ??= (async () => {
    // A stop that hangs still ends the process; a second signal ends it at once.
    setTimeout(() => {
      console.error(`demo: not stopped after ${STOP_LIMIT_MS / 1000} s; exiting anyway`);
      process.exit(exitCode || 1);
    }, STOP_LIMIT_MS).unref();
    const running = await starting?.catch(() => undefined);
    await checking?.catch(() => {});
    // Resolves once every child has exited (RunningDemo.stop waits for their 'exit').
    await running?.stop();
    process.exit(exitCode);
  })();
  return stopping;
}
const SIGNALS: readonly string[] = ['SIGINT', 'SIGTERM'];
function onSignal(): void {
  if (stopping !== undefined) process.exit(130);
  if (!smoke) console.log(dim('\nstopping the demo…'));
  void shutdown(0);
}
for (const signal of SIGNALS) process.on(signal, onSignal);
// Vite's dev server adds a SIGTERM listener of its own, which closes the
// page server and then exits the process at once, while the gateway may
// still be running: it would be left behind. onSignal() stops everything
// before exiting, so any other listener of these signals is taken off again,
// in a microtask: before any signal can be handled, since that takes a task.
process.on('newListener', (event: string | symbol, listener: (...args: unknown[]) => void) => {
  if (typeof event === 'string' && SIGNALS.includes(event) && listener !== onSignal) {
    queueMicrotask(() => process.off(event, listener));
  }
});

/** A WebSocket echo with the demo server (Node's `ws` client). */
function echo(url: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no echo from ${url}`));
    }, 15_000);
    ws.on('open', () => ws.send(text));
    ws.on('message', (data) => {
      clearTimeout(timer);
      ws.close(1000);
      resolve(String(data));
    });
    ws.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function runSmoke(running: RunningDemo): Promise<void> {
  const page = await fetch(running.url);
  const html = await page.text();
  if (!page.ok || !html.includes('polysocket')) throw new Error(`GET ${running.url}: ${page.status}`);
  const script = await fetch(new URL('main.ts', running.url));
  if (!script.ok) throw new Error(`GET main.ts: ${script.status}`);
  const config = await fetch(new URL('config.json', running.url)).then((response) => response.json());
  if (JSON.stringify(config) !== JSON.stringify(running.config)) throw new Error('config.json differs');
  const echoed = await echo(`${running.config.server}/echo`, 'smoke');
  if (echoed !== 'smoke') throw new Error(`the server echoed ${JSON.stringify(echoed)}`);
  const probe = await probeGateway(running.config);
  if (probe.status !== '200 connected' || !probe.response.startsWith('HTTP/1.1 101'))
    throw new Error(`gateway probe: ${JSON.stringify(probe)}`);
  const secure = await probeGateway(running.config, 20_000, true);
  if (!secure.status.startsWith('200 connected tls verified ') || !secure.response.startsWith('HTTP/1.1 101'))
    throw new Error(`gateway probe over TLS: ${JSON.stringify(secure)}`);
  console.log(
    `smoke: page ${running.url} ok; server echo ok; gateway ${probe.status}, ${probe.response}; ` +
      `over TLS ${secure.status}, ${secure.response}`,
  );
}

async function main(): Promise<void> {
  // --smoke: port 0, so that the OS picks a free port as it binds (probing for
  // one first would race with every other process on the machine).
  const port = values.port === undefined ? (smoke ? 0 : 5173) : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`bad --port ${values.port}`);
  const verbose = values.verbose === true;
  starting = startDemo({
    port,
    ...(smoke
      ? { strictPort: true }
      : {
          log: (source, line) => {
            // The gateway's start-up lines are summarised below; its session lines only with --verbose.
            if (source === 'gateway' && !verbose && !/ (connect|refuse) /.test(line)) return;
            console.log(dim(`${source.padEnd(7)} │ ${line}`));
          },
        }),
  });
  const demo = await starting;
  // Signalled while starting: shutdown() stops it; no URL, no check.
  if (stopping !== undefined) return;
  if (smoke) {
    checking = runSmoke(demo);
    await checking;
    await shutdown(0);
  }
  const { config } = demo;
  console.log(
    [
      '',
      dim(`  demo server       ${config.server}/echo, ${config.server}/chat, ${config.server}/flood`),
      dim(
        `  the same, wss:    ${config.secureServer}/echo (polysocket over WebTransport only: TLS by the gateway)`,
      ),
      dim(
        `  gateway           ${config.gateway} (WebTransport; certificate valid until ${config.certificateNotAfter})`,
      ),
      '',
      `  ${bold('polysocket demo:')} open ${bold(demo.url)} in Chromium or Chrome  ${dim('(Ctrl-C stops it)')}`,
      '',
      dim('  Direct Sockets exist only in Isolated Web Apps; to install this page as one (dev mode):'),
      dim(
        `  chromium --enable-features=IsolatedWebApps,IsolatedWebAppDevMode --install-isolated-web-app-from-url=${demo.url}`,
      ),
      '',
    ].join('\n'),
  );
}

main().catch(async (error: unknown) => {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
});
