import { once as onceEvent } from 'node:events';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, test } from 'vitest';
import { concat } from '../testing/chunking.js';
import { recordEvents } from '../testing/memory-transport.js';
import { type OpenedStreams, type StreamPair, StreamsTransport, streamsTransport } from './streams.js';
import type { Transport, TransportTarget } from './transport.js';

const te = new TextEncoder();
const td = new TextDecoder();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Milestone = 'open' | 'end' | 'close';
const milestones = new WeakMap<Transport, Record<Milestone, Promise<Error | undefined>>>();

/** Track `transport`'s open, end and close from its creation, so that {@link once} never misses one. */
function watched<T extends Transport>(transport: T): T {
  const on = (event: Milestone) =>
    new Promise<Error | undefined>((resolve) => transport.once(event, (error?: Error) => resolve(error)));
  milestones.set(transport, { open: on('open'), end: on('end'), close: on('close') });
  return transport;
}

/** Resolves once `event` was emitted (before or after this call), with close's error. */
function once(transport: Transport, event: Milestone): Promise<Error | undefined> {
  const promises = milestones.get(transport);
  if (promises === undefined) throw new Error('not watched');
  return promises[event];
}

/** Let every queued microtask and promise reaction run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Two in-memory pipes: `local` is the transport's pair, `remote` the peer's ends. */
function memoryPipes(): { local: StreamPair; remote: StreamPair } {
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  return {
    local: { readable: down.readable, writable: up.writable },
    remote: { readable: up.readable, writable: down.writable },
  };
}

async function readAll(readable: ReadableStream<Uint8Array>): Promise<string> {
  const reader = readable.getReader();
  let text = '';
  // Bounded by the stream's end.
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += td.decode(value, { stream: true });
  }
}

