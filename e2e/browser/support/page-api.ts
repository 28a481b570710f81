/**
 * What the test page (pages/main.ts) puts on `window`, typed for the specs'
 * `page.evaluate()` callbacks, which run in the page.
 */
import type * as polysocket from '../../../src/index.js';
import type { ProxyError, proxyTransport } from '../../../src/transports/proxy.js';

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
  /** A WebTransport transport factory for `gateway`, trusting `certificateHash`; `tls`: with `tls: 'gateway'`. */
  transport(gateway: string, certificateHash: string, tls?: boolean): polysocket.TransportFactory;
  record(ws: polysocket.WebSocket): SocketRecord;
  /** `new WebSocket(url, protocols, { transport })` through the gateway, recorded. */
  connect(url: string, gateway: string, certificateHash: string, protocols?: string[]): SocketRecord;
  /**
   * The same with `tls: 'gateway'` (for `wss:` URLs), also recording what
   * the gateway said it verified (`onTls`) and why the connection failed
   * (the error event's `error`, and its cause's `tlsFailure`).
   */
  connectTls(
    url: string,
    gateway: string,
    certificateHash: string,
  ): SocketRecord & {
    readonly verified: polysocket.GatewayTlsInfo[];
    failure(): { message: string; kind: string; tlsFailure: string | null } | null;
  };
  randomBytes(length: number): Uint8Array;
  sameBytes(a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView): boolean;
}

/** `window.e2eProxy`: polysocket/proxy (src/transports/proxy.ts), for proxies.spec.ts. */
export interface ProxyHelpers {
  readonly proxyTransport: typeof proxyTransport;
  readonly ProxyError: typeof ProxyError;
}

declare global {
  interface Window {
    polysocket: typeof polysocket;
    e2e: E2eHelpers;
    e2eProxy: ProxyHelpers;
    e2eReady: boolean;
  }
}
