/**
 * chrome.sockets.tcp for the workers of the Chrome App mode
 * (mode-chrome-app.ts), and the ownership of every socket the app's pages
 * and workers open.
 *
 * A Chrome App's pages (app windows and their frames) have
 * `chrome.sockets.tcp`; its workers (dedicated, shared, service) do not. In
 * a worker, polysocket's `ChromeSocketsTransport` runs as in a page, on a
 * `chrome` object whose `sockets.tcp` calls are carried out by the app's
 * background page ({@link relayedChrome} in the worker,
 * {@link serveRelay} in the background page), over BroadcastChannels of
 * the app's origin (a worker can reach no other context of the app: it
 * has no `chrome.runtime`, and a BroadcastChannel is the one channel every
 * scope has). Calls go on one channel that only the background page
 * listens to, answers and events on a channel of the caller's own, in the
 * order the background page saw them: a callback and the events of its
 * socket keep their order.
 *
 * Sockets belong to the app, not to the page that opened them: closing an
 * app window leaves them connected. So every scope that installs polysocket
 * holds a Web Lock named after a random owner id for as long as it lives,
 * and names its sockets after it (`SocketProperties.name`); the background
 * page closes the sockets whose owner's lock is gone (`sweep`), between
 * jobs. Web Locks are the one thing that the browser itself releases when
 * a window or a worker goes away. A scope creates its first socket only
 * once its lock is granted: the lock request and the socket's creation are
 * separate messages to the browser, and a socket listed before its owner's
 * lock would be closed as an orphan.
 */
import type {
  ChromeEventLike,
  ChromeLike,
  ChromeReceiveErrorInfo,
  ChromeReceiveInfo,
  ChromeSocketsTcpLike,
} from '../../../src/transports/chrome-sockets.js';

/** The channel of calls to the background page. */
export const RELAY_CHANNEL = 'polysocket-wpt-chrome-sockets';
/** The prefix of socket names and owner locks. */
export const OWNER_PREFIX = 'polysocket-wpt-owner:';

/** The channel of answers and events to `owner`. */
function ownerChannel(owner: string): string {
  return `${RELAY_CHANNEL}/${owner}`;
}

/** The operations a worker may ask for: those of `ChromeSocketsTcpLike`, all with a callback. */
const OPERATIONS = [
  'create',
  'connect',
  'secure',
  'setPaused',
  'setNoDelay',
  'send',
  'disconnect',
  'close',
] as const;
type Operation = (typeof OPERATIONS)[number];

/** A call, worker to background page. */
interface CallMessage {
  readonly owner: string;
  readonly call: number;
  readonly operation: Operation;
  /** The arguments before the callback (structured-cloned: ArrayBuffers are copied). */
  readonly args: readonly unknown[];
}

/** Background page to worker: a callback's argument, or an event of one of its sockets. */
type OwnerMessage =
  | { readonly call: number; readonly result: unknown; readonly lastError: string | null }
  | { readonly event: 'receive'; readonly info: ChromeReceiveInfo }
  | { readonly event: 'receiveError'; readonly info: ChromeReceiveErrorInfo };

/** A scope's owner id, and the lock held for as long as the scope lives. */
export interface Ownership {
  readonly owner: string;
  /** Resolves once the lock is granted. */
  readonly held: Promise<void>;
}

/** A random owner id, and its lock, held for as long as this scope lives. */
export function takeOwnership(): Ownership {
  const owner = crypto.randomUUID();
  let granted: () => void = () => {};
  const held = new Promise<void>((resolve) => (granted = resolve));
  // The callback's promise never settles: the lock goes when the scope does.
  void navigator.locks.request(`${OWNER_PREFIX}${owner}`, () => {
    granted();
    return new Promise<never>(() => {});
  });
  return { owner, held };
}

