/**
 * The cross-runtime scenarios: one runner, written against the WHATWG
 * `WebSocket` API only, that runs unchanged on Node, Deno and Bun. Each
 * runtime's entry (run-deno.ts, run-bun.ts; Node runs it in-process in
 * runtimes.test.ts) passes its WebSocket class and the servers' addresses.
 *
 * Every scenario yields one result: what the page-visible API showed, as
 * strings free of timing (event order, codes, reasons, wasClean, data
 * sizes), so that results can be compared across runtimes as they are.
 * Imports nothing: no node:*, no Deno or Bun globals.
 */

/** Where the servers of runtimes.test.ts listen. */
export interface ServerInfo {
  /** `ws://127.0.0.1:PORT`: the `ws` server (permessage-deflate enabled). */
  readonly ws: string;
  /** `wss://127.0.0.1:PORT`: the same over TLS, with a certificate from {@link ServerInfo.ca}. */
  readonly wss: string;
  /** `ws://127.0.0.1:PORT` where nothing listens. */
  readonly refused: string;
  /** The PEM certificate of the CA that signed the `wss:` server's. */
  readonly ca: string;
}

/** What the scenarios use of a `CloseEvent`. */
interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** What the scenarios use of a WHATWG `WebSocket`. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly protocol: string;
  readonly extensions: string;
  binaryType: string;
  send(data: string | ArrayBuffer | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

/** A WHATWG `WebSocket` constructor. */
export type WebSocketClass = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** What a runtime hands the runner. */
export interface ScenarioEnv {
  /** Runtime name and version, for the report only. */
  readonly runtime: string;
  /** `WebSocket` for `ws:`, and for `wss:` trusting {@link ServerInfo.ca}. */
  readonly WebSocket: WebSocketClass;
  /** `WebSocket` with the runtime's default TLS trust (which lacks the test CA). */
  readonly DefaultTrustWebSocket: WebSocketClass;
  readonly server: ServerInfo;
  /**
   * Multiplies every time bound of the scenarios: the test's time scale (see
   * vitest.config.ts), so that a busy machine is not taken for a hang.
   */
  readonly timeScale: number;
}

/** One line of the runner's output. */
export interface ScenarioResult {
  readonly runtime: string;
  readonly scenario: string;
  readonly ok: boolean;
  /** What the API showed, in order: the part compared across runtimes. */
  readonly events: readonly string[];
  /** Why it failed. */
  readonly error?: string;
  readonly ms: number;
}

/**
 * Bound on each scenario on an idle machine, so that one hang doesn't stall
 * the rest; times {@link ScenarioEnv.timeScale}. The slowest scenario
 * (16 MiB compressed in JavaScript, with the three runtimes at it at once)
 * takes about 15 s on an idle 2-core machine.
 */
export const SCENARIO_TIMEOUT_MS = 30_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

class ScenarioError extends Error {
  override name = 'ScenarioError';
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ScenarioError(message);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Deterministic bytes (xorshift32), the same on every runtime. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** FNV-1a (32 bits), as servers.ts computes it. */
function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.byteLength; i++) hash = Math.imul(hash ^ (bytes[i] as number), 0x01000193) >>> 0;
  return hash;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function viewBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Names a message's data by type and size: `text(5)`, `arraybuffer(3)`, `blob(3)`. */
function describeData(data: unknown): string {
  if (typeof data === 'string') return `text(${data.length})`;
  if (data instanceof ArrayBuffer) return `arraybuffer(${data.byteLength})`;
  if (data instanceof Blob) return `blob(${data.size})`;
  return `unexpected(${Object.prototype.toString.call(data)})`;
}

async function bytesOf(data: unknown): Promise<Uint8Array> {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  throw new ScenarioError(`expected binary data, got ${describeData(data)}`);
}

const STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];

/** A WebSocket and the log of what it showed. */
class Session {
  readonly ws: WebSocketLike;
  readonly events: string[];
  readonly opened: Promise<boolean>;
  readonly closed: Promise<CloseEventLike>;
  readonly #messages: unknown[] = [];
  #wake: (() => void) | null = null;

