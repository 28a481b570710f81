/**
 * Compile-time parity with lib.dom's `WebSocket`: `tsc -p tsconfig.json`
 * fails if the class drifts from the standard interface. Never run.
 */
import { CloseEvent } from './events.js';
import { WebSocket } from './websocket.js';

declare const transport: import('./transports/transport.js').Transport;

// An instance is usable wherever the platform's WebSocket is expected.
export const instance: globalThis.WebSocket = new WebSocket('ws://x', [], { transport });

// The constructor has the platform's static shape too.
export const interfaceObject: {
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
  new (url: string | URL, protocols?: string | string[]): globalThis.WebSocket;
} = WebSocket;

// Handlers see the standard event types.
instance.onclose = (event) => event.code satisfies number;
instance.onmessage = (event) => event.data as unknown;

export const closeEvent: globalThis.CloseEvent = new CloseEvent('close', { code: 1000 });
