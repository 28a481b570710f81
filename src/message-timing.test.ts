/**
 * Event timing over real sockets: a burst of messages in one chunk gives
 * each message event a task of its own, so a microtask queued by one
 * handler, however deep the promise chain, runs before the next message
 * event, as in browsers.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { WebSocket } from './node.js';
import type { WebSocket as BaseWebSocket } from './websocket.js';

/** Records the order of message events and of the microtasks their handlers queue. */
function recordOrder(ws: BaseWebSocket, count: number): Promise<string[]> {
  const order: string[] = [];
  return new Promise((resolve) => {
    ws.onmessage = (event) => {
      order.push(`message ${event.data}`);
      queueMicrotask(() => order.push(`microtask ${event.data}`));
      void Promise.resolve()
        .then(() => undefined)
        .then(() => undefined)
        .then(() => {
          order.push(`chained ${event.data}`);
          if (order.length === count * 3) resolve(order);
        });
    };
  });
}

function expected(count: number): string[] {
  return Array.from({ length: count }, (_, i) => [`message ${i}`, `microtask ${i}`, `chained ${i}`]).flat();
}

describe('message event timing', () => {
  describe('over real sockets', () => {
    let wss: WebSocketServer;
    let url: string;

    beforeAll(async () => {
      wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      wss.on('connection', (socket) => {
        // Several messages in one write: one chunk for the client.
        socket.on('message', () => {
          for (let i = 0; i < 5; i++) socket.send(String(i));
        });
      });
      await new Promise((resolve) => wss.once('listening', resolve));
      url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    });

    afterAll(async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    });

    test('a burst of messages in one chunk: each handler’s microtasks run before the next message', async () => {
      const ws = new WebSocket(url);
      const order = recordOrder(ws, 5);
      ws.onopen = () => ws.send('go');
      expect(await order).toEqual(expected(5));
      ws.close();
      await new Promise((resolve) => ws.addEventListener('close', resolve));
    });
  });
});
