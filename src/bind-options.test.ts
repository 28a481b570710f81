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