  /**
   * @param logMessages - Log every message event (off for bulk traffic,
   *   whose scenario logs a summary instead).
   */
  constructor(
    WebSocket: WebSocketClass,
    url: string,
    events: string[],
    protocols: string[] = [],
    logMessages = true,
  ) {
    this.events = events;
    this.ws = new WebSocket(url, protocols);
    const ws = this.ws;
    const state = (): string => STATES[ws.readyState] ?? String(ws.readyState);
    let resolveOpened: (opened: boolean) => void = () => {};
    this.opened = new Promise((resolve) => {
      resolveOpened = resolve;
    });
    this.closed = new Promise((resolve) => {
      ws.addEventListener('close', (event) => {
        const { code, reason, wasClean } = event as unknown as CloseEventLike;
        events.push(`close ${code} ${JSON.stringify(reason)} wasClean=${wasClean} (${state()})`);
        resolveOpened(false);
        resolve({ code, reason, wasClean });
        this.#wake?.();
      });
    });
    ws.addEventListener('open', () => {
      events.push(`open (${state()})`);
      resolveOpened(true);
    });
    ws.addEventListener('error', () => {
      events.push(`error (${state()})`);
    });
    ws.addEventListener('message', (event) => {
      const { data } = event as MessageEvent;
      if (logMessages) events.push(`message ${describeData(data)}`);
      this.#messages.push(data);
      this.#wake?.();
    });
  }

