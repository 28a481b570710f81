import { once as onceEvent } from 'node:events';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { recordEvents } from '../testing/memory-transport.js';
import { WebSocket } from '../websocket.js';
import { MAX_GATEWAY_LINE } from './gateway-wire.js';
import type { Transport, TransportTarget } from './transport.js';
import {
  GatewayError,
  type WebTransportConstructor,
  type WebTransportSession,
  webTransportTransport,
} from './webtransport.js';

const te = new TextEncoder();
const td = new TextDecoder();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The gateway's end of one bidirectional stream, after the request line. */
interface GatewayStream {
  readonly request: string;
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Send a line, `\r\n` added. */
  line(text: string): Promise<void>;
}

type Gateway = (stream: GatewayStream) => void | Promise<void>;

/** A scripted in-memory stand-in for the browser's WebTransport and a gateway. */
function fakeWebTransport(gateway: Gateway, behaviour: { ready?: 'ok' | 'fail' } = {}) {
  const sessions: FakeSession[] = [];

  class FakeSession implements WebTransportSession {
    readonly url: string;
    readonly options: Record<string, unknown> | undefined;
    readonly ready: Promise<unknown>;
    readonly closed: Promise<unknown>;
    readonly closeCalls: unknown[] = [];
    streams = 0;
    #closeSession!: (info: unknown) => void;
    #failSession!: (error: Error) => void;

    constructor(url: string, options?: Record<string, unknown>) {
      this.url = url;
      this.options = options;
      sessions.push(this);
      this.ready =
        behaviour.ready === 'fail'
          ? Promise.reject(new Error('Opening handshake failed.'))
          : Promise.resolve(undefined);
      this.closed = new Promise((resolve, reject) => {
        this.#closeSession = resolve;
        this.#failSession = reject;
      });
      if (behaviour.ready === 'fail') this.ready.catch((error: Error) => this.#failSession(error));
    }

    async createBidirectionalStream() {
      await this.ready;
      this.streams++;
      const up = new TransformStream<Uint8Array, Uint8Array>();
      const down = new TransformStream<Uint8Array, Uint8Array>();
      // The client may reset the stream at any point: the script's writes then fail.
      this.#serve(up.readable, down.writable).catch(() => {});
      return { readable: down.readable, writable: up.writable };
    }

    async #serve(readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>) {
      const reader = readable.getReader();
      const writer = writable.getWriter();
      let request = '';
      // Bounded by the test's request lines.
      while (!request.endsWith('\r\n')) {
        const { value, done } = await reader.read();
        if (done) return;
        request += td.decode(value);
      }
      await gateway({
        request: request.slice(0, -2),
        reader,
        writer,
        line: (text) => writer.write(te.encode(`${text}\r\n`)),
      });
    }

    close(info?: unknown) {
      this.closeCalls.push(info);
      this.#closeSession(info);
    }

    /** The gateway closes the session. */
    closeFromGateway(info: unknown) {
      this.#closeSession(info);
    }

    /** The connection is lost. */
    lose(error: Error) {
      this.#failSession(error);
    }
  }

  return { WebTransport: FakeSession as WebTransportConstructor, sessions };
}

/** A gateway that connects every stream and echoes what it receives, half-closing after the client. */
const echoGateway: Gateway = async ({ reader, writer, line }) => {
  await line('200 connected');
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    await writer.write(value);
  }
  await writer.close();
};

const target = (host = '127.0.0.1', port = 8080, secure = false): TransportTarget => ({
  url: `${secure ? 'wss' : 'ws'}://${host.includes(':') ? `[${host}]` : host}:${port}/`,
  host,
  port,
  secure,
});

function closeOf(transport: Transport): Promise<Error | undefined> {
  return new Promise((resolve) => transport.once('close', resolve));
}

