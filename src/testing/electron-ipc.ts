/**
 * A stand-in for Electron's `ipcMain`, `ipcRenderer`, `WebContents` and
 * `contextBridge`, for testing polysocket's Electron bridge in Node (the
 * Electron binary can't be installed here). What it keeps of Electron:
 *
 * - IPC arguments are copied with the structured clone algorithm
 *   (`structuredClone`): a `Buffer` arrives as a plain `Uint8Array`, and a
 *   function or class instance can't be sent ("could not be cloned");
 * - delivery is asynchronous (a later task) and in order per direction;
 * - `webContents.send()` on a destroyed WebContents throws
 *   "Object has been destroyed"; messages from a destroyed renderer are
 *   dropped; `destroy()` emits `destroyed`, `crash()` `render-process-gone`;
 * - `contextBridge.exposeInMainWorld()` hands the page a frozen copy of
 *   the API whose functions are proxies: arguments and results are copied
 *   across the world boundary (functions passed across become proxies in
 *   turn), and errors thrown across keep only their message.
 */
import { EventEmitter } from 'node:events';

type MainListener = (event: { readonly sender: FakeWebContents }, ...args: unknown[]) => void;
type RendererListener = (event: { readonly sender: FakeIpcRenderer }, ...args: unknown[]) => void;

/** Run `task` in a later task, as Electron's IPC does. */
function later(task: () => void): void {
  setImmediate(task);
}

/** The stand-in for `ipcMain`. */
export class FakeIpcMain {
  readonly #listeners = new Map<string, Set<MainListener>>();

  on(channel: string, listener: MainListener): this {
    let set = this.#listeners.get(channel);
    if (set === undefined) this.#listeners.set(channel, (set = new Set()));
    set.add(listener);
    return this;
  }

  removeListener(channel: string, listener: MainListener): this {
    this.#listeners.get(channel)?.delete(listener);
    return this;
  }

  listenerCount(channel: string): number {
    return this.#listeners.get(channel)?.size ?? 0;
  }

  /** @internal Deliver a renderer's message. */
  deliver(sender: FakeWebContents, channel: string, args: unknown[]): void {
    for (const listener of [...(this.#listeners.get(channel) ?? [])]) listener({ sender }, ...args);
  }
}

let nextWebContentsId = 1;

/** The stand-in for one renderer's `WebContents` (the main process' handle on it). */
export class FakeWebContents extends EventEmitter {
  readonly id = nextWebContentsId++;
  /** Messages sent to this renderer so far. */
  sent = 0;
  #destroyed = false;
  #renderer: FakeIpcRenderer | null = null;

  /** @internal */
  attach(renderer: FakeIpcRenderer): void {
    this.#renderer = renderer;
  }

  isDestroyed(): boolean {
    return this.#destroyed;
  }

  send(channel: string, ...args: unknown[]): void {
    if (this.#destroyed) throw new TypeError('Object has been destroyed');
    const cloned = structuredClone(args);
    this.sent++;
    later(() => {
      if (!this.#destroyed) this.#renderer?.deliver(channel, cloned);
    });
  }

  /** Close the window: `destroyed`. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.emit('destroyed');
  }

  /** The renderer process dies; the WebContents stays. */
  crash(): void {
    this.emit('render-process-gone', {}, { reason: 'crashed', exitCode: 1 });
  }
}

/** The stand-in for a renderer's (preload's) `ipcRenderer`. */
export class FakeIpcRenderer {
  readonly #listeners = new Map<string, Set<RendererListener>>();
  readonly #main: FakeIpcMain;
  readonly #webContents: FakeWebContents;

  constructor(main: FakeIpcMain, webContents: FakeWebContents) {
    this.#main = main;
    this.#webContents = webContents;
    webContents.attach(this);
  }

  on(channel: string, listener: RendererListener): this {
    let set = this.#listeners.get(channel);
    if (set === undefined) this.#listeners.set(channel, (set = new Set()));
    set.add(listener);
    return this;
  }

  removeListener(channel: string, listener: RendererListener): this {
    this.#listeners.get(channel)?.delete(listener);
    return this;
  }

  listenerCount(channel: string): number {
    return this.#listeners.get(channel)?.size ?? 0;
  }

  send(channel: string, ...args: unknown[]): void {
    const cloned = structuredClone(args);
    later(() => {
      if (!this.#webContents.isDestroyed()) this.#main.deliver(this.#webContents, channel, cloned);
    });
  }

  /** @internal */
  deliver(channel: string, args: unknown[]): void {
    for (const listener of [...(this.#listeners.get(channel) ?? [])]) listener({ sender: this }, ...args);
  }
}

/** Copy a value across the context-isolation boundary the way `contextBridge` does. */
function acrossWorlds(value: unknown, depth = 0): unknown {
  if (depth > 1000) throw new Error('Object too deep to send over the context bridge');
  if (typeof value === 'function') {
    const fn = value as (...args: unknown[]) => unknown;
    return (...args: unknown[]) => {
      const copied = args.map((arg) => acrossWorlds(arg, depth + 1));
      let result: unknown;
      try {
        result = fn(...copied);
      } catch (error) {
        // Only the message crosses.
        throw new Error(error instanceof Error ? error.message : String(error));
      }
      return acrossWorlds(result, depth + 1);
    };
  }
  if (value instanceof Promise) return value.then((result) => acrossWorlds(result, depth + 1));
  if (Array.isArray(value)) return value.map((item) => acrossWorlds(item, depth + 1));
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = acrossWorlds(item, depth + 1);
    return copy;
  }
  return structuredClone(value);
}

/** The stand-in for `contextBridge`, exposing into `mainWorld`. */
export class FakeContextBridge {
  readonly mainWorld: Record<string, unknown>;

  constructor(mainWorld: Record<string, unknown>) {
    this.mainWorld = mainWorld;
  }

  exposeInMainWorld(apiKey: string, api: unknown): void {
    if (apiKey in this.mainWorld)
      throw new Error(`Cannot bind an API on top of an existing property on the window object`);
    this.mainWorld[apiKey] = Object.freeze(acrossWorlds(api));
  }
}

/** A minimal `window` for the preload: `pagehide` listeners. */
export class FakePage {
  readonly #listeners: Array<(event: { persisted: boolean }) => void> = [];

  addEventListener(type: 'pagehide', listener: (event: { persisted: boolean }) => void): void {
    if (type === 'pagehide') this.#listeners.push(listener);
  }

  /** The page is unloaded (`persisted: false`) or put in the bfcache (`true`). */
  hide(persisted = false): void {
    for (const listener of this.#listeners) listener({ persisted });
  }
}

/** One renderer: its WebContents (main side), ipcRenderer, contextBridge and page world. */
export interface FakeRenderer {
  readonly webContents: FakeWebContents;
  readonly ipcRenderer: FakeIpcRenderer;
  readonly contextBridge: FakeContextBridge;
  /** The page's `window` properties that the preload exposed. */
  readonly mainWorld: Record<string, unknown>;
  readonly page: FakePage;
}

/** An `ipcMain` and a way to open renderers connected to it. */
export function electronStandIn(): { ipcMain: FakeIpcMain; createRenderer(): FakeRenderer } {
  const ipcMain = new FakeIpcMain();
  return {
    ipcMain,
    createRenderer() {
      const webContents = new FakeWebContents();
      const mainWorld: Record<string, unknown> = {};
      return {
        webContents,
        ipcRenderer: new FakeIpcRenderer(ipcMain, webContents),
        contextBridge: new FakeContextBridge(mainWorld),
        mainWorld,
        page: new FakePage(),
      };
    },
  };
}
