/**
 * The main-process half of polysocket's Electron transport: it opens
 * `node:net` / `node:tls` sockets on behalf of renderers, which have no
 * sockets of their own, and relays bytes over IPC.
 *
 * Renderers are untrusted: a compromised page must not reach arbitrary
 * hosts through the bridge. So every connection needs the target's
 * `host:port` in `allow`, or a `check` that says yes; there is no default
 * allow. Every message is validated, a renderer has a bounded number of
 * sockets, and buffering is bounded both ways:
 *
 * - received bytes the renderer hasn't acknowledged (`consumed`) stay under
 *   `readHighWaterMark`: above it the socket is paused, so TCP backpressure
 *   reaches the server when the page is slow;
 * - bytes the renderer wrote that the socket hasn't taken stay under
 *   `maxWriteBuffer`: the renderer transport keeps its own writes within a
 *   smaller window, so only a misbehaving page exceeds it, and loses the
 *   connection.
 *
 * A renderer's sockets close when its WebContents is destroyed or its
 * process is gone, and when the page loads again (a new page token).
 *
 * Electron's types are structural (the `electron` package needs its binary
 * downloaded at install time): pass `ipcMain` from `electron`.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { type BridgeTarget, POLYSOCKET_CHANNEL, type ToMain, type ToRendererBody } from './messages.js';

export { type BridgeTarget, POLYSOCKET_CHANNEL } from './messages.js';

/** The parts of Electron's `WebContents` the bridge uses. */
export interface WebContentsLike {
  readonly id: number;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
  once(event: 'destroyed', listener: () => void): unknown;
  on(event: 'render-process-gone', listener: (...args: unknown[]) => void): unknown;
  removeListener(event: 'destroyed' | 'render-process-gone', listener: (...args: unknown[]) => void): unknown;
}

/** The parts of Electron's `IpcMainEvent` the bridge uses. */
export interface IpcMainEventLike {
  readonly sender: WebContentsLike;
}

/** The parts of Electron's `ipcMain` the bridge uses. */
export interface IpcMainLike {
  on(channel: string, listener: (event: IpcMainEventLike, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: IpcMainEventLike, ...args: unknown[]) => void): unknown;
}

/** Options of {@link registerSocketBridge}. */
export interface SocketBridgeOptions {
  /**
   * Targets renderers may connect to, as `host:port` (`[::1]:8080` for
   * IPv6), compared case-insensitively with the URL's host.
   * @defaultValue `[]`
   */
  readonly allow?: readonly string[];
  /**
   * Decides targets not in `allow` (e.g. by the sender's URL). Without
   * it, only `allow` is allowed.
   */
  readonly check?: (target: BridgeTarget, sender: WebContentsLike) => boolean | Promise<boolean>;
  /** TLS options for `wss:` (`ca`, `minVersion`, ...); certificates are verified. */
  readonly tls?: Readonly<tls.ConnectionOptions>;
  /** Sockets one renderer may have open. @defaultValue `32` */
  readonly maxSocketsPerRenderer?: number;
  /** Unacknowledged received bytes above which the socket is paused. @defaultValue `1048576` */
  readonly readHighWaterMark?: number;
  /** Written bytes the socket hasn't taken above which the connection fails. @defaultValue `8388608` */
  readonly maxWriteBuffer?: number;
  /** The IPC channel. @defaultValue {@link POLYSOCKET_CHANNEL} */
  readonly channel?: string;
}

/** Counters of a bridge, for monitoring and tests. */
export interface SocketBridgeStats {
  /** Sockets open now, over all renderers. */
  readonly sockets: number;
  /** Connections refused (allow-list, check, limits). */
  readonly refused: number;
  /** Times a socket was paused because its renderer was behind. */
  readonly pauses: number;
  /** Most unacknowledged received bytes seen on one socket. */
  readonly maxUnacknowledged: number;
  /** Messages ignored as malformed. */
  readonly malformed: number;
}

/** A registered bridge. */
export interface SocketBridge {
  readonly stats: SocketBridgeStats;
  /** Stop listening and close every socket. */
  dispose(): void;
}

interface Connection {
  readonly socket: net.Socket;
  /** Received bytes sent to the renderer and not yet consumed. */
  unacknowledged: number;
  /** Bytes handed to socket.write() whose callback hasn't run. */
  pendingWrite: number;
  paused: boolean;
}

interface Renderer {
  readonly sender: WebContentsLike;
  /** The page token of the current page load. */
  page: string;
  readonly connections: Map<number, Connection>;
  /** Ids whose connect is being checked, and those of them destroyed meanwhile. */
  readonly checking: Set<number>;
  readonly cancelled: Set<number>;
  readonly teardown: () => void;
}