describe('webTransportTransport', () => {
  test('sends the request line, opens on 200, echoes, half-closes, and closes the session after', async () => {
    const requests: string[] = [];
    const fake = fakeWebTransport(async (stream) => {
      requests.push(stream.request);
      await echoGateway(stream);
    });
    const factory = webTransportTransport({
      gateway: 'https://127.0.0.1:4433/',
      WebTransport: fake.WebTransport,
    });
    const transport = factory(target());
    const log = recordEvents(transport);
    const closed = closeOf(transport);
    expect(transport.secure).toBe(false);
    expect(transport.supportsHalfClose).toBe(true);
    await new Promise((resolve) => transport.once('open', () => resolve(undefined)));
    await transport.write(te.encode('ping'));
    await transport.end();
    expect(await closed).toBeUndefined();
    expect(log).toEqual(['open', 'data:ping', 'end', 'close']);
    expect(requests).toEqual(['CONNECT 127.0.0.1:8080']);
    expect(fake.sessions).toHaveLength(1);
    expect(fake.sessions[0]?.url).toBe('https://127.0.0.1:4433/');
    expect(fake.sessions[0]?.closeCalls).toEqual([{ closeCode: 0, reason: 'no more streams' }]);
  });

  test('bytes the gateway sent with its status line come first', async () => {
    const fake = fakeWebTransport(async ({ writer }) => {
      await writer.write(te.encode('200 connected\r\nhello'));
      await writer.write(te.encode(' world'));
      await writer.close();
    });
    const transport = webTransportTransport({ gateway: 'https://gw.test/', WebTransport: fake.WebTransport })(
      target(),
    );
    const log = recordEvents(transport);
    await new Promise((resolve) => transport.once('end', () => resolve(undefined)));
    transport.destroy();
    await closeOf(transport);
    expect(log).toEqual(['open', 'data:hello', 'data: world', 'end', 'close']);
  });

  test('one session per gateway and options, shared, closed when its last transport closes', async () => {
    const fake = fakeWebTransport(echoGateway);
    const hash = { algorithm: 'sha-256' as const, value: 'AAEC/w==' };
    const factory = webTransportTransport({
      gateway: 'https://127.0.0.1:4433/',
      serverCertificateHashes: [hash],
      WebTransport: fake.WebTransport,
    });
    const same = webTransportTransport({
      gateway: 'https://127.0.0.1:4433',
      serverCertificateHashes: [{ algorithm: 'sha-256', value: new Uint8Array([0, 1, 2, 255]) }],
      WebTransport: fake.WebTransport,
    });
    const other = webTransportTransport({
      gateway: 'https://127.0.0.1:4433/',
      WebTransport: fake.WebTransport,
    });
    const a = factory(target());
    const b = same(target('localhost', 9000));
    const c = other(target());
    await Promise.all(
      [a, b, c].map((t) => new Promise((resolve) => t.once('open', () => resolve(undefined)))),
    );
    expect(fake.sessions).toHaveLength(2);
    const [shared, separate] = fake.sessions;
    expect(shared?.streams).toBe(2);
    const hashes = shared?.options?.['serverCertificateHashes'] as Array<{
      algorithm: string;
      value: Uint8Array;
    }>;
    expect(hashes.map((h) => [h.algorithm, [...h.value]])).toEqual([['sha-256', [0, 1, 2, 255]]]);
    expect(separate?.options?.['serverCertificateHashes']).toBeUndefined();
    a.destroy();
    await closeOf(a);
    expect(shared?.closeCalls).toEqual([]);
    b.destroy();
    await closeOf(b);
    expect(shared?.closeCalls).toHaveLength(1);
    // The next transport opens a new session.
    const d = factory(target());
    await new Promise((resolve) => d.once('open', () => resolve(undefined)));
    expect(fake.sessions).toHaveLength(3);
    d.destroy();
    c.destroy();
    await Promise.all([closeOf(c), closeOf(d)]);
  });

  test('a refusal by the gateway closes with an Error naming the status, without open', async () => {
    const fake = fakeWebTransport(async ({ line, writer }) => {
      await line('403 target not allowed');
      await writer.close();
    });
    const transport = webTransportTransport({
      gateway: 'https://127.0.0.1:4433/',
      WebTransport: fake.WebTransport,
    })(target('10.0.0.1', 22));
    const log = recordEvents(transport);
    const error = await closeOf(transport);
    expect(error?.message).toBe(
      'gateway https://127.0.0.1:4433/ refused 10.0.0.1:22: 403 target not allowed',
    );
    expect(log).toEqual([`close:${error?.message}`]);
    expect(fake.sessions[0]?.closeCalls).toHaveLength(1);
  });

  test('a session that cannot be opened closes every transport with a clear Error', async () => {
    const fake = fakeWebTransport(echoGateway, { ready: 'fail' });
    const factory = webTransportTransport({
      gateway: 'https://127.0.0.1:1/',
      WebTransport: fake.WebTransport,
    });
    const [a, b] = [factory(target()), factory(target())];
    const errors = await Promise.all([closeOf(a), closeOf(b)]);
    for (const error of errors) {
      expect(error?.message).toBe(
        'WebTransport session to https://127.0.0.1:1/ failed: Opening handshake failed.',
      );
    }
    expect(fake.sessions).toHaveLength(1);
  });

  test('a session closed or lost by the gateway closes its open transports with an Error', async () => {
    const fake = fakeWebTransport(async ({ line }) => {
      await line('200 connected');
    });
    const factory = webTransportTransport({
      gateway: 'https://127.0.0.1:4433/',
      WebTransport: fake.WebTransport,
    });
    const a = factory(target());
    await new Promise((resolve) => a.once('open', () => resolve(undefined)));
    fake.sessions[0]?.closeFromGateway({ closeCode: 7, reason: 'shutting down' });
    expect((await closeOf(a))?.message).toBe(
      'WebTransport session to https://127.0.0.1:4433/ was closed by the gateway: code 7, shutting down',
    );
    const b = factory(target());
    await new Promise((resolve) => b.once('open', () => resolve(undefined)));
    expect(fake.sessions).toHaveLength(2);
    fake.sessions[1]?.lose(new Error('Connection lost.'));
    expect((await closeOf(b))?.message).toBe(
      'WebTransport session to https://127.0.0.1:4433/ failed: Connection lost.',
    );
  });

  test('malformed, missing and overlong status lines fail the transport', async () => {
    const cases: Array<[(stream: GatewayStream) => Promise<void>, string]> = [
      [({ line }) => line('hello'), 'the gateway sent a malformed status line: "hello"'],
      [({ writer }) => writer.close(), 'the gateway ended the stream without a status line'],
      [
        ({ writer }) => writer.write(new Uint8Array(MAX_GATEWAY_LINE).fill(0x41)),
        'the gateway sent a status line that is too long',
      ],
    ];
    for (const [gateway, message] of cases) {
      const fake = fakeWebTransport(gateway);
      const transport = webTransportTransport({
        gateway: 'https://gw.test/',
        WebTransport: fake.WebTransport,
      })(target());
      expect((await closeOf(transport))?.message).toBe(message);
    }
  });

  test('IPv6 targets are sent in brackets', async () => {
    const requests: string[] = [];
    const fake = fakeWebTransport(async (stream) => {
      requests.push(stream.request);
      await echoGateway(stream);
    });
    const transport = webTransportTransport({
      gateway: 'https://[::1]:4433/',
      WebTransport: fake.WebTransport,
    })(target('::1', 8080));
    await new Promise((resolve) => transport.once('open', () => resolve(undefined)));
    transport.destroy();
    await closeOf(transport);
    expect(requests).toEqual(['CONNECT [::1]:8080']);
  });

  test('wss: without tls, a missing WebTransport and a non-https gateway are refused clearly', async () => {
    const fake = fakeWebTransport(echoGateway);
    const factory = webTransportTransport({ gateway: 'https://gw.test/', WebTransport: fake.WebTransport });
    expect((await closeOf(factory(target('127.0.0.1', 443, true))))?.message).toBe(
      "wss: through a WebTransport gateway needs webTransportTransport({ ..., tls: 'gateway' }): the gateway then " +
        "makes the TLS connection and verifies the server's certificate. It is opt-in because the gateway sees " +
        'the plaintext and the page has to trust it to verify (polysocket README, "wss:// through a gateway")',
    );
    expect(() =>
      webTransportTransport({
        gateway: 'https://gw.test/',
        tls: 'page' as never,
        WebTransport: fake.WebTransport,
      }),
    ).toThrow(TypeError);
    const missing = webTransportTransport({ gateway: 'https://gw.test/' })(target());
    expect((await closeOf(missing))?.message).toBe(
      'WebTransport is not available here (it needs a secure context)',
    );
    expect(() => webTransportTransport({ gateway: 'http://gw.test/' })).toThrow(TypeError);
    const throwing = webTransportTransport({
      gateway: 'https://gw.test/',
      WebTransport: class {
        constructor() {
          throw new SyntaxError('bad options');
        }
      } as unknown as WebTransportConstructor,
    })(target());
    expect((await closeOf(throwing))?.message).toBe('bad options');
    expect(fake.sessions).toHaveLength(0);
  });

  test('destroyed before the gateway answered: closes once and releases the session', async () => {
    const fake = fakeWebTransport(() => new Promise<void>(() => {}));
    const transport = webTransportTransport({ gateway: 'https://gw.test/', WebTransport: fake.WebTransport })(
      target(),
    );
    const log = recordEvents(transport);
    await new Promise((resolve) => setTimeout(resolve, 10));
    transport.destroy(new Error('open timeout'));
    expect((await closeOf(transport))?.message).toBe('open timeout');
    expect(log).toEqual(['close:open timeout']);
    expect(fake.sessions[0]?.closeCalls).toHaveLength(1);
  });
});

