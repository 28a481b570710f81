/**
 * Logging costs nothing when it is off: without a logger, no formatting
 * function runs, neither in the core nor in the driver. (Every export of
 * logging.ts is wrapped in a spy for this file.)
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { utf8 } from '../testing/chunking.js';
import { memoryServer } from '../testing/memory-server.js';
import { WebSocket } from '../websocket.js';
import { ClientProtocol } from './client.js';
import * as logging from './logging.js';
import { SEND_EOF } from './protocol.js';
import { ServerProtocol } from './server.js';

vi.mock('./logging.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('./logging.js')>();
  const spied: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(original)) {
    spied[name] = typeof value === 'function' ? vi.fn(value as (...args: unknown[]) => unknown) : value;
  }
  return spied;
});

/** Calls of every function logging.ts exports, but `createLog` (which says "no logger"). */
function formattingCalls(): number {
  let calls = 0;
  for (const [name, value] of Object.entries(logging)) {
    if (name !== 'createLog' && vi.isMockFunction(value)) calls += value.mock.calls.length;
  }
  return calls;
}

afterEach(() => {
  vi.clearAllMocks();
});

/** A whole connection in memory: handshake, messages both ways, a ping, the closing handshake, a failure. */
function session(logger?: logging.Logger): void {
  const options = logger === undefined ? {} : { logger };
  const client = new ClientProtocol('ws://example.com/', options);
  const server = new ServerProtocol(options);
  const move = (from: ClientProtocol | ServerProtocol, to: ClientProtocol | ServerProtocol): void => {
    for (const chunk of from.dataToSend()) {
      if (chunk === SEND_EOF) to.receiveEof();
      else to.receiveData(chunk.slice());
    }
  };
  client.sendRequest(client.connect());
  move(client, server);
  const [request] = server.eventsReceived();
  server.sendResponse(server.accept(request as Parameters<ServerProtocol['accept']>[0]));
  move(server, client);
  client.sendText(utf8('hello'));
  client.sendBinary(Uint8Array.of(1, 2, 3));
  server.sendPing();
  move(client, server);
  move(server, client);
  move(client, server);
  client.sendClose(1000, 'bye');
  move(client, server);
  move(server, client);
  move(client, server);
  // And a failure: a protocol violation.
  const other = new ServerProtocol({ ...options, state: 1 });
  other.receiveData(Uint8Array.of(0x83, 0x80, 0, 0, 0, 0));
}

describe('without a logger', () => {
  test('the core calls no formatting function', () => {
    session();
    expect(vi.mocked(logging.createLog)).toHaveBeenCalled();
    expect(formattingCalls()).toBe(0);
  });

  test('the WebSocket and its driver call none either', async () => {
    const server = memoryServer();
    const ws = new WebSocket('ws://example.com/chat?token=x', [], {
      transport: server.factory,
      pingIntervalMs: 1,
    });
    await new Promise((resolve) => ws.addEventListener('open', resolve));
    ws.send('hello');
    await new Promise((resolve) => ws.addEventListener('message', resolve));
    await new Promise((resolve) => setTimeout(resolve, 10));
    ws.close(1000);
    await new Promise((resolve) => ws.addEventListener('close', resolve));
    expect(formattingCalls()).toBe(0);
  });

  test('(the spies work: with a logger, they are called)', () => {
    const lines: string[] = [];
    session({ debug: (line) => lines.push(line) });
    expect(vi.mocked(logging.describeFrame)).toHaveBeenCalled();
    expect(vi.mocked(logging.logRequest)).toHaveBeenCalled();
    expect(formattingCalls()).toBeGreaterThan(0);
    expect(lines.length).toBeGreaterThan(0);
  });
});