const MAX_ID = 2 ** 31;

function isId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0 && (value as number) < MAX_ID;
}

function validate(message: unknown): ToMain | null {
  if (typeof message !== 'object' || message === null) return null;
  const m = message as Record<string, unknown>;
  if (typeof m['page'] !== 'string' || m['page'].length === 0 || m['page'].length > 64 || !isId(m['id'])) {
    return null;
  }
  switch (m['op']) {
    case 'connect':
      return typeof m['host'] === 'string' &&
        m['host'].length > 0 &&
        m['host'].length <= 255 &&
        Number.isInteger(m['port']) &&
        (m['port'] as number) > 0 &&
        (m['port'] as number) < 65_536 &&
        typeof m['secure'] === 'boolean'
        ? (message as ToMain)
        : null;
    case 'write':
      return m['data'] instanceof Uint8Array ? (message as ToMain) : null;
    case 'consumed':
      return Number.isInteger(m['bytes']) && (m['bytes'] as number) >= 0 ? (message as ToMain) : null;
    case 'end':
    case 'destroy':
      return message as ToMain;
    default:
      return null;
  }
}

function targetKey(host: string, port: number): string {
  const lower = host.toLowerCase();
  return `${lower.includes(':') ? `[${lower}]` : lower}:${port}`;
}

/**
 * Listen on `ipcMain` for renderers' socket requests.
 *
 * @example
 * ```ts
 * // ipcMain: Electron's; registerSocketBridge: polysocket/electron/main
 * registerSocketBridge(ipcMain, { allow: ['chat.example.com:443'] });
 * ```
 */