/** A chrome.events.Event of this scope. */
class LocalEvent<Listener extends (info: never) => void> implements ChromeEventLike<Listener> {
  readonly listeners = new Set<Listener>();
  addListener(listener: Listener): void {
    this.listeners.add(listener);
  }
  removeListener(listener: Listener): void {
    this.listeners.delete(listener);
  }
}

/** `chrome` in a page: the real one, with every socket it creates named after its owner, once the lock is held. */
export function ownedChrome(chrome: ChromeLike, { owner, held }: Ownership): ChromeLike {
  const tcp = chrome.sockets.tcp;
  const owned: ChromeSocketsTcpLike = {
    create: (properties, callback) =>
      void held.then(() => tcp.create({ ...properties, name: `${OWNER_PREFIX}${owner}` }, callback)),
    connect: (...args) => tcp.connect(...args),
    secure: (...args) => tcp.secure(...args),
    setPaused: (...args) => tcp.setPaused(...args),
    setNoDelay: (...args) => tcp.setNoDelay(...args),
    send: (...args) => tcp.send(...args),
    disconnect: (...args) => tcp.disconnect(...args),
    close: (...args) => tcp.close(...args),
    onReceive: tcp.onReceive,
    onReceiveError: tcp.onReceiveError,
  };
  return { runtime: chrome.runtime, sockets: { tcp: owned } };
}

/** `chrome` in a worker: `sockets.tcp` carried out by the background page for its owner, once the lock is held. */
export function relayedChrome({ owner, held }: Ownership): ChromeLike {
  const calls = new BroadcastChannel(RELAY_CHANNEL);
  const answers = new BroadcastChannel(ownerChannel(owner));
  const pending = new Map<number, (result: unknown) => void>();
  const onReceive = new LocalEvent<(info: ChromeReceiveInfo) => void>();
  const onReceiveError = new LocalEvent<(info: ChromeReceiveErrorInfo) => void>();
  let lastError: { message: string } | undefined;
  let nextCall = 1;
  answers.onmessage = (event: MessageEvent<OwnerMessage>) => {
    const message = event.data;
    if ('call' in message) {
      const callback = pending.get(message.call);
      pending.delete(message.call);
      // As chrome.runtime.lastError: set only while the callback runs.
      lastError = message.lastError === null ? undefined : { message: message.lastError };
      try {
        callback?.(message.result);
      } finally {
        lastError = undefined;
      }
    } else if (message.event === 'receive') {
      for (const listener of onReceive.listeners) listener(message.info);
    } else {
      for (const listener of onReceiveError.listeners) listener(message.info);
    }
  };
  const post = (operation: Operation, args: unknown[]): void => {
    const last = args.at(-1);
    const callback = typeof last === 'function' ? (last as (result: unknown) => void) : undefined;
    const id = nextCall++;
    pending.set(id, callback ?? (() => {}));
    const message: CallMessage = {
      owner,
      call: id,
      operation,
      args: callback === undefined ? args : args.slice(0, -1),
    };
    calls.postMessage(message);
  };
  // Every other call is about a socket that create() gave: it comes after.
  const call =
    (operation: Operation) =>
    (...args: unknown[]): void => {
      if (operation === 'create') void held.then(() => post(operation, args));
      else post(operation, args);
    };
  const tcp = Object.fromEntries(OPERATIONS.map((operation) => [operation, call(operation)]));
  return {
    runtime: {
      get lastError() {
        return lastError;
      },
    },
    sockets: { tcp: { ...tcp, onReceive, onReceiveError } as unknown as ChromeSocketsTcpLike },
  };
}

/** `chrome.sockets.tcp` in the background page, with what the relay needs beyond the transport's. */
export interface BackgroundTcp extends ChromeSocketsTcpLike {
  getSockets(
    callback: (sockets: readonly { readonly socketId: number; readonly name?: string }[]) => void,
  ): void;
}

/** The relay's end in the background page. */
export interface Relay {
  /**
   * Close every socket of the app named after an owner that holds no lock
   * any more (its page or worker is gone); resolves with how many.
   */
  sweep(): Promise<number>;
}