describe('StreamsTransport over in-memory streams', () => {
  test('emits open, data, end and close in order, never from the constructor', async () => {
    const { local, remote } = memoryPipes();
    const transport = watched(new StreamsTransport(local));
    const log = recordEvents(transport);
    expect(log).toEqual([]);
    expect(transport.supportsHalfClose).toBe(true);
    expect(transport.secure).toBe(false);
    await once(transport, 'open');
    const peerWriter = remote.writable.getWriter();
    await peerWriter.write(te.encode('hello'));
    await peerWriter.close();
    await once(transport, 'end');
    const closed = once(transport, 'close');
    const peerRead = readAll(remote.readable);
    await transport.end();
    expect(await closed).toBeUndefined();
    expect(await peerRead).toBe('');
    expect(log).toEqual(['open', 'data:hello', 'end', 'close']);
    expect(transport.listenerCount('data')).toBe(0);
  });

  test('write() resolves once the sink took the bytes; end() sends end-of-stream after them', async () => {
    const { local, remote } = memoryPipes();
    const transport = watched(new StreamsTransport(local));
    await once(transport, 'open');
    const peerRead = readAll(remote.readable);
    await Promise.all([transport.write(te.encode('one ')), transport.write(te.encode('two'))]);
    await transport.end();
    expect(await peerRead).toBe('one two');
    await expect(transport.write(te.encode('late'))).rejects.toThrow('write after end');
    // Reading goes on after our half-close, until the peer ends too.
    const log = recordEvents(transport);
    const peerWriter = remote.writable.getWriter();
    await peerWriter.write(te.encode('reply'));
    await peerWriter.close();
    expect(await once(transport, 'close')).toBeUndefined();
    expect(log).toEqual(['data:reply', 'end', 'close']);
  });

  test('the peer ending first leaves writing possible until end()', async () => {
    const { local, remote } = memoryPipes();
    const transport = watched(new StreamsTransport(local));
    const log = recordEvents(transport);
    await once(transport, 'open');
    await remote.writable.close();
    await once(transport, 'end');
    const peerRead = readAll(remote.readable);
    await transport.write(te.encode('after peer end'));
    await transport.end();
    await settle();
    expect(await peerRead).toBe('after peer end');
    expect(log).toEqual(['open', 'end', 'close']);
  });

  test('accepts a promise of the pair: open once it resolves', async () => {
    const { local } = memoryPipes();
    let resolve!: (pair: OpenedStreams) => void;
    const transport = watched(new StreamsTransport(new Promise<OpenedStreams>((r) => (resolve = r))));
    const log = recordEvents(transport);
    await expect(transport.write(te.encode('x'))).rejects.toThrow('write before open');
    await settle();
    expect(log).toEqual([]);
    resolve(local);
    await once(transport, 'open');
    transport.destroy();
    await once(transport, 'close');
    expect(log).toEqual(['open', 'close']);
  });

  test('a rejected opener closes with its error and without open', async () => {
    const transport = watched(new StreamsTransport(Promise.reject(new Error('refused'))));
    const log = recordEvents(transport);
    const error = await once(transport, 'close');
    expect(error?.message).toBe('refused');
    expect(log).toEqual(['close:refused']);
  });

  test('head bytes come first, before what is read from the stream', async () => {
    const { local, remote } = memoryPipes();
    const transport = watched(new StreamsTransport({ ...local, head: te.encode('head,') }));
    const log = recordEvents(transport);
    const writer = remote.writable.getWriter();
    await writer.write(te.encode('body'));
    await writer.close();
    await once(transport, 'end');
    expect(log).toEqual(['open', 'data:head,', 'data:body', 'end']);
    transport.destroy();
  });

  test('destroy() cancels the readable and aborts the writable; close follows asynchronously, once', async () => {
    const { local, remote } = memoryPipes();
    const transport = watched(new StreamsTransport(local));
    const log = recordEvents(transport);
    await once(transport, 'open');
    const peerRead = remote.readable.getReader().read();
    const peerWrite = remote.writable.getWriter().closed;
    const error = new Error('gone');
    transport.destroy(error);
    transport.destroy(new Error('again'));
    expect(log).toEqual(['open']);
    expect(await once(transport, 'close')).toBe(error);
    await expect(peerRead).rejects.toBe(error);
    await expect(peerWrite).rejects.toBe(error);
    await settle();
    expect(log).toEqual(['open', 'close:gone']);
    await expect(transport.write(te.encode('x'))).rejects.toThrow('write after close');
    await transport.end(); // never rejects
  });

  test('destroy() without an error closes without one', async () => {
    const { local } = memoryPipes();
    const transport = watched(new StreamsTransport(local));
    await once(transport, 'open');
    transport.destroy();
    expect(await once(transport, 'close')).toBeUndefined();
  });

  test('destroy() rejects pending writes, even when the sink never answers', async () => {
    const stuck = new WritableStream<Uint8Array>({ write: () => new Promise<void>(() => {}) });
    const transport = watched(new StreamsTransport({ readable: new ReadableStream(), writable: stuck }));
    await once(transport, 'open');
    const first = transport.write(te.encode('a'));
    const second = transport.write(te.encode('b'));
    transport.destroy(new Error('timeout'));
    await expect(first).rejects.toThrow('timeout');
    await expect(second).rejects.toThrow('timeout');
  });

  test('destroyed while connecting: close once, no open, and the late pair is released', async () => {
    const { local, remote } = memoryPipes();
    let resolve!: (pair: OpenedStreams) => void;
    const transport = watched(new StreamsTransport(new Promise<OpenedStreams>((r) => (resolve = r))));
    const log = recordEvents(transport);
    transport.destroy();
    await once(transport, 'close');
    resolve(local);
    await expect(remote.readable.getReader().read()).rejects.toThrow('transport destroyed');
    await settle();
    expect(log).toEqual(['close']);
  });

  test('end() before open closes the transport', async () => {
    const transport = watched(new StreamsTransport(new Promise<OpenedStreams>(() => {})));
    const log = recordEvents(transport);
    await transport.end();
    await settle();
    expect(log).toEqual(['close']);
  });

  test('no event is emitted synchronously from write(), end() or destroy()', async () => {
    const { local, remote } = memoryPipes();
    const transport = watched(new StreamsTransport(local));
    const log = recordEvents(transport);
    await once(transport, 'open');
    void remote.readable.pipeTo(new WritableStream());
    await remote.writable.close();
    await once(transport, 'end');
    void transport.write(te.encode('x'));
    const ended = transport.end();
    expect(log).toEqual(['open', 'end']);
    await ended;
    await once(transport, 'close');
    expect(log).toEqual(['open', 'end', 'close']);

    const other = watched(new StreamsTransport(memoryPipes().local));
    const otherLog = recordEvents(other);
    await once(other, 'open');
    other.destroy(new Error('now'));
    expect(otherLog).toEqual(['open']);
    await once(other, 'close');
    expect(otherLog).toEqual(['open', 'close:now']);
  });

  test('a read error closes with that error and without end', async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const readable = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const transport = watched(new StreamsTransport({ readable, writable: new WritableStream() }));
    const log = recordEvents(transport);
    await once(transport, 'open');
    controller.enqueue(te.encode('partial'));
    controller.error(new Error('connection reset'));
    expect((await once(transport, 'close'))?.message).toBe('connection reset');
    expect(log).toEqual(['open', 'data:partial', 'close:connection reset']);
  });

  test('a failed write rejects and closes the transport with its error', async () => {
    const writable = new WritableStream<Uint8Array>({
      write: () => Promise.reject(new Error('broken pipe')),
    });
    const transport = watched(new StreamsTransport({ readable: new ReadableStream(), writable }));
    await once(transport, 'open');
    const closed = once(transport, 'close');
    await expect(transport.write(te.encode('x'))).rejects.toThrow('broken pipe');
    expect((await closed)?.message).toBe('broken pipe');
  });

  test('chunks are handed on as plain Uint8Arrays, without copying; other values fail', async () => {
    const source = new Uint8Array([1, 2, 3]);
    const buffer = Buffer.from([4, 5]);
    const view = new DataView(new Uint8Array([9, 6, 7]).buffer, 1, 2);
    const chunks: unknown[] = [source, new Uint8Array([8]).buffer, buffer, view, new Uint8Array(0), 'text'];
    const readable = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk as Uint8Array);
      },
    });
    const transport = watched(new StreamsTransport({ readable, writable: new WritableStream() }));
    const received: Uint8Array[] = [];
    transport.on('data', (chunk) => received.push(chunk));
    const error = await once(transport, 'close');
    expect(error).toBeInstanceOf(TypeError);
    expect(received[0]).toBe(source);
    expect(received.map((chunk) => [chunk.constructor.name, ...chunk])).toEqual([
      ['Uint8Array', 1, 2, 3],
      ['Uint8Array', 8],
      ['Uint8Array', 4, 5],
      ['Uint8Array', 6, 7],
    ]);
  });

  test('without half-close, end() flushes, closes the writer, stops reading and closes', async () => {
    const { local, remote } = memoryPipes();
    const transport = watched(new StreamsTransport(local, { supportsHalfClose: false }));
    expect(transport.supportsHalfClose).toBe(false);
    const log = recordEvents(transport);
    await once(transport, 'open');
    const peerRead = readAll(remote.readable);
    void transport.write(te.encode('last words'));
    await transport.end();
    expect(await once(transport, 'close')).toBeUndefined();
    expect(await peerRead).toBe('last words');
    // The peer never ended: its writes now fail, as after the socket closed.
    await expect(remote.writable.getWriter().write(te.encode('ignored'))).rejects.toBeUndefined();
    expect(log).toEqual(['open', 'close']);
  });

  test('closeWrite and onClose hooks: custom half-close, then cleanup with the locks released', async () => {
    const { local, remote } = memoryPipes();
    const calls: string[] = [];
    const transport = watched(
      new StreamsTransport(local, {
        secure: true,
        closeWrite: async (writer) => {
          calls.push('closeWrite');
          writer.releaseLock();
          await local.writable.close();
        },
        onClose: (error) => {
          calls.push(`onClose:${error?.message ?? ''}:${local.readable.locked}:${local.writable.locked}`);
        },
      }),
    );
    expect(transport.secure).toBe(true);
    transport.on('close', () => calls.push('close'));
    await once(transport, 'open');
    const peerRead = readAll(remote.readable);
    await transport.write(te.encode('data'));
    await transport.end();
    expect(await peerRead).toBe('data');
    await remote.writable.close();
    await once(transport, 'close');
    expect(calls).toEqual(['closeWrite', 'onClose::false:false', 'close']);
  });

  test('a throwing onClose hook does not keep close from being emitted', async () => {
    const { local } = memoryPipes();
    const transport = watched(
      new StreamsTransport(local, {
        onClose: () => {
          throw new Error('hook failed');
        },
      }),
    );
    await once(transport, 'open');
    transport.destroy(new Error('bye'));
    expect((await once(transport, 'close'))?.message).toBe('bye');
  });

  test('a failing closeWrite closes with its error', async () => {
    const { local } = memoryPipes();
    const transport = watched(
      new StreamsTransport(local, {
        closeWrite: () => Promise.reject(new Error('cannot half-close')),
      }),
    );
    await once(transport, 'open');
    const closed = once(transport, 'close');
    await transport.end();
    expect((await closed)?.message).toBe('cannot half-close');
  });

  test('end() after the peer stopped our sending (writable errored) closes with that error', async () => {
    let controller!: WritableStreamDefaultController;
    const writable = new WritableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const transport = watched(new StreamsTransport({ readable: new ReadableStream(), writable }));
    await once(transport, 'open');
    controller.error(new Error('STOP_SENDING'));
    await settle();
    await transport.end();
    expect((await once(transport, 'close'))?.message).toBe('STOP_SENDING');
  });

  test('a listener may destroy the transport from inside open or data', async () => {
    const { local, remote } = memoryPipes();
    const transport = watched(new StreamsTransport({ ...local, head: te.encode('first') }));
    const log = recordEvents(transport);
    transport.once('data', () => transport.destroy());
    const writer = remote.writable.getWriter();
    void writer.write(te.encode('second')).catch(() => {});
    await once(transport, 'close');
    await settle();
    expect(log).toEqual(['open', 'data:first', 'close']);
  });
});