describe("webTransportTransport with tls: 'gateway'", () => {
  /** A wss: target whose URL names `urlHost`, sent to the gateway as `host` (as the WPT run maps names). */
  const secureTarget = (urlHost = 'ws.example', host = '127.0.0.1', port = 8443): TransportTarget => ({
    url: `wss://${urlHost}:${port}/chat`,
    host,
    port,
    secure: true,
  });

  test('asks for TLS with the URL host as server name; a verified answer opens a secure transport', async () => {
    const requests: string[] = [];
    const fake = fakeWebTransport(async (stream) => {
      requests.push(stream.request);
      await stream.line('200 connected tls verified server-name=ws.example alpn=http/1.1');
      await echoGateway({ ...stream, line: async () => {} });
    });
    const seen: unknown[] = [];
    const factory = webTransportTransport({
      gateway: 'https://gw.test/',
      tls: 'gateway',
      onTls: (info) => seen.push(info),
      WebTransport: fake.WebTransport,
    });
    const transport = factory(secureTarget());
    expect(transport.secure).toBe(true);
    expect(transport.tls).toBeNull();
    const log = recordEvents(transport);
    await new Promise((resolve) => transport.once('open', () => resolve(undefined)));
    const info = {
      verifiedBy: 'https://gw.test/',
      target: '127.0.0.1:8443',
      serverName: 'ws.example',
      alpn: 'http/1.1',
    };
    expect(transport.tls).toEqual(info);
    expect(seen).toEqual([info]);
    expect(requests).toEqual(['CONNECT 127.0.0.1:8443 tls server-name=ws.example alpn=http/1.1']);
    await transport.write(te.encode('plaintext to the gateway'));
    await transport.end();
    expect(await closeOf(transport)).toBeUndefined();
    expect(log).toEqual(['open', 'data:plaintext to the gateway', 'end', 'close']);
    // ws: targets of the same factory stay plain, in the same session.
    const plain = factory(target());
    expect(plain.secure).toBe(false);
    await new Promise((resolve) => plain.once('open', () => resolve(undefined)));
    expect(plain.tls).toBeNull();
    plain.destroy();
    await closeOf(plain);
  });

  test('IPv6 and IP-address hosts are server names without brackets', async () => {
    const requests: string[] = [];
    const fake = fakeWebTransport(async (stream) => {
      requests.push(stream.request);
      await stream.line('200 connected tls verified server-name=::1');
    });
    const factory = webTransportTransport({
      gateway: 'https://gw.test/',
      tls: 'gateway',
      WebTransport: fake.WebTransport,
    });
    const transport = factory({ url: 'wss://[::1]:443/', host: '::1', port: 443, secure: true });
    await new Promise((resolve) => transport.once('open', () => resolve(undefined)));
    expect(transport.tls?.alpn).toBeNull();
    transport.destroy();
    await closeOf(transport);
    expect(requests).toEqual(['CONNECT [::1]:443 tls server-name=::1 alpn=http/1.1']);
  });

  test('a TLS refusal fails with a GatewayError that names the failure in words and as a code', async () => {
    const cases: Array<[string, string, string]> = [
      [
        '502 certificate-expired: invalid peer certificate: certificate expired: verification time 2, but certificate is not valid after 1',
        'certificate-expired',
        "gateway https://gw.test/ refused TLS to 127.0.0.1:8443 as ws.example: the server's certificate has expired: 502 certificate-expired: invalid peer certificate: certificate expired: verification time 2, but certificate is not valid after 1",
      ],
      [
        '502 certificate-host-mismatch: invalid peer certificate: certificate not valid for name "ws.example"',
        'certificate-host-mismatch',
        'gateway https://gw.test/ refused TLS to 127.0.0.1:8443 as ws.example: the server\'s certificate is not valid for ws.example: 502 certificate-host-mismatch: invalid peer certificate: certificate not valid for name "ws.example"',
      ],
      [
        '502 certificate-unknown-issuer: invalid peer certificate: UnknownIssuer',
        'certificate-unknown-issuer',
        "gateway https://gw.test/ refused TLS to 127.0.0.1:8443 as ws.example: the server's certificate is not from a CA the gateway trusts: 502 certificate-unknown-issuer: invalid peer certificate: UnknownIssuer",
      ],
      [
        '504 tls-handshake-timeout: no TLS handshake within 10000 ms',
        'tls-handshake-timeout',
        'gateway https://gw.test/ refused TLS to 127.0.0.1:8443 as ws.example: the TLS handshake with the server timed out: 504 tls-handshake-timeout: no TLS handshake within 10000 ms',
      ],
    ];
    for (const [line, failure, message] of cases) {
      const fake = fakeWebTransport(async (stream) => {
        await stream.line(line);
        await stream.writer.close();
      });
      const transport = webTransportTransport({
        gateway: 'https://gw.test/',
        tls: 'gateway',
        WebTransport: fake.WebTransport,
      })(secureTarget());
      const error = await closeOf(transport);
      expect(error).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).tlsFailure).toBe(failure);
      expect(error?.message).toBe(message);
    }
  });

  test('a gateway of protocol version 1, or one that does not confirm verification, fails the connection', async () => {
    const answers: Array<[string, RegExp]> = [
      [
        '400 malformed request line (expected CONNECT host:port)',
        /^gateway https:\/\/gw\.test\/ refused TLS to 127\.0\.0\.1:8443 as ws\.example: the gateway does not make TLS connections \(it is older than gateway protocol version 2; update it\): 400 /,
      ],
      [
        '200 connected',
        /did not confirm a verified TLS connection to 127\.0\.0\.1:8443 as ws\.example \(it answered "200 connected"\)/,
      ],
      ['200 connected tls server-name=ws.example', /did not confirm a verified TLS connection/],
      ['200 connected tls verified server-name=other.example', /did not confirm a verified TLS connection/],
    ];
    for (const [answer, message] of answers) {
      const fake = fakeWebTransport(async (stream) => {
        await stream.line(answer);
        await echoGateway({ ...stream, line: async () => {} });
      });
      const transport = webTransportTransport({
        gateway: 'https://gw.test/',
        tls: 'gateway',
        WebTransport: fake.WebTransport,
      })(secureTarget());
      const log = recordEvents(transport);
      const error = await closeOf(transport);
      expect(error?.message).toMatch(message);
      expect(log).toEqual([`close:${error?.message}`]);
      expect(fake.sessions[0]?.closeCalls).toHaveLength(1);
    }
  });

  test('onTls throwing refuses the connection with its error', async () => {
    const fake = fakeWebTransport(async (stream) => {
      await stream.line('200 connected tls verified server-name=ws.example');
      await echoGateway({ ...stream, line: async () => {} });
    });
    const transport = webTransportTransport({
      gateway: 'https://gw.test/',
      tls: 'gateway',
      onTls: (info) => {
        if (info.alpn !== 'http/1.1') throw new Error('the server chose no ALPN protocol');
      },
      WebTransport: fake.WebTransport,
    })(secureTarget());
    expect((await closeOf(transport))?.message).toBe('the server chose no ALPN protocol');
    expect(transport.tls).toBeNull();
  });

  test('a WebSocket fails with the reason in its error event, and closes 1006', async () => {
    const fake = fakeWebTransport(async (stream) => {
      await stream.line('502 certificate-expired: invalid peer certificate: certificate expired: x');
      await stream.writer.close();
    });
    const ws = new WebSocket('wss://ws.example:8443/', [], {
      transport: webTransportTransport({
        gateway: 'https://gw.test/',
        tls: 'gateway',
        WebTransport: fake.WebTransport,
      }),
    });
    const error = new Promise<Event>((resolve) => ws.addEventListener('error', resolve));
    const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve as never));
    const event = (await error) as Event & { message: string; error: { kind: string; cause: unknown } };
    expect(event.message).toBe(
      "WebSocket connection to 'wss://ws.example:8443/' failed: gateway https://gw.test/ refused TLS to ws.example:8443 as ws.example: the server's certificate has expired: 502 certificate-expired: invalid peer certificate: certificate expired: x",
    );
    expect(event.error.kind).toBe('transport');
    expect((event.error.cause as GatewayError).tlsFailure).toBe('certificate-expired');
    const close = await closed;
    expect([close.code, close.wasClean]).toEqual([1006, false]);
  });
});

