/**
 * WebSocket classes with options decided ahead of the call: the entry
 * points' defaults (transport, compression) and the app's own
 * (`bindOptions`), so that code that only ever calls
 * `new WebSocket(url, protocols)` (third-party libraries, a polyfilled
 * global) gets what the app chose.
 *
 * Such a class is not a subclass: WebIDL's interface object has every
 * attribute, operation and constant on its own prototype, and
 * `EventTarget.prototype` next in the chain (the web-platform tests'
 * idlharness checks both, and that deleting an accessor from the prototype
 * leaves `undefined`). So each class gets a prototype of its own holding the
 * members of the one class that implements them (src/websocket.ts), and its
 * constructor builds the instance with that class's constructor
 * (`Reflect.construct` with the new class as `new.target`), which gives it
 * the private state the members use.
 */
import { defineReadyStates, interfaceClasses, WebSocket, type WebSocketOptions } from './websocket.js';
import { WebSocketStream } from './websocket-stream.js';

type Transform = (options: WebSocketOptions) => WebSocketOptions;

/**
 * An interface object as WebIDL defines one: it throws when called without
 * `new` or without its one required argument, builds the instance with
 * `Implementation` (`new.target` kept, so subclasses work), has a `length` of
 * 1, `Parent` as its [[Prototype]] and a `prototype` that is not writable,
 * enumerable or configurable, inherits from `Parent.prototype` and holds
 * `members` (its `constructor` pointing back).
 *
 * It is a class that extends `Parent` (not `Implementation`) and never calls
 * `super()`: its constructor returns the instance `Implementation` built.
 * Being a derived class matters for speed, not only for shape: V8 keeps one
 * map (object layout) for every instance built with a given `new.target`
 * only when that `new.target` is a derived class constructor. With a plain
 * function there, every connection's instance got a map of its own, the
 * receive path's inline caches went megamorphic after a few connections,
 * and receiving 1 KiB messages was 25-40% slower in `bench:client`.
 * Called without `new`, a class throws the engine's own TypeError ("Class
 * constructor WebSocket cannot be invoked without 'new'" in V8), where
 * Chromium words its TypeError differently: WebIDL asks for the TypeError,
 * not its message.
 */
function interfaceConstructor(
  name: string,
  members: object,
  Parent: new (...args: never[]) => object,
  args: (first: unknown, second: unknown, third: unknown) => unknown[],
  Implementation: new (...args: never[]) => object,
): (...args: never) => unknown {
  const Derived = {
    [name]: class extends Parent {
      // The instance is Implementation's: super() is never called.
      // @ts-expect-error TS2377, for that reason
      // biome-ignore lint/correctness/noUnreachableSuper: see above
      constructor(first: unknown) {
        // WebIDL: the first argument is required (a missing one is not "undefined").
        // biome-ignore lint/complexity/noArguments: only arguments tells a missing argument from undefined
        if (arguments.length === 0) {
          throw new TypeError(`Failed to construct '${name}': 1 argument required, but only 0 present.`);
        }
        // The optional arguments are not declared, so that `length` is 1.
        // biome-ignore lint/complexity/noArguments: see above
        const rest = arguments as unknown as unknown[];
        // biome-ignore lint/correctness/noConstructorReturn: the instance is the implementing class's
        return Reflect.construct(Implementation, args(first, rest[1], rest[2]), new.target);
      }
    },
  }[name]!;
  const descriptors = Object.getOwnPropertyDescriptors(members);
  delete (descriptors as Record<string, unknown>)['constructor'];
  Object.defineProperties(Derived.prototype, descriptors);
  return Derived as unknown as (...args: never) => unknown;
}

/** The classes made here: the implementing class and the options transform of each. */
const derived = new WeakMap<object, Transform>();