describe('streamsTransport() factory', () => {
  const target: TransportTarget = {
    url: 'ws://example.test:8080/',
    host: 'example.test',
    port: 8080,
    secure: false,
  };

  test('opens a pair per target with the options', async () => {
    const { local } = memoryPipes();
    const seen: TransportTarget[] = [];
    const factory = streamsTransport(
      (t) => {
        seen.push(t);
        return local;
      },
      { supportsHalfClose: false },
    );
    const transport = watched(factory(target));
    expect(transport.supportsHalfClose).toBe(false);
    await once(transport, 'open');
    expect(seen).toEqual([target]);
    transport.destroy();
  });

  test('a throwing connect closes the transport with the error', async () => {
    const transport = watched(
      streamsTransport(() => {
        throw new Error('no route');
      })(target),
    );
    const log = recordEvents(transport);
    expect((await once(transport, 'close'))?.message).toBe('no route');
    expect(log).toEqual(['close:no route']);
  });
});

// Node 20's Duplex.toWeb(net.Socket), over real loopback TCP, with its quirks:
// writes resolve before 'connect', backpressure shows only in the write()
// promise, and with allowHalfOpen:true the peer's FIN is not reported.
describe('StreamsTransport over Duplex.toWeb(net.Socket)', () => {
  async function listen(handler: (socket: net.Socket) => void, allowHalfOpen = false): Promise<number> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ allowHalfOpen }, (socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
      handler(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return (server.address() as net.AddressInfo).port;
  }

  /**
   * Connect, then convert: a socket handed to toWeb() before 'connect' may
   * resolve writes that never leave, so wait for the outcome.
   * The default allowHalfOpen:false is deliberate: with true, Node 20's
   * readable does not report the peer's FIN until our side ends too.
   */
  async function connectWeb(port: number): Promise<OpenedStreams & { socket: net.Socket }> {
    const socket = net.connect({ host: '127.0.0.1', port });
    cleanups.push(() => void socket.destroy());
    await onceEvent(socket, 'connect');
    const { readable, writable } = Duplex.toWeb(socket);
    return {
      socket,
      readable: readable as ReadableStream<Uint8Array>,
      writable: writable as WritableStream<Uint8Array>,
    };
  }

  test('echoes 1 MiB, half-closes with a real FIN, then reads the rest and closes cleanly', async () => {
    let serverSawEnd = false;
    const port = await listen((socket) => {
      socket.on('end', () => (serverSawEnd = true));
      socket.pipe(socket); // ends its side after ours: a half-close round trip
    }, true);
    const transport = watched(new StreamsTransport(connectWeb(port)));
    const received: Uint8Array[] = [];
    transport.on('data', (chunk) => received.push(chunk));
    const log = recordEvents(transport);
    await once(transport, 'open');
    const data = new Uint8Array(2 ** 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < data.length; i += 50_000) writes.push(transport.write(data.subarray(i, i + 50_000)));
    await Promise.all(writes);
    const closed = once(transport, 'close');
    await transport.end();
    expect(await closed).toBeUndefined();
    expect(serverSawEnd).toBe(true);
    for (const chunk of received) expect(chunk.constructor).toBe(Uint8Array);
    // Compared with Buffer.compare: toEqual is slow on a MiB of elements.
    expect(Buffer.compare(concat(received), data)).toBe(0);
    expect(log.filter((entry) => !entry.startsWith('data:'))).toEqual(['open', 'end', 'close']);
  });

  test('server speaks first and closes: data, end; then end() closes without error', async () => {
    const port = await listen((socket) => socket.end('hello from tcp\n'));
    const transport = watched(new StreamsTransport(connectWeb(port)));
    const log = recordEvents(transport);
    await once(transport, 'end');
    const closed = once(transport, 'close');
    await transport.end();
    expect(await closed).toBeUndefined();
    expect(log).toEqual(['open', 'data:hello from tcp\n', 'end', 'close']);
  });

  test('a peer reset closes with ECONNRESET', async () => {
    const port = await listen((socket) => setTimeout(() => socket.resetAndDestroy(), 20));
    const transport = watched(new StreamsTransport(connectWeb(port)));
    const log = recordEvents(transport);
    const error = await once(transport, 'close');
    expect((error as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNRESET');
    expect(log).toEqual(['open', `close:${error?.message}`]);
  });

  test('connection refused: the opener rejects and the transport closes without open', async () => {
    const port = await listen(() => {});
    cleanups.splice(0).forEach((cleanup) => void cleanup()); // close the server: nothing listens
    await settle();
    const transport = watched(new StreamsTransport(connectWeb(port)));
    const log = recordEvents(transport);
    const error = await once(transport, 'close');
    expect((error as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNREFUSED');
    expect(log).toEqual([`close:${error?.message}`]);
  });

  test('writes to a peer that never reads stay pending (backpressure); destroy() rejects them', async () => {
    const port = await listen((socket) => socket.pause());
    const opened = await connectWeb(port);
    const transport = watched(new StreamsTransport(opened));
    await once(transport, 'open');
    const chunk = new Uint8Array(2 ** 16);
    let accepted = 0;
    let pending: Promise<void> | null = null;
    // Bounded: 64 MiB at most, far beyond loopback socket buffers.
    for (let i = 0; i < 1024 && pending === null; i++) {
      const write = transport.write(chunk);
      const outcome = await Promise.race([
        write.then(() => 'ok'),
        new Promise<string>((resolve) => setTimeout(() => resolve('pending'), 200)),
      ]);
      if (outcome === 'pending') pending = write;
      else accepted += chunk.byteLength;
    }
    expect(pending).not.toBeNull();
    expect(accepted).toBeLessThan(64 * 2 ** 20);
    transport.destroy(new Error('stuck'));
    await expect(pending).rejects.toThrow('stuck');
    await once(transport, 'close');
    expect(opened.socket.destroyed).toBe(true);
  });

  test('destroy() closes the socket: the server sees the connection end', async () => {
    let serverClosed!: Promise<unknown>;
    const port = await listen((socket) => {
      socket.resume();
      serverClosed = onceEvent(socket, 'close');
    });
    const transport = watched(new StreamsTransport(connectWeb(port)));
    await once(transport, 'open');
    transport.destroy();
    expect(await once(transport, 'close')).toBeUndefined();
    await serverClosed;
  });
});

describe('StreamsTransport flow control', () => {
  test('pause() stops pulling from the readable until resume(); destroy() ends a paused read loop', async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const readable = new ReadableStream<Uint8Array>(
      { start: (c) => void (controller = c) },
      { highWaterMark: 0 },
    );
    const writable = new WritableStream<Uint8Array>();
    const transport = new StreamsTransport({ readable, writable });
    const received: number[] = [];
    transport.on('data', (chunk) => received.push(chunk[0]!));
    await onceEvent(transport as never, 'open');
    controller.enqueue(Uint8Array.of(1));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(received).toEqual([1]);
    transport.pause();
    controller.enqueue(Uint8Array.of(2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The loop may hold one read it had started before pause(); nothing more.
    expect(received.length).toBeLessThanOrEqual(2);
    controller.enqueue(Uint8Array.of(3));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received.length).toBeLessThanOrEqual(2);
    transport.resume();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received).toEqual([1, 2, 3]);
    transport.pause();
    const closed = onceEvent(transport as never, 'close');
    transport.destroy();
    await closed;
  });
});

describe('StreamsTransport reading in place (byte streams)', () => {
  /**
   * A byte stream serving `chunks` in order, as Chromium's Direct Sockets and
   * WebTransport readables do: a BYOB read gets at most its view's length
   * of the current chunk, a default read the rest of it.
   */
  function byteStream(chunks: Uint8Array[]): { readable: ReadableStream<Uint8Array>; byobReads: number[] } {
    const queue = chunks.map((chunk) => chunk.slice());
    const byobReads: number[] = [];
    const readable = new ReadableStream({
      type: 'bytes',
      pull(controller) {
        const chunk = queue[0];
        if (chunk === undefined) {
          controller.close();
          controller.byobRequest?.respond(0);
          return;
        }
        const view = controller.byobRequest?.view;
        if (view instanceof Uint8Array) {
          const count = Math.min(view.byteLength, chunk.byteLength);
          view.set(chunk.subarray(0, count));
          if (count === chunk.byteLength) queue.shift();
          else queue[0] = chunk.subarray(count);
          byobReads.push(count);
          controller.byobRequest!.respond(count);
        } else {
          queue.shift();
          controller.enqueue(chunk.slice());
        }
      },
    });
    return { readable, byobReads };
  }

  function pattern(size: number, start = 0): Uint8Array<ArrayBuffer> {
    return Uint8Array.from({ length: size }, (_, i) => (start + i) % 251);
  }

  /**
   * A reader that assembles a `size`-byte region from the second chunk on,
   * as the protocol does: after a BYOB read transferred it, the region is
   * the same place in the buffer of the chunk the read returned.
   */
  function regionReader(transport: StreamsTransport, size: number) {
    const first = new Uint8Array(size);
    let region = first;
    let filled = 0;
    let chunkCount = 0;
    const chunks: Uint8Array[] = [];
    transport.readTarget = () => (chunkCount >= 1 && filled < size ? region.subarray(filled) : null);
    transport.on('data', (chunk: Uint8Array) => {
      chunkCount++;
      chunks.push(chunk.slice());
      if (region.byteLength === 0) region = new Uint8Array(chunk.buffer as ArrayBuffer, 0, size);
      if (chunkCount >= 2 && filled < size) filled += Math.min(chunk.byteLength, size - filled);
    });
    return { region: first, chunks };
  }

  test('reads into readTarget with a BYOB reader (its buffer transferred), then goes back to default reads', async () => {
    const wire = pattern(200_000);
    const script = [wire.subarray(0, 10_000), wire.subarray(10_000, 150_000), wire.subarray(150_000)];
    const { readable, byobReads } = byteStream(script);
    const transport = watched(new StreamsTransport({ readable, writable: new WritableStream() }));
    const { region, chunks } = regionReader(transport, 100_000);
    const emitted: Uint8Array[] = [];
    transport.on('data', (chunk: Uint8Array) => emitted.push(chunk));
    await once(transport, 'end');
    expect(concat(chunks)).toEqual(wire);
    // The 100,000-byte target took the first 100,000 bytes of the second
    // chunk; the rest came in the stream's own chunks.
    expect(byobReads).toEqual([100_000]);
    expect(region.byteLength).toBe(0); // detached: transferred by the read
    expect([emitted[1]!.byteOffset, emitted[1]!.byteLength, emitted[1]!.buffer.byteLength]).toEqual([
      0, 100_000, 100_000,
    ]);
    expect(emitted.map((chunk) => chunk.byteLength)).toEqual([10_000, 100_000, 40_000, 50_000]);
    transport.end();
    await once(transport, 'close');
  });

  test('a BYOB read waits for its whole target (min): one data event for a target filled by many chunks', async () => {
    const wire = pattern(400_000);
    const parts: Uint8Array[] = [wire.subarray(0, 10_000)];
    for (let at = 10_000; at < wire.byteLength; at += 7_000) parts.push(wire.subarray(at, at + 7_000));
    const { readable, byobReads } = byteStream(parts);
    const transport = watched(new StreamsTransport({ readable, writable: new WritableStream() }));
    const { chunks } = regionReader(transport, 300_000);
    const sizes: number[] = [];
    transport.on('data', (chunk: Uint8Array) => sizes.push(chunk.byteLength));
    await once(transport, 'end');
    expect(concat(chunks)).toEqual(wire);
    expect(sizes.slice(0, 2)).toEqual([10_000, 300_000]);
    expect(byobReads.length).toBeGreaterThan(40); // the stream filled it from its 7,000-byte chunks
    transport.end();
    await once(transport, 'close');
  });

  test('byobMin: false reads the target chunk by chunk (for streams that mishandle min)', async () => {
    const wire = pattern(100_000);
    const parts: Uint8Array[] = [wire.subarray(0, 10_000)];
    for (let at = 10_000; at < wire.byteLength; at += 15_000) parts.push(wire.subarray(at, at + 15_000));
    const { readable, byobReads } = byteStream(parts);
    const transport = watched(
      new StreamsTransport({ readable, writable: new WritableStream() }, { byobMin: false }),
    );
    const { chunks } = regionReader(transport, 90_000);
    await once(transport, 'end');
    expect(concat(chunks)).toEqual(wire);
    expect(chunks.map((chunk) => chunk.byteLength)).toEqual([
      10_000, 15_000, 15_000, 15_000, 15_000, 15_000, 15_000,
    ]);
    // The target shrinks below 64 KiB after the second read: default reads from there.
    expect(byobReads).toEqual([15_000, 15_000]);
    transport.end();
    await once(transport, 'close');
  });

  test('the stream ending during a BYOB read: the bytes it got are emitted before end', async () => {
    const wire = pattern(150_000);
    const { readable } = byteStream([wire.subarray(0, 10_000), wire.subarray(10_000)]);
    const transport = watched(new StreamsTransport({ readable, writable: new WritableStream() }));
    const { chunks } = regionReader(transport, 300_000); // more than the stream will ever send
    const events: string[] = [];
    transport.on('data', (chunk: Uint8Array) => events.push(`data ${chunk.byteLength}`));
    transport.on('end', () => events.push('end'));
    await once(transport, 'end');
    expect(events).toEqual(['data 10000', 'data 140000', 'end']);
    expect(concat(chunks)).toEqual(wire);
    transport.end();
    await once(transport, 'close');
  });

  test('a target under 64 KiB is not read into: the rest comes with what follows, in one chunk', async () => {
    const wire = pattern(30_000);
    const { readable, byobReads } = byteStream([wire.subarray(0, 20_000), wire.subarray(20_000)]);
    const transport = watched(new StreamsTransport({ readable, writable: new WritableStream() }));
    const { region, chunks } = regionReader(transport, 10_000);
    await once(transport, 'end');
    expect(concat(chunks)).toEqual(wire);
    expect(byobReads).toEqual([]);
    expect(region.byteLength).toBe(10_000); // never transferred
    transport.end();
    await once(transport, 'close');
  });

  test('a readable that is not a byte stream is read as before, the target left alone', async () => {
    const wire = pattern(200_000);
    const parts = [wire.subarray(0, 10_000), wire.subarray(10_000)];
    const readable = new ReadableStream<Uint8Array>({
      pull(controller) {
        const part = parts.shift();
        if (part === undefined) controller.close();
        else controller.enqueue(part.slice());
      },
    });
    const transport = watched(new StreamsTransport({ readable, writable: new WritableStream() }));
    const { region, chunks } = regionReader(transport, 100_000);
    await once(transport, 'end');
    expect(concat(chunks)).toEqual(wire);
    expect(region.byteLength).toBe(100_000);
    transport.end();
    await once(transport, 'close');
  });

  test('destroy() while a BYOB read is pending cancels the readable and closes once', async () => {
    let pulls = 0;
    let cancelled: unknown = 'not cancelled';
    const readable = new ReadableStream({
      type: 'bytes',
      pull(controller) {
        pulls++;
        // The first read gets a chunk; the BYOB read after it never gets an answer.
        if (pulls === 1) controller.enqueue(pattern(10_000));
        return new Promise<void>(() => {});
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    const transport = watched(new StreamsTransport({ readable, writable: new WritableStream() }));
    const region = new Uint8Array(100_000);
    let received = 0;
    transport.on('data', (chunk: Uint8Array) => {
      received += chunk.byteLength;
    });
    transport.readTarget = () => (received > 0 ? region : null);
    await once(transport, 'open');
    for (let i = 0; i < 100 && region.byteLength > 0; i++) await settle();
    expect(region.byteLength).toBe(0); // the BYOB read is pending with it
    const error = new Error('going away');
    transport.destroy(error);
    expect(await once(transport, 'close')).toBe(error);
    expect(cancelled).toBe(error);
  });
});
