/**
 * Default limits, and the check of a limit given as an option. Each one
 * bounds memory that a peer could otherwise make us allocate; every one can
 * be changed through options, and `null` disables the limits that are
 * options.
 */

/**
 * Check a limit option: a non-negative integer, `null` (no limit) or
 * `undefined` (the default).
 *
 * @throws RangeError if `value` is anything else.
 */
export function checkLimit(name: string, value: number | null | undefined): void {
  if (value === undefined || value === null) return;
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name} must be a non-negative integer or null`);
}

/**
 * Default `maxMessageSize` of `ClientProtocol` and `ServerProtocol`: the
 * largest incoming message, after decompression: 1 MiB, as in Python
 * `websockets`. The WebSocket class has a default of its own, far larger,
 * for parity with browsers.
 */
export const DEFAULT_PROTOCOL_MAX_MESSAGE_SIZE = 2 ** 20;

/**
 * Longest line of an HTTP head. Browsers and proxies cap a whole head at
 * 8–16 KiB; `websockets` caps each line at 8 KiB. Real handshake lines are a
 * few hundred bytes; cookies are the long ones.
 */
export const MAX_LINE_LENGTH = 8192;

/** Most header fields in an HTTP head (`websockets` and Node's llhttp use 128 and 2000; handshakes use ~10). */
export const MAX_NUM_HEADERS = 128;

/** Largest body of a non-101 response kept for `InvalidStatusError` (1 MiB, as in `websockets`). */
export const MAX_BODY_SIZE = 2 ** 20;

/** Largest payload of a control frame (RFC 6455, section 5.5: "125 bytes or less"). */
export const MAX_CONTROL_PAYLOAD = 125;

/** Longest close reason: 125 bytes of payload minus the 2-byte code. */
export const MAX_CLOSE_REASON = 123;

/**
 * Most bytes a server keeps that its client sent after the request and
 * before the server's response. RFC 6455, 4.1: the client "MUST wait for a
 * response from the server before sending any further data"; an eager
 * client's first frames are still served, but a peer streaming data at a
 * server that hasn't answered yet can't make it buffer without bound.
 */
export const MAX_EARLY_DATA = 64 * 1024;
