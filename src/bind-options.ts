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
  // A function rather than a class: `class extends` would make a subclass.
  const Derived = function WebSocket(
    this: unknown,
    url: string | URL,
    protocols?: string | string[],
    options?: WebSocketOptions,
  ): object {
    if (new.target === undefined) {
      throw new TypeError(
        "Failed to construct 'WebSocket': Please use the 'new' operator, this DOM object constructor cannot be called as a function.",
      );
    }
    // WebIDL: `url` is a required argument (a missing one is not "undefined").
    // biome-ignore lint/complexity/noArguments: only arguments tells a missing argument from undefined
    if (arguments.length === 0) {
      throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
    }
    return Reflect.construct(Implementation, [url, protocols, combined(options ?? {})], new.target);
  };
  const prototype = interfaceShaped
    ? Object.create(EventTarget.prototype, Object.getOwnPropertyDescriptors(WebSocket.prototype))
    : Object.create(Base.prototype);
  Object.defineProperty(prototype, 'constructor', {
    value: Derived,
    writable: true,
    enumerable: false,
    configurable: true,
  });
  // As for an interface object: `prototype` is not writable, enumerable or configurable.
  Object.defineProperty(Derived, 'prototype', { value: prototype, writable: false });
  // WebIDL: the length of an interface object is its required arguments.
  Object.defineProperty(Derived, 'length', { value: 1 });
  Object.setPrototypeOf(Derived, interfaceShaped ? EventTarget : Base);
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
  const Derived = function WebSocketStream(
    this: unknown,
    url: string | URL,
    options?: unknown,
    connectionOptions?: WebSocketOptions,
  ): object {
    if (new.target === undefined) {
      throw new TypeError(
        "Failed to construct 'WebSocketStream': Please use the 'new' operator, this DOM object constructor cannot be called as a function.",
      );
    }
    // biome-ignore lint/complexity/noArguments: only arguments tells a missing argument from undefined
    if (arguments.length === 0) {
      throw new TypeError("Failed to construct 'WebSocketStream': 1 argument required, but only 0 present.");
    }
    return Reflect.construct(
      WebSocketStreamImplementation,
      [url, options, combined(connectionOptions ?? {})],
      new.target,
    );
  };
  const prototype = Object.create(
    Object.prototype,
    Object.getOwnPropertyDescriptors(WebSocketStreamImplementation.prototype),
  );
  Object.defineProperty(prototype, 'constructor', {
    value: Derived,
    writable: true,
    enumerable: false,
    configurable: true,
  });
  Object.defineProperty(Derived, 'prototype', { value: prototype, writable: false });
  Object.defineProperty(Derived, 'length', { value: 1 });
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
