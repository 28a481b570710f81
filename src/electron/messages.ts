/**
 * The messages between the Electron main-process socket bridge
 * (`main.ts`), the preload script (`preload.ts`) and the renderer
 * transport (`renderer.ts`). They cross Electron's IPC, which copies them
 * with the structured clone algorithm: plain objects, numbers, strings and
 * `Uint8Array`s only.
 */

/** The IPC channel the bridge listens on. */
export const POLYSOCKET_CHANNEL = 'polysocket:socket';

/** Where a renderer asks to connect. */
export interface BridgeTarget {
  /** Host name, or IP address without brackets. */
  readonly host: string;
  readonly port: number;
  /** TLS (`wss:`), done by the main process. */
  readonly secure: boolean;
}

/**
 * Renderer to main. `page` is a random token per page load, so that a
 * reloaded page's socket ids never meet those of the page before it; `id`
 * numbers the sockets of one page.
 */
export type ToMain =
  | ({ readonly op: 'connect'; readonly page: string; readonly id: number } & BridgeTarget)
  | { readonly op: 'write'; readonly page: string; readonly id: number; readonly data: Uint8Array }
  | { readonly op: 'end'; readonly page: string; readonly id: number }
  | { readonly op: 'destroy'; readonly page: string; readonly id: number }
  /** The renderer handed on `bytes` more received bytes: read backpressure. */
  | { readonly op: 'consumed'; readonly page: string; readonly id: number; readonly bytes: number };

/** Main to renderer, about socket `id` of page `page`. */
export type ToRenderer = { readonly page: string; readonly id: number } & (
  | { readonly op: 'open' }
  | { readonly op: 'data'; readonly data: Uint8Array }
  /** The oldest unacknowledged write was handed to the socket (its write callback). */
  | { readonly op: 'written' }
  /** The half-close (FIN) was sent. */
  | { readonly op: 'ended' }
  /** The peer half-closed. */
  | { readonly op: 'end' }
  /** The socket closed; `error` when it failed (or was refused). Last message about `id`. */
  | { readonly op: 'close'; readonly error?: { readonly message: string; readonly code?: string } }
);

/** Distributes `Omit` over a union. @internal */
export type ToRendererBody = ToRenderer extends infer M
  ? M extends unknown
    ? Omit<M, 'page' | 'id'>
    : never
  : never;

/** What the preload exposes to the page as `window[key]` (by default `window.polysocket`). */
export interface SocketBridgeApi {
  /** Ask the main process for a socket; `listener` gets every message about it, `close` last. Returns its id. */
  connect(target: BridgeTarget, listener: (message: ToRenderer) => void): number;
  /** Send bytes (the main process acknowledges each write with `written`). */
  write(id: number, data: Uint8Array): void;
  /** Half-close after the writes sent so far. */
  end(id: number): void;
  /** Close now; no message about `id` follows. */
  destroy(id: number): void;
  /** Report `bytes` received bytes as handled: read backpressure. */
  consumed(id: number, bytes: number): void;
}
