/**
 * What the test page (pages/main.ts) puts on `window`, typed for the specs'
 * `page.evaluate()` callbacks, which run in the page.
 */
import type * as polysocket from '../../../src/index.js';

/** A WebSocket with its events recorded. */
export interface SocketRecord {
  readonly ws: polysocket.WebSocket;
  /** `open:1`, `message`, `error:3`, `close:3`: the event, and readyState when it fired. */
  readonly events: string[];
  /** `data` of each message event. */
  readonly messages: unknown[];
  readonly closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
  /** Resolves once open (or close) fired. */
  opened(): Promise<void>;
  /** The data of message `index` (0-based), once it arrived. */
  message(index: number): Promise<unknown>;
}

/** `window.e2e`. */
export interface E2eHelpers {
  /** A WebTransport transport factory for `gateway`, trusting `certificateHash`. */
  transport(gateway: string, certificateHash: string): polysocket.TransportFactory;
  record(ws: polysocket.WebSocket): SocketRecord;
  /** `new WebSocket(url, protocols, { transport })` through the gateway, recorded. */
  connect(url: string, gateway: string, certificateHash: string, protocols?: string[]): SocketRecord;
  randomBytes(length: number): Uint8Array;
  sameBytes(a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView): boolean;
}

declare global {
  interface Window {
    polysocket: typeof polysocket;
    e2e: E2eHelpers;
    e2eReady: boolean;
  }
}