describe('WebSocket over webTransportTransport, through an in-process gateway to a real ws server', () => {
  test('text, binary and close codes round-trip through the transport', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await onceEvent(wss, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'bye') ws.close(4001, 'see you');
        else ws.send(data, { binary: isBinary });
      });
    });
    const port = (wss.address() as net.AddressInfo).port;
    // The fake gateway does what gateway/ does, with Node's sockets: connect
    // to the requested target, then copy both ways, half-closes included.
    const fake = fakeWebTransport(async ({ request, reader, writer, line }) => {
      const match = /^CONNECT (.+):(\d+)$/.exec(request);
      const socket = net.connect({ host: match?.[1] ?? '', port: Number(match?.[2]) });
      cleanups.push(() => void socket.destroy());
      await onceEvent(socket, 'connect');
      await line('200 connected');
      const tcp = Duplex.toWeb(socket) as {
        readable: ReadableStream<Uint8Array>;
        writable: WritableStream<Uint8Array>;
      };
      const tcpWriter = tcp.writable.getWriter();
      const tcpReader = tcp.readable.getReader();
      const pump = async (
        from: ReadableStreamDefaultReader<Uint8Array>,
        to: WritableStreamDefaultWriter<Uint8Array>,
      ) => {
        try {
          for (;;) {
            const { value, done } = await from.read();
            if (done) break;
            await to.write(value);
          }
          await to.close();
        } catch {
          socket.destroy();
        }
      };
      await Promise.all([pump(reader, tcpWriter), pump(tcpReader, writer)]);
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, [], {
      transport: webTransportTransport({
        gateway: 'https://127.0.0.1:4433/',
        WebTransport: fake.WebTransport,
      }),
    });
    ws.binaryType = 'arraybuffer';
    const received: unknown[] = [];
    const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve as never));
    ws.addEventListener('message', (event) => {
      received.push((event as MessageEvent).data);
      if (received.length === 2) ws.send('bye');
    });
    await new Promise((resolve) => ws.addEventListener('open', resolve));
    ws.send('héllo');
    ws.send(new Uint8Array([1, 2, 3]));
    const event = await closed;
    expect(received[0]).toBe('héllo');
    expect([...new Uint8Array(received[1] as ArrayBuffer)]).toEqual([1, 2, 3]);
    expect([event.code, event.reason, event.wasClean]).toEqual([4001, 'see you', true]);
    expect(fake.sessions[0]?.closeCalls).toHaveLength(1);
  });
});
