import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { bindOptions } from './bind-options.js';
import { memoryServer } from './testing/memory-server.js';
import { WebSocket } from './websocket.js';

describe('bindOptions', () => {
  test('binds a transport so that new X(url) works unchanged, and per-call options win', async () => {
    const server = memoryServer();
    const Bound = bindOptions(WebSocket, { transport: server.factory, headers: { 'X-App': 'bound' } });
    expect(Bound.name).toBe('WebSocket');
    expect(Bound.OPEN).toBe(1);
    const ws = new Bound('ws://example.com/');
    expect(ws).toBeInstanceOf(WebSocket);
    await new Promise((resolve) => ws.addEventListener('open', resolve, { once: true }));
    expect(server.connections[0]?.request?.headers.get('X-App')).toBe('bound');
    const override = new Bound('ws://example.com/', [], { headers: { 'X-App': 'per-call' } });
    await new Promise((resolve) => override.addEventListener('open', resolve, { once: true }));
    expect(server.connections[1]?.request?.headers.get('X-App')).toBe('per-call');
    override.close();
    ws.close();
    await new Promise((resolve) => override.addEventListener('close', resolve, { once: true }));
    await new Promise((resolve) => ws.addEventListener('close', resolve, { once: true }));
    expect(() => new Bound('ws://example.com/', [], { transport: undefined as never })).toThrow(TypeError);
  });
});

describe('the shape WebIDL gives an interface object', () => {
  const server = memoryServer();
  const Bound = bindOptions(WebSocket, { transport: server.factory });
  const Twice = bindOptions(Bound, { headers: { 'X-Twice': '1' } });

  test.each([
    ['the class', WebSocket],
    ['a bound class', Bound],
    ['a class bound twice', Twice],
  ])('%s: members on its own prototype, EventTarget next; length 1; name WebSocket', (_, C) => {
    expect(Object.getPrototypeOf(C)).toBe(EventTarget);
    expect(Object.getPrototypeOf(C.prototype)).toBe(EventTarget.prototype);
    for (const name of ['url', 'readyState', 'bufferedAmount', 'onopen', 'send', 'close', 'OPEN']) {
      expect(Object.hasOwn(C.prototype, name), name).toBe(true);
    }
    expect(C.length).toBe(1);
    expect(C.name).toBe('WebSocket');
    expect(Object.getOwnPropertyDescriptor(C, 'prototype')).toMatchObject({
      writable: false,
      configurable: false,
    });
    expect(() => Object.defineProperty(C.prototype, 'OPEN', { get: () => 0 })).toThrow(TypeError);
    expect(() => new (C as unknown as new () => unknown)()).toThrow(TypeError);
  });

  test('deleting an accessor from the prototype leaves nothing behind it', () => {
    const C = bindOptions(WebSocket, { transport: server.factory });
    const ws = new C('ws://example.com/', [], { openTimeoutMs: null });
    expect(ws.readyState).toBe(0);
    delete (C.prototype as { readyState?: unknown }).readyState;
    expect((ws as { readyState?: unknown }).readyState).toBeUndefined();
    ws.close();
  });

  test('instanceof holds across the library classes; an application subclass keeps its own check', async () => {
    const a = new Bound('ws://example.com/');
    const b = new Twice('ws://example.com/');
    for (const C of [WebSocket, Bound, Twice]) {
      expect(a).toBeInstanceOf(C);
      expect(b).toBeInstanceOf(C);
    }
    expect({}).not.toBeInstanceOf(Bound);
    class Mine extends Bound {}
    const mine = new Mine('ws://example.com/');
    expect(mine).toBeInstanceOf(Mine);
    expect(mine).toBeInstanceOf(Bound);
    expect(a).not.toBeInstanceOf(Mine);
    for (const ws of [a, b, mine]) ws.close();
    await new Promise((resolve) => mine.addEventListener('close', resolve, { once: true }));
  });
});

test('operations and accessors as WebIDL defines them: close.length 0, setters check this first', () => {
  expect(WebSocket.prototype.close.length).toBe(0);
  expect(WebSocket.prototype.send.length).toBe(1);
  const setter = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'binaryType')!.set!;
  expect(() => setter.call({}, undefined)).toThrow(TypeError);
});

test('operations check this before their arguments (a TypeError, not a DOMException)', () => {
  expect(() => WebSocket.prototype.close.call(null as never, 7, 'x')).toThrow(TypeError);
  expect(() => WebSocket.prototype.send.call({} as never, 'x')).toThrow(TypeError);
});

describe('speed', () => {
  // V8 shares one map (object layout) among the instances built with a given
  // new.target only when it is a derived class constructor. When each
  // connection's instance had a map of its own, the receive path's inline
  // caches went megamorphic after a few connections: receiving 1 KiB
  // messages was 25-40% slower (bench:client).
  test("instances of an interface object share one object layout (V8's map)", () => {
    const script = fileURLToPath(new URL('./testing/object-layout.mjs', import.meta.url));
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toEqual({
      WebSocket: true,
      'bindOptions(WebSocket)': true,
      WebSocketStream: true,
      'bindOptions(WebSocketStream)': true,
    });
  });
});
