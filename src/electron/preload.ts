/**
 * The preload half of polysocket's Electron transport: exposes a minimal
 * socket API to the page through `contextBridge.exposeInMainWorld`, and
 * nothing else (never `ipcRenderer` itself, per Electron's security
 * guidance). The main process decides which targets are allowed.
 *
 * ```ts
 * // preload.ts (bundled: sandboxed preloads can't require packages)
 * // contextBridge, ipcRenderer: Electron's; exposeSocketBridge: polysocket/electron/preload
 * exposeSocketBridge({ contextBridge, ipcRenderer });
 * ```
 *
 * One `ipcRenderer` listener serves all sockets of the page; it is added
 * with the first socket and removed with the last. When the page is hidden
 * for good (`pagehide` without bfcache), its sockets are destroyed, so the
 * main process doesn't keep them until the next page load.
 */
import { POLYSOCKET_CHANNEL, type SocketBridgeApi, type ToMain, type ToRenderer } from './messages.js';

export { type BridgeTarget, POLYSOCKET_CHANNEL, type SocketBridgeApi, type ToRenderer } from './messages.js';

/** The parts of Electron's `ipcRenderer` the preload uses. */
export interface IpcRendererLike {
  send(channel: string, ...args: unknown[]): void;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** The parts of Electron's `contextBridge` the preload uses. */
export interface ContextBridgeLike {
  exposeInMainWorld(apiKey: string, api: unknown): void;
}

/** A `window`, for `pagehide`. */
export interface PageLike {
  addEventListener(type: 'pagehide', listener: (event: { readonly persisted?: boolean }) => void): void;
}

/** Options of {@link exposeSocketBridge}. */
export interface ExposeSocketBridgeOptions {
  /** The `window` property. @defaultValue `'polysocket'` */
  readonly key?: string;
  /** The IPC channel; must match the main process'. @defaultValue {@link POLYSOCKET_CHANNEL} */
  readonly channel?: string;
  /** Where to listen for `pagehide`. @defaultValue `globalThis` when it has `addEventListener` */
  readonly page?: PageLike;
}

/** A random token for this page load (not a secret: it only separates page loads). */
function pageToken(): string {
  const bytes = new Uint8Array(12);
  const crypto = (globalThis as { crypto?: { getRandomValues(array: Uint8Array): Uint8Array } }).crypto;
  if (crypto !== undefined) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Build the API over `ipcRenderer` (exported for tests and custom exposure). */
export function createSocketBridgeApi(
  ipcRenderer: IpcRendererLike,
  options: Omit<ExposeSocketBridgeOptions, 'key'> = {},
): SocketBridgeApi {
  const channel = options.channel ?? POLYSOCKET_CHANNEL;
  const page = pageToken();
  const listeners = new Map<number, (message: ToRenderer) => void>();
  let nextId = 1;

  const onMessage = (_event: unknown, message: unknown): void => {
    const m = message as ToRenderer;
    if (m?.page !== page) return;
    const listener = listeners.get(m.id);
    if (listener === undefined) return;
    if (m.op === 'close') forget(m.id);
    listener(m);
  };

  const forget = (id: number): void => {
    if (!listeners.delete(id) || listeners.size > 0) return;
    ipcRenderer.removeListener(channel, onMessage);
  };

  const post = (message: ToMain): void => ipcRenderer.send(channel, message);

  const api: SocketBridgeApi = {
    connect(target, listener) {
      const id = nextId++;
      if (listeners.size === 0) ipcRenderer.on(channel, onMessage);
      listeners.set(id, listener);
      post({ op: 'connect', page, id, host: target.host, port: target.port, secure: target.secure });
      return id;
    },
    write(id, data) {
      if (listeners.has(id)) post({ op: 'write', page, id, data });
    },
    end(id) {
      if (listeners.has(id)) post({ op: 'end', page, id });
    },
    destroy(id) {
      if (!listeners.has(id)) return;
      forget(id);
      post({ op: 'destroy', page, id });
    },
    consumed(id, bytes) {
      if (listeners.has(id)) post({ op: 'consumed', page, id, bytes });
    },
  };

  const target = options.page ?? (globalThis as { addEventListener?: unknown }).addEventListener;
  if (target !== undefined) {
    const pageLike = (options.page ?? globalThis) as PageLike;
    pageLike.addEventListener('pagehide', (event) => {
      // A page kept in the back/forward cache may come back: keep its sockets.
      if (event.persisted === true) return;
      for (const id of [...listeners.keys()]) api.destroy(id);
    });
  }
  return api;
}

/** Expose the socket API to the page as `window[options.key ?? 'polysocket']`. */
export function exposeSocketBridge(
  electron: { readonly contextBridge: ContextBridgeLike; readonly ipcRenderer: IpcRendererLike },
  options: ExposeSocketBridgeOptions = {},
): void {
  const api = createSocketBridgeApi(electron.ipcRenderer, options);
  // contextBridge copies the object and proxies its functions.
  electron.contextBridge.exposeInMainWorld(options.key ?? 'polysocket', { ...api });
}
