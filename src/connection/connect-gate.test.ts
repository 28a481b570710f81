import { describe, expect, test, vi } from 'vitest';
import { memoryServer } from '../testing/memory-server.js';
import { type MemoryTransport, memoryTransportPair, recordEvents } from '../testing/memory-transport.js';
import type { Transport, TransportFactory, TransportTarget } from '../transports/transport.js';
import { WebSocket } from '../websocket.js';
import { connectThroughGate } from './connect-gate.js';

const target = (host: string, port = 80): TransportTarget => ({
  url: `ws://${host}:${port}/`,
  host,
  port,
  secure: false,
});

/** A factory that records which targets it was called for, with ends that open only when told. */
function recordingFactory() {
  const calls: string[] = [];
  const servers: Transport[] = [];
  const factory: TransportFactory = (t) => {
    calls.push(`${t.host}:${t.port}`);
    const [client, server] = memoryTransportPair({ autoOpen: false });
    servers.push(server);
    return client;
  };
  return { factory, calls, servers };
}

const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe('connectThroughGate (RFC 6455 4.1: one connection CONNECTING per host and port)', () => {
  test('the first connection to a host starts at once, the next waits for its release', () => {
    const { factory, calls } = recordingFactory();
    const first = connectThroughGate(target('gate-a.test'), factory);
    const second = connectThroughGate(target('gate-a.test'), factory);
    const third = connectThroughGate(target('GATE-A.test'), factory);
    expect(calls).toEqual(['gate-a.test:80']);
    first.release();
    expect(calls).toEqual(['gate-a.test:80', 'gate-a.test:80']);
    first.release(); // idempotent: does not start the third
    expect(calls).toHaveLength(2);
    second.release();
    expect(calls).toEqual(['gate-a.test:80', 'gate-a.test:80', 'GATE-A.test:80']);
    third.release();
    // The queue is empty: the next connection starts at once.
    const fourth = connectThroughGate(target('gate-a.test'), factory);
    expect(calls).toHaveLength(4);
    fourth.release();
  });

  test('other hosts and other ports do not wait', () => {
    const { factory, calls } = recordingFactory();
    const a = connectThroughGate(target('gate-b.test'), factory);
    const b = connectThroughGate(target('gate-b.test', 8080), factory);
    const c = connectThroughGate(target('gate-c.test'), factory);
    expect(calls).toEqual(['gate-b.test:80', 'gate-b.test:8080', 'gate-c.test:80']);
    for (const gated of [a, b, c]) gated.release();
  });

  test('a waiting connection that gives up leaves the queue without ever connecting', async () => {
    const { factory, calls } = recordingFactory();
    const first = connectThroughGate(target('gate-d.test'), factory);
    const waiting = connectThroughGate(target('gate-d.test'), factory);
    const last = connectThroughGate(target('gate-d.test'), factory);
    const events = recordEvents(waiting.transport);
    waiting.transport.destroy(new Error('gave up'));
    waiting.release();
    await settle();
    expect(events).toEqual(['close:gave up']);
    first.release();
    // The one behind it starts; the one that gave up never called the factory.
    expect(calls).toEqual(['gate-d.test:80', 'gate-d.test:80']);
    last.release();
  });

  test('a waiting transport forwards events, writes and flow control once started', async () => {
    const ends: MemoryTransport[][] = [];
    const factory: TransportFactory = () => {
      const pair = memoryTransportPair({ autoOpen: false });
      ends.push(pair);
      return pair[0];
    };
    const first = connectThroughGate(target('gate-e.test'), factory);
    const second = connectThroughGate(target('gate-e.test'), factory);
    const events = recordEvents(second.transport);
    second.transport.pause();
    await expect(second.transport.write(new Uint8Array(1))).rejects.toThrow('not connected');
    expect(second.transport.supportsHalfClose).toBe(false);
    first.release();
    const [client, server] = ends[1]!;
    const paused = vi.spyOn(client!, 'resume');
    server!.open();
    client!.open();
    await settle();
    expect(second.transport.supportsHalfClose).toBe(client!.supportsHalfClose);
    const received = recordEvents(server!);
    await second.transport.write(new TextEncoder().encode('ping'));
    await server!.write(new TextEncoder().encode('pong'));
    second.transport.resume();
    expect(paused).toHaveBeenCalledOnce();
    await second.transport.end();
    await server!.end();
    await settle();
    expect(received).toEqual(['data:ping', 'end', 'close']);
    expect(events).toEqual(['open', 'data:pong', 'end', 'close']);
    second.release();
  });

  test('a factory that throws for a waiting connection closes it with the error', async () => {
    const { factory } = recordingFactory();
    const first = connectThroughGate(target('gate-f.test'), factory);
    const second = connectThroughGate(target('gate-f.test'), () => {
      throw new Error('no route');
    });
    const third = connectThroughGate(target('gate-f.test'), factory);
    const events = recordEvents(second.transport);
    first.release();
    await settle();
    expect(events).toEqual(['close:no route']);
    second.release();
    third.release();
  });

  test('a factory that throws for the first connection throws, and frees the host', () => {
    const { factory, calls } = recordingFactory();
    expect(() =>
      connectThroughGate(target('gate-g.test'), () => {
        throw new TypeError('bad options');
      }),
    ).toThrow('bad options');
    connectThroughGate(target('gate-g.test'), factory).release();
    expect(calls).toEqual(['gate-g.test:80']);
  });
});