/** Carry out the workers' calls in the background page (see the top of this file). */
export function serveRelay(chrome: {
  readonly runtime: ChromeLike['runtime'];
  readonly sockets: { readonly tcp: BackgroundTcp };
}): Relay {
  const tcp = chrome.sockets.tcp;
  /** Relayed socket → its owner. */
  const owners = new Map<number, string>();
  const channels = new Map<string, BroadcastChannel>();
  const channel = (owner: string) => {
    let found = channels.get(owner);
    if (found === undefined) {
      found = new BroadcastChannel(ownerChannel(owner));
      channels.set(owner, found);
    }
    return found;
  };
  tcp.onReceive.addListener((info) => {
    const owner = owners.get(info.socketId);
    if (owner !== undefined) channel(owner).postMessage({ event: 'receive', info } satisfies OwnerMessage);
  });
  tcp.onReceiveError.addListener((info) => {
    const owner = owners.get(info.socketId);
    if (owner !== undefined)
      channel(owner).postMessage({ event: 'receiveError', info } satisfies OwnerMessage);
  });
  const calls = new BroadcastChannel(RELAY_CHANNEL);
  calls.onmessage = (event: MessageEvent<CallMessage>) => {
    const { owner, call, operation, args } = event.data;
    if (!OPERATIONS.includes(operation)) return;
    const reply = (result: unknown) => {
      const lastError = chrome.runtime.lastError;
      const message: OwnerMessage = {
        call,
        result,
        lastError: lastError === undefined ? null : (lastError.message ?? 'unknown error'),
      };
      channel(owner).postMessage(message);
    };
    try {
      if (operation === 'create') {
        const properties = (args[0] ?? {}) as Parameters<BackgroundTcp['create']>[0];
        tcp.create({ ...properties, name: `${OWNER_PREFIX}${owner}` }, (info) => {
          if (info !== undefined) owners.set(info.socketId, owner);
          reply(info);
        });
        return;
      }
      const socketId = args[0] as number;
      if (owners.get(socketId) !== owner) {
        // Not one of the caller's sockets: as the API answers an unknown id.
        channel(owner).postMessage({
          call,
          result: undefined,
          lastError: 'Socket not found',
        } satisfies OwnerMessage);
        return;
      }
      if (operation === 'close') owners.delete(socketId);
      (tcp[operation] as (...all: unknown[]) => void)(...args, reply);
    } catch (error) {
      // The bindings throw on invalid arguments: the caller learns it as lastError.
      channel(owner).postMessage({
        call,
        result: undefined,
        lastError: String(error),
      } satisfies OwnerMessage);
    }
  };
  return {
    async sweep() {
      // Sockets first, then locks: a socket's scope asked for its lock before
      // it created the socket, so a socket listed here has its owner among the
      // locks listed after. (The other way round, a page that opened between
      // the two would lose its sockets.)
      const sockets = await new Promise<Parameters<Parameters<BackgroundTcp['getSockets']>[0]>[0]>(
        (resolve) => tcp.getSockets(resolve),
      );
      const locks = await navigator.locks.query();
      const alive = new Set(
        [...(locks.held ?? []), ...(locks.pending ?? [])].flatMap((lock) =>
          lock.name?.startsWith(OWNER_PREFIX) ? [lock.name] : [],
        ),
      );
      let closed = 0;
      for (const socket of sockets) {
        if (socket.name === undefined || !socket.name.startsWith(OWNER_PREFIX) || alive.has(socket.name))
          continue;
        owners.delete(socket.socketId);
        tcp.close(socket.socketId, () => void chrome.runtime.lastError);
        closed++;
      }
      for (const [owner, found] of channels) {
        if (!alive.has(`${OWNER_PREFIX}${owner}`) && ![...owners.values()].includes(owner)) {
          found.close();
          channels.delete(owner);
        }
      }
      return closed;
    },
  };
}
