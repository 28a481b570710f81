/**
 * Logging costs nothing when it is off: without a logger, no log object is
 * made and no formatting function runs, neither in the core nor in the
 * driver. (Every function that logging.ts and connection/logging.ts export,
 * and every method of the classes they export, is spied on in this file.)
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import * as connectionLogging from '../connection/logging.js';
import { WebSocket as BrowserWebSocket } from '../index.js';
import { utf8 } from '../testing/chunking.js';
import { memoryServer } from '../testing/memory-server.js';
import { ClientProtocol } from './client.js';
import * as logging from './logging.js';
import { SEND_EOF } from './protocol.js';
import { ServerProtocol } from './server.js';

/** The module with its functions wrapped in spies, and its classes' methods spied on. */
async function spied<M extends object>(importOriginal: () => Promise<M>): Promise<M> {
  const original = await importOriginal();
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(original)) {
    if (typeof value !== 'function') out[name] = value;
    else if (/^class\b/.test(Function.prototype.toString.call(value))) {
      for (const method of Object.getOwnPropertyNames(value.prototype)) {
        if (method !== 'constructor') vi.spyOn(value.prototype, method);
      }
      out[name] = value;
    } else out[name] = vi.fn(value as (...args: unknown[]) => unknown);
  }
  return out as M;
}

vi.mock('./logging.js', (importOriginal) => spied(importOriginal));
vi.mock('../connection/logging.js', (importOriginal) => spied(importOriginal));

/**
 * Calls of every spied function and method but the option transforms, which
 * run whatever the options are (they find no logger and return them as they are).
 */
function formattingCalls(): number {
  let calls = 0;
  for (const module of [logging, connectionLogging]) {
    for (const [name, value] of Object.entries(module)) {
      if (name === 'withProtocolLog' || name === 'applyLogging') continue;
      if (vi.isMockFunction(value)) calls += value.mock.calls.length;
      else if (typeof value === 'function') {
        for (const method of Object.values(Object.getOwnPropertyDescriptors(value.prototype))) {
          if (vi.isMockFunction(method.value)) calls += method.value.mock.calls.length;
        }
      }
    }
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
  test('the core makes no log and calls no formatting function', () => {
    session();
    expect(vi.mocked(logging.withProtocolLog)).toHaveBeenCalled();
    expect(formattingCalls()).toBe(0);
  });

  test('the WebSocket of an entry that logs, and its driver, call none either', async () => {
    const server = memoryServer();
    const ws = new BrowserWebSocket('ws://example.com/chat?token=x', [], {
      transport: server.factory,
      pingIntervalMs: 1,
    });
    await new Promise((resolve) => ws.addEventListener('open', resolve));
    ws.send('hello');
    await new Promise((resolve) => ws.addEventListener('message', resolve));
    await new Promise((resolve) => setTimeout(resolve, 10));
    ws.close(1000);
    await new Promise((resolve) => ws.addEventListener('close', resolve));
    expect(vi.mocked(connectionLogging.applyLogging)).toHaveBeenCalled();
    expect(formattingCalls()).toBe(0);
  });

  test('(the spies work: with a logger, they are called)', async () => {
    const lines: string[] = [];
    session({ debug: (line) => lines.push(line) });
    expect(vi.mocked(logging.ProtocolLogger.prototype.frame)).toHaveBeenCalled();
    expect(formattingCalls()).toBeGreaterThan(0);
    expect(lines.length).toBeGreaterThan(0);
    const server = memoryServer();
    const ws = new BrowserWebSocket('ws://example.com/', [], {
      transport: server.factory,
      logger: { debug: (line) => lines.push(line) },
    });
    await new Promise((resolve) => ws.addEventListener('open', resolve));
    ws.close();
    await new Promise((resolve) => ws.addEventListener('close', resolve));
    expect(vi.mocked(connectionLogging.ConnectionLogger.prototype.transport)).toHaveBeenCalled();
    expect(vi.mocked(connectionLogging.ConnectionLogger.prototype.outcome)).toHaveBeenCalled();
  });
});