describe('WebSocket connections to one host', () => {
  test('the second connection starts once the first one is established', async () => {
    const server = memoryServer();
    const order: string[] = [];
    const factory: TransportFactory = (t) => {
      // The state of the first server connection when the next one starts.
      const previous = server.connections.at(-1);
      order.push(
        `connect ${server.connections.length + 1}${previous ? ` (first: ${previous.protocol.state})` : ''}`,
      );
      return server.factory(t);
    };
    const first = new WebSocket('ws://serial.test/', [], { transport: factory });
    const second = new WebSocket('ws://serial.test/', [], { transport: factory });
    first.onopen = () => order.push('open 1');
    const opened = new Promise<void>((resolve) => {
      second.onopen = () => {
        order.push('open 2');
        resolve();
      };
    });
    expect(order).toEqual(['connect 1']);
    await opened;
    // State.OPEN is 1: the first handshake completed before the second connected.
    expect(order).toEqual(['connect 1', 'connect 2 (first: 1)', 'open 1', 'open 2']);
    const closed = Promise.all(
      [first, second].map((ws) => new Promise((resolve) => ws.addEventListener('close', resolve))),
    );
    first.close();
    second.close();
    await closed;
  });

  test('a connection that fails lets the next one connect', async () => {
    const server = memoryServer();
    let calls = 0;
    const factory: TransportFactory = (t) => {
      calls += 1;
      if (calls === 1) {
        const [client, peer] = memoryTransportPair();
        // The first server refuses: it closes the byte stream on connect.
        peer.on('open', () => peer.destroy());
        return client;
      }
      return server.factory(t);
    };
    const first = new WebSocket('ws://serial-fail.test/', [], { transport: factory });
    const second = new WebSocket('ws://serial-fail.test/', [], { transport: factory });
    const firstClosed = new Promise<CloseEvent>((resolve) =>
      first.addEventListener('close', (event) => resolve(event as CloseEvent)),
    );
    const secondOpened = new Promise<void>((resolve) => second.addEventListener('open', () => resolve()));
    expect((await firstClosed).code).toBe(1006);
    await secondOpened;
    const closed = new Promise((resolve) => second.addEventListener('close', resolve));
    second.close();
    await closed;
  });

  test('closing a connection that waits for its turn never connects it', async () => {
    const server = memoryServer();
    let calls = 0;
    const factory: TransportFactory = (t) => {
      calls += 1;
      return server.factory(t);
    };
    const first = new WebSocket('ws://serial-abort.test/', [], { transport: factory });
    const waiting = new WebSocket('ws://serial-abort.test/', [], { transport: factory });
    const events: string[] = [];
    waiting.onerror = () => events.push('error');
    const waitingClosed = new Promise<void>((resolve) => {
      waiting.onclose = (event) => {
        events.push(`close ${event.code}`);
        resolve();
      };
    });
    waiting.close();
    await waitingClosed;
    expect(events).toEqual(['error', 'close 1006']);
    await new Promise((resolve) => first.addEventListener('open', resolve));
    expect(calls).toBe(1);
    const closed = new Promise((resolve) => first.addEventListener('close', resolve));
    first.close();
    await closed;
  });
});