  /** The next message's data; throws if the connection closes first. */
  async next(): Promise<unknown> {
    for (;;) {
      if (this.#messages.length > 0) return this.#messages.shift();
      check(this.ws.readyState !== 3, 'closed while waiting for a message');
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
  }

  async open(): Promise<void> {
    check(await this.opened, 'the connection did not open');
  }

  /** Close with `code` and wait for the close event. */
  async close(code = 1000, reason = ''): Promise<CloseEventLike> {
    this.ws.close(code, reason);
    return this.closed;
  }
}

type Scenario = (env: ScenarioEnv, events: string[]) => Promise<void>;

const scenarios: Record<string, Scenario> = {
  async 'text echo'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.ws}/echo`, events);
    await s.open();
    // Includes a lone surrogate, which send() turns into U+FFFD (USVString).
    const texts = ['hello', 'héllo wörld 🌍', '', 'a'.repeat(70_000), 'broken \uD800 surrogate'];
    for (const text of texts) s.ws.send(text);
    for (const text of texts) {
      const got = await s.next();
      check(got === text.replace('\uD800', '\uFFFD'), `echo of a ${text.length}-character text differs`);
    }
    await s.close(1000, 'done');
  },

  async 'binary echo'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.ws}/echo`, events);
    await s.open();
    s.ws.binaryType = 'arraybuffer';
    const big = pseudoRandomBytes(1000, 7);
    const sent: Array<[string, ArrayBuffer | ArrayBufferView | Blob, Uint8Array]> = [
      ['ArrayBuffer', big.slice(0, 100).buffer, big.slice(0, 100)],
      ['Uint8Array', big.slice(100, 200), big.slice(100, 200)],
      // A view into the middle of a larger buffer: only its bytes are sent.
      ['Uint8Array view', big.subarray(300, 350), big.slice(300, 350)],
      ['Float64Array', new Float64Array([1.5, -2, Math.PI]), viewBytes(new Float64Array([1.5, -2, Math.PI]))],
      ['DataView', new DataView(big.buffer, 500, 20), big.slice(500, 520)],
      [
        'Blob',
        new Blob([big.slice(600, 700), 'tail']),
        new Uint8Array([...big.slice(600, 700), ...encoder.encode('tail')]),
      ],
      ['empty ArrayBuffer', new ArrayBuffer(0), new Uint8Array(0)],
      // After the Blob: order is kept behind the Blob being read.
      ['Uint16Array', new Uint16Array([1, 2, 65535]), viewBytes(new Uint16Array([1, 2, 65535]))],
    ];
    for (const [, data] of sent) s.ws.send(data);
    for (const [name, , expected] of sent) {
      const got = await bytesOf(await s.next());
      check(sameBytes(got, expected), `echo of ${name} differs`);
      events.push(`echoed ${name}`);
    }
    await s.close();
  },

  async 'large message'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.ws}/echo`, events);
    await s.open();
    s.ws.binaryType = 'arraybuffer';
    const payload = pseudoRandomBytes(4 * 2 ** 20, 42); // 4 MiB, incompressible
    const text = 'polysocket '.repeat(300_000); // 3.3 MB, compressible
    s.ws.send(payload);
    s.ws.send(text);
    check(sameBytes(await bytesOf(await s.next()), payload), 'the 4 MiB echo differs');
    check((await s.next()) === text, 'the 3.3 MB text echo differs');
    await s.close();
  },

  async 'bulk in order'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.ws}/echo`, events, [], false);
    await s.open();
    s.ws.binaryType = 'arraybuffer';
    const count = 2000;
    for (let i = 0; i < count; i++) {
      if (i % 2 === 0) s.ws.send(`message ${i}`);
      else s.ws.send(encoder.encode(`binary ${i}`));
    }
    for (let i = 0; i < count; i++) {
      const got = await s.next();
      const text = typeof got === 'string' ? got : decoder.decode(await bytesOf(got));
      const expected = i % 2 === 0 ? `message ${i}` : `binary ${i}`;
      check(text === expected && (typeof got === 'string') === (i % 2 === 0), `message ${i} out of order`);
    }
    events.push(`received ${count} messages in order`);
    await s.close();
  },

  async 'close from the client'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.ws}/echo`, events);
    await s.open();
    s.ws.send('last words');
    s.ws.close(4000, 'client done');
    events.push(`after close() readyState=${STATES[s.ws.readyState]}`);
    // Its echo arrives while CLOSING: no message event (only while OPEN).
    const closed = await s.closed;
    check(
      closed.wasClean && closed.code === 4000 && closed.reason === 'client done',
      'not a clean 4000 close',
    );
  },

  async 'close from the server'(env, events) {
    // The server sends one message, then closes with 4001.
    const s = new Session(env.WebSocket, `${env.server.ws}/server-close`, events);
    await s.open();
    check((await s.next()) === 'bye soon', 'the message before the close is missing');
    const closed = await s.closed;
    check(closed.wasClean && closed.code === 4001, 'not a clean 4001 close');
    // Sending once CLOSED is ignored (and counts in bufferedAmount).
    s.ws.send('too late');
    events.push(`send after close: bufferedAmount=${s.ws.bufferedAmount}`);
  },

  async 'handshake rejected (403)'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.ws}/forbidden`, events);
    const closed = await s.closed;
    check(!closed.wasClean && closed.code === 1006, 'expected an unclean 1006 close');
  },

  async 'connection refused'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.refused}/`, events);
    const closed = await s.closed;
    check(!closed.wasClean && closed.code === 1006, 'expected an unclean 1006 close');
  },

  async 'subprotocol negotiation'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.ws}/echo`, events, ['polysocket.v1', 'polysocket.v2']);
    const before = s.ws.protocol;
    check(before === '', 'protocol must be empty before open');
    await s.open();
    events.push(`protocol=${JSON.stringify(s.ws.protocol)}`);
    check(s.ws.protocol === 'polysocket.v2', 'the server picks polysocket.v2');
    await s.close();
    // Offered, but the server picks none: WHATWG fails the connection ("if
    // protocols is not the empty list and [the response's]
    // `Sec-WebSocket-Protocol` [is] null, [...] fail"), as browsers do.
    const t = new Session(env.WebSocket, `${env.server.ws}/echo`, events, ['polysocket.v1']);
    const closed = await t.closed;
    check(!closed.wasClean && closed.code === 1006, 'expected an unclean 1006 close');
  },

  async 'binaryType switching'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.ws}/echo`, events);
    await s.open();
    const bytes = encoder.encode('xyz');
    const receive = async (): Promise<void> => {
      s.ws.send(bytes);
      const data = await s.next();
      check(sameBytes(await bytesOf(data), bytes), 'the echo differs');
    };
    events.push(`binaryType=${s.ws.binaryType}`);
    await receive();
    s.ws.binaryType = 'arraybuffer';
    events.push(`binaryType=${s.ws.binaryType}`);
    await receive();
    s.ws.binaryType = 'nonsense'; // an invalid enum value is ignored
    events.push(`binaryType=${s.ws.binaryType}`);
    await receive();
    s.ws.binaryType = 'blob';
    events.push(`binaryType=${s.ws.binaryType}`);
    await receive();
    await s.close();
  },

  async 'bufferedAmount drains'(env, events) {
    // Echoes are logged in order after the drain, not as they arrive: how
    // soon the first echo comes back relative to the 5 ms polls below
    // depends on the runtime's scheduling, not on polysocket.
    const s = new Session(env.WebSocket, `${env.server.ws}/echo`, events, [], false);
    await s.open();
    s.ws.binaryType = 'arraybuffer';
    events.push(`bufferedAmount=${s.ws.bufferedAmount}`);
    const chunk = pseudoRandomBytes(256 * 1024, 3);
    s.ws.send(chunk);
    s.ws.send(chunk);
    s.ws.send('12345');
    events.push(`after send: bufferedAmount=${s.ws.bufferedAmount}`);
    const deadline = Date.now() + 10_000 * env.timeScale;
    // Polled: the WHATWG API has no event for bufferedAmount going down.
    while (s.ws.bufferedAmount > 0) {
      check(Date.now() < deadline, `bufferedAmount stuck at ${s.ws.bufferedAmount}`);
      await sleep(5);
    }
    events.push(`drained: bufferedAmount=${s.ws.bufferedAmount}`);
    for (const expected of [chunk, chunk, '12345']) {
      const data = await s.next();
      events.push(`message ${describeData(data)}`);
      const same =
        typeof expected === 'string' ? data === expected : sameBytes(await bytesOf(data), expected);
      check(same, `echo of ${describeData(expected)} differs`);
    }
    await s.close();
  },

  async 'backpressure (slow reader)'(env, events) {
    // 16 MiB of incompressible bytes against a server that stops reading
    // for 500 ms: the transport's writes back up (Bun: partial writes and
    // drain; Deno and Node: pending write promises) and bufferedAmount
    // stays up until the server reads again.
    const s = new Session(env.WebSocket, `${env.server.ws}/slow-reader`, events);
    await s.open();
    const payload = pseudoRandomBytes(16 * 2 ** 20, 99);
    s.ws.send(payload);
    events.push(`after send: bufferedAmount=${s.ws.bufferedAmount}`);
    const deadline = Date.now() + 20_000 * env.timeScale;
    while (s.ws.bufferedAmount > 0) {
      check(Date.now() < deadline, `bufferedAmount stuck at ${s.ws.bufferedAmount}`);
      await sleep(10);
    }
    events.push(`drained: bufferedAmount=${s.ws.bufferedAmount}`);
    const report = JSON.parse(String(await s.next())) as { bytes: number; fnv: number };
    check(report.bytes === payload.byteLength, `the server got ${report.bytes} bytes`);
    check(report.fnv === fnv1a(payload), 'the server got other bytes');
    events.push(`server got ${report.bytes} bytes, same hash`);
    await s.close();
  },

  async 'permessage-deflate'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.ws}/echo`, events);
    await s.open();
    events.push(`extensions=${JSON.stringify(s.ws.extensions)}`);
    check(s.ws.extensions.startsWith('permessage-deflate'), 'permessage-deflate was not negotiated');
    const text = 'a'.repeat(2 ** 20);
    s.ws.send(text);
    check((await s.next()) === text, 'the 1 MiB echo differs');
    // The server reports how many bytes its socket read: a compressed 1 MiB
    // of 'a' is about 1 KiB.
    s.ws.send('__stats__');
    const stats = JSON.parse(String(await s.next())) as { bytesRead: number };
    check(stats.bytesRead < 64 * 1024, `the server read ${stats.bytesRead} bytes: not compressed`);
    events.push('compressed on the wire');
    await s.close();
  },

  async 'wss echo (trusted CA)'(env, events) {
    const s = new Session(env.WebSocket, `${env.server.wss}/echo`, events);
    await s.open();
    s.ws.send('over TLS');
    check((await s.next()) === 'over TLS', 'the TLS echo differs');
    await s.close(1000, 'tls done');
  },

  async 'wss untrusted certificate'(env, events) {
    const s = new Session(env.DefaultTrustWebSocket, `${env.server.wss}/echo`, events);
    const closed = await s.closed;
    check(!closed.wasClean && closed.code === 1006, 'expected an unclean 1006 close');
  },
};