/**
 * A `WebSocket` class like `Base` whose constructor passes its options
 * through `transform` (then through `Base`'s own, if `Base` was made here).
 * When `Base` is the library's class or one made here, the new class has
 * WebIDL's shape (see above); for an application's subclass, it is a
 * subclass of it.
 *
 * @internal
 */
export function deriveWebSocket<C extends typeof WebSocket>(Base: C, transform: Transform): C {
  const inner = derived.get(Base);
  const combined: Transform = inner === undefined ? transform : (options) => inner(transform(options));
  const interfaceShaped = inner !== undefined || Base === WebSocket;
  const Implementation: typeof WebSocket = interfaceShaped ? WebSocket : Base;
  const Derived = interfaceConstructor(
    'WebSocket',
    interfaceShaped ? WebSocket.prototype : {},
    interfaceShaped ? EventTarget : Base,
    (url, protocols, options) => [url, protocols, combined((options as WebSocketOptions | undefined) ?? {})],
    Implementation,
  );
  defineReadyStates(Derived);
  derived.set(Derived, combined);
  if (interfaceShaped) {
    // One interface: `instanceof` holds across the library's WebSocket classes (see websocket.ts).
    interfaceClasses.add(Derived);
    Object.defineProperty(
      Derived,
      Symbol.hasInstance,
      Object.getOwnPropertyDescriptor(WebSocket, Symbol.hasInstance) as PropertyDescriptor,
    );
  }
  return Derived as unknown as C;
}

/** The `WebSocketStream` classes made here, and the options transform of each. */
const derivedStreams = new WeakMap<object, Transform>();

/**
 * A `WebSocketStream` class like `Base` whose constructor passes polysocket's
 * options (its third argument) through `transform`, then through `Base`'s
 * own if `Base` was made here. Like `deriveWebSocket`, not a subclass: the
 * prototype holds the members of the implementing class.
 *
 * @internal
 */
export function deriveWebSocketStream<C extends typeof WebSocketStream>(Base: C, transform: Transform): C {
  const inner = derivedStreams.get(Base);
  const combined: Transform = inner === undefined ? transform : (options) => inner(transform(options));
  const Derived = interfaceConstructor(
    'WebSocketStream',
    WebSocketStreamImplementation.prototype,
    Object,
    (url, options, connectionOptions) => [
      url,
      options,
      combined((connectionOptions as WebSocketOptions | undefined) ?? {}),
    ],
    WebSocketStreamImplementation,
  );
  // WebIDL: an interface that inherits from none has Function.prototype as
  // its interface object's [[Prototype]] (not Object, which it extends for speed).
  Object.setPrototypeOf(Derived, Function.prototype);
  Object.defineProperty(
    Derived,
    Symbol.hasInstance,
    Object.getOwnPropertyDescriptor(WebSocketStreamImplementation, Symbol.hasInstance) as PropertyDescriptor,
  );
  derivedStreams.set(Derived, combined);
  return Derived as unknown as C;
}

const WebSocketStreamImplementation = WebSocketStream;

/**
 * Return a `WebSocket` (or `WebSocketStream`) class whose constructor merges
 * `defaults` under the options given per call (per-call options win).
 *
 * ```ts
 * const TunnelledWebSocket = bindOptions(WebSocket, { transport: webTransportTransport({ gateway }) });
 * const ws = new TunnelledWebSocket('ws://chat.internal:8080/');
 * ```
 *
 * @param Base - The entry point's `WebSocket` class (or a subclass).
 * @param defaults - Options applied to every connection.
 */
export function bindOptions<C extends typeof WebSocket | typeof WebSocketStream>(
  Base: C,
  defaults: WebSocketOptions,
): C {
  const bound = { ...defaults };
  const transform: Transform = (options) => ({ ...bound, ...options });
  if (Base === WebSocketStreamImplementation || derivedStreams.has(Base)) {
    return deriveWebSocketStream(Base as typeof WebSocketStream, transform) as C;
  }
  return deriveWebSocket(Base as typeof WebSocket, transform) as C;
}
