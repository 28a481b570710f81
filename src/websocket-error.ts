/**
 * `WebSocketError`, the error of the `WebSocketStream` API
 * (https://github.com/whatwg/websockets/pull/48, as Chromium ships it): a
 * `DOMException` named "WebSocketError" (legacy code 0) carrying a close
 * code and reason. A `WebSocketStream`'s `closed` promise rejects with one
 * when the connection did not close cleanly, and the application passes one
 * to `writable.abort()` or `readable.cancel()` to close with a code.
 */
import { checkCloseCodeAndReason, enforceUnsignedShort, toDictionary } from './webidl.js';

/** https://github.com/whatwg/websockets/pull/48: `dictionary WebSocketErrorOptions`. */
export interface WebSocketErrorOptions {
  closeCode?: number | null;
  reason?: string;
}

const CONSTRUCT = "Failed to construct 'WebSocketError'";

/**
 * The close code and reason of errors made by `closedError()`: what the
 * connection ended with, which the constructor would refuse (1006, or any
 * code a server sent). A WeakMap rather than a static block, so that a
 * bundle that never uses the class can drop it.
 */
const received = new WeakMap<WebSocketError, { readonly closeCode: number; readonly reason: string }>();

export class WebSocketError extends DOMException {
  readonly #closeCode: number | null;
  readonly #reason: string;

  /**
   * @throws DOMException "InvalidAccessError" if `closeCode` is neither 1000 nor in 3000–4999.
   * @throws DOMException "SyntaxError" if `reason` is longer than 123 bytes of UTF-8.
   */
  constructor(message = '', init: WebSocketErrorOptions = {}) {
    // 1. Set this's name to "WebSocketError" and its message to message.
    super(message === undefined ? '' : String(message), 'WebSocketError');
    const options = toDictionary(init, CONSTRUCT);
    // 2. Let code be init["closeCode"] if it exists, or null otherwise.
    // 3. Let reason be init["reason"] if it exists, or the empty string otherwise.
    let code =
      options['closeCode'] === undefined || options['closeCode'] === null
        ? null
        : enforceUnsignedShort(options['closeCode'], CONSTRUCT);
    const reason = options['reason'] === undefined ? '' : String(options['reason']);
    // 4. Validate close code and reason given code and reason.
    const sent = checkCloseCodeAndReason(code, reason, CONSTRUCT);
    // 5. If reason is non-empty, but code is not set, then set code to 1000.
    if (sent !== '' && code === null) code = 1000;
    // 6. Set this's closeCode to code and this's reason to reason.
    this.#closeCode = code;
    this.#reason = sent;
  }

  /** The close code: sent to the peer (an abort or cancel reason) or received (a `closed` rejection). */
  get closeCode(): number | null {
    return received.get(this)?.closeCode ?? this.#closeCode;
  }

  /** The close reason. */
  get reason(): string {
    return received.get(this)?.reason ?? this.#reason;
  }
}

// WebIDL attributes are enumerable accessors; class getters are not.
for (const name of ['closeCode', 'reason']) {
  Object.defineProperty(WebSocketError.prototype, name, {
    ...Object.getOwnPropertyDescriptor(WebSocketError.prototype, name),
    enumerable: true,
  });
}

/**
 * The `WebSocketError` of a connection that ended with `closeCode` and
 * `reason` without closing cleanly.
 *
 * @internal
 */
export function closedError(message: string, closeCode: number, reason: string): WebSocketError {
  const error = new WebSocketError(message);
  received.set(error, { closeCode, reason });
  return error;
}