/** The scenario names, in the order they run. */
export const SCENARIOS: readonly string[] = Object.keys(scenarios);

/** What runtimes.test.ts passes a runner on its command line. */
export interface RunnerArgs {
  readonly server: ServerInfo;
  readonly timeScale: number;
}

/** The command line of a runner: `<server info JSON> <time scale>`. */
export function runnerArgs(server: ServerInfo, timeScale: number): string[] {
  return [JSON.stringify(server), String(timeScale)];
}

/** Parse the command line that {@link runnerArgs} made. */
export function parseRunnerArgs(args: readonly string[]): RunnerArgs {
  const [json, scale] = args;
  const timeScale = Number(scale);
  if (json === undefined || !(timeScale > 0)) {
    throw new Error('usage: run-<runtime> <server info JSON> <time scale>');
  }
  return { server: JSON.parse(json) as ServerInfo, timeScale };
}

/**
 * Run every scenario in turn, report each result as it comes (by default
 * one JSON line on stdout) and return them all.
 */
export async function runScenarios(
  env: ScenarioEnv,
  report: (result: ScenarioResult) => void = (result) => console.log(JSON.stringify(result)),
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const [name, scenario] of Object.entries(scenarios)) {
    const events: string[] = [];
    const started = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let error: string | undefined;
    const timeoutMs = SCENARIO_TIMEOUT_MS * env.timeScale;
    try {
      await Promise.race([
        scenario(env, events),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ScenarioError(`timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (caught) {
      error = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
    } finally {
      clearTimeout(timer);
    }
    const result: ScenarioResult = {
      runtime: env.runtime,
      scenario: name,
      ok: error === undefined,
      events,
      ...(error === undefined ? {} : { error }),
      ms: Date.now() - started,
    };
    results.push(result);
    report(result);
  }
  return results;
}