export function registerSocketBridge(ipcMain: IpcMainLike, options: SocketBridgeOptions = {}): SocketBridge {
  const channel = options.channel ?? POLYSOCKET_CHANNEL;
  const allow = new Set((options.allow ?? []).map((entry) => entry.toLowerCase()));
  const maxSockets = options.maxSocketsPerRenderer ?? 32;
  const highWaterMark = options.readHighWaterMark ?? 1024 * 1024;
  const maxWriteBuffer = options.maxWriteBuffer ?? 8 * 1024 * 1024;
  const renderers = new Map<number, Renderer>();
  const stats = { sockets: 0, refused: 0, pauses: 0, maxUnacknowledged: 0, malformed: 0 };

  const send = (renderer: Renderer, page: string, id: number, body: ToRendererBody): void => {
    // A destroyed WebContents throws on send; its sockets are going away.
    if (!renderer.sender.isDestroyed()) renderer.sender.send(channel, { ...body, page, id });
  };

  const rendererOf = (sender: WebContentsLike): Renderer => {
    let renderer = renderers.get(sender.id);
    if (renderer === undefined) {
      const teardown = (): void => closeRenderer(sender.id);
      renderer = {
        sender,
        page: '',
        connections: new Map(),
        checking: new Set(),
        cancelled: new Set(),
        teardown,
      };
      renderers.set(sender.id, renderer);
      sender.once('destroyed', teardown);
      sender.on('render-process-gone', teardown);
    }
    return renderer;
  };

  function closeRenderer(senderId: number): void {
    const renderer = renderers.get(senderId);
    if (renderer === undefined) return;
    renderers.delete(senderId);
    renderer.sender.removeListener('destroyed', renderer.teardown);
    renderer.sender.removeListener('render-process-gone', renderer.teardown);
    for (const connection of renderer.connections.values()) connection.socket.destroy();
    renderer.connections.clear();
  }

  const refuse = (renderer: Renderer, page: string, id: number, message: string): void => {
    stats.refused++;
    send(renderer, page, id, { op: 'close', error: { message, code: 'EACCES' } });
  };

  async function allowed(target: BridgeTarget, sender: WebContentsLike): Promise<boolean> {
    if (allow.has(targetKey(target.host, target.port))) return true;
    if (options.check === undefined) return false;
    try {
      return (await options.check(target, sender)) === true;
    } catch {
      return false;
    }
  }

  async function connect(renderer: Renderer, id: number, target: BridgeTarget): Promise<void> {
    const where = targetKey(target.host, target.port);
    const page = renderer.page;
    if (renderer.connections.has(id) || renderer.checking.has(id)) {
      refuse(renderer, page, id, `polysocket: socket id ${id} is in use`);
      return;
    }
    if (renderer.connections.size + renderer.checking.size >= maxSockets) {
      refuse(renderer, page, id, `polysocket: too many sockets (${maxSockets}) for this renderer`);
      return;
    }
    renderer.checking.add(id);
    const ok = await allowed(target, renderer.sender);
    renderer.checking.delete(id);
    // The renderer may be gone, or the page reloaded, during the check.
    if (renderers.get(renderer.sender.id) !== renderer || renderer.page !== page) return;
    if (renderer.cancelled.delete(id)) {
      send(renderer, page, id, { op: 'close' });
      return;
    }
    if (!ok) {
      refuse(renderer, page, id, `polysocket: ${where} is not allowed by the main process`);
      return;
    }
    const base = { host: target.host, port: target.port, allowHalfOpen: true };
    const socket = target.secure
      ? tls.connect({
          ...base,
          ...(net.isIP(target.host) === 0 ? { servername: target.host } : {}),
          ALPNProtocols: ['http/1.1'],
          ...options.tls,
        })
      : net.connect(base);
    const connection: Connection = { socket, unacknowledged: 0, pendingWrite: 0, paused: false };
    renderer.connections.set(id, connection);
    stats.sockets++;
    socket.setNoDelay(true);
    let failure: { message: string; code?: string } | undefined;
    socket.once(target.secure ? 'secureConnect' : 'connect', () => send(renderer, page, id, { op: 'open' }));
    socket.on('data', (chunk: Buffer) => {
      connection.unacknowledged += chunk.byteLength;
      stats.maxUnacknowledged = Math.max(stats.maxUnacknowledged, connection.unacknowledged);
      // A plain Uint8Array: IPC clones it as one either way.
      send(renderer, page, id, {
        op: 'data',
        data: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      });
      if (!connection.paused && connection.unacknowledged > highWaterMark) {
        connection.paused = true;
        stats.pauses++;
        socket.pause();
      }
    });
    socket.on('end', () => send(renderer, page, id, { op: 'end' }));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      failure ??=
        error.code === undefined ? { message: error.message } : { message: error.message, code: error.code };
    });
    socket.once('close', () => {
      stats.sockets--;
      if (renderer.connections.get(id) === connection) renderer.connections.delete(id);
      send(renderer, page, id, failure === undefined ? { op: 'close' } : { op: 'close', error: failure });
    });
  }

  function handle(renderer: Renderer, message: ToMain): void {
    if (message.op === 'connect') {
      if (message.page !== renderer.page) {
        // A new page load: the sockets of the previous page have no owner.
        for (const connection of renderer.connections.values()) connection.socket.destroy();
        renderer.connections.clear();
        renderer.checking.clear();
        renderer.cancelled.clear();
        renderer.page = message.page;
      }
      void connect(renderer, message.id, message);
      return;
    }
    if (message.page !== renderer.page) return; // a page that is gone
    const connection = renderer.connections.get(message.id);
    if (connection === undefined) {
      if (message.op === 'destroy' && renderer.checking.has(message.id)) renderer.cancelled.add(message.id);
      return;
    }
    const { socket } = connection;
    switch (message.op) {
      case 'write': {
        if (socket.destroyed || socket.writableEnded) return;
        const size = message.data.byteLength;
        connection.pendingWrite += size;
        if (connection.pendingWrite > maxWriteBuffer) {
          socket.destroy(new Error(`polysocket: the renderer wrote more than ${maxWriteBuffer} bytes ahead`));
          return;
        }
        socket.write(message.data, (error) => {
          connection.pendingWrite -= size;
          if (!error) send(renderer, message.page, message.id, { op: 'written' });
        });
        return;
      }
      case 'end':
        if (!socket.destroyed) socket.end(() => send(renderer, message.page, message.id, { op: 'ended' }));
        return;
      case 'destroy':
        socket.destroy();
        return;
      case 'consumed':
        connection.unacknowledged = Math.max(0, connection.unacknowledged - message.bytes);
        if (connection.paused && connection.unacknowledged <= highWaterMark / 2) {
          connection.paused = false;
          socket.resume();
        }
        return;
    }
  }

  const listener = (event: IpcMainEventLike, raw: unknown): void => {
    const message = validate(raw);
    if (message === null) {
      stats.malformed++;
      return;
    }
    if (event.sender.isDestroyed()) return;
    handle(rendererOf(event.sender), message);
  };
  ipcMain.on(channel, listener);

  return {
    stats,
    dispose() {
      ipcMain.removeListener(channel, listener);
      for (const senderId of [...renderers.keys()]) closeRenderer(senderId);
    },
  };
}
