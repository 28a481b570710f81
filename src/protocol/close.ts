/** Close frame payloads (RFC 6455, section 5.5.1). */
import { NO_STATUS_RCVD } from './close-code.js';
import { InvalidUtf8Error, ProtocolError } from './errors.js';
import { MAX_CLOSE_REASON } from './limits.js';
import { decodeUtf8, encodeUtf8 } from './platform.js';
import { isValidUtf8 } from './utf8.js';

/** Code and reason of a close frame. */
export interface Close {
  readonly code: number;
  readonly reason: string;
}

/**
 * Whether `code` may appear in a close frame (RFC 6455, section 7.4):
 * 1000–1003 and 1007–1014 from the IANA registry, 3000–4999 for libraries,
 * frameworks and applications. 1004 is reserved; 1005, 1006 and 1015 "MUST
 * NOT be set as a status code in a Close control frame by an endpoint".
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/**
 * Parse the payload of a close frame. An empty payload means "no status
 * received": the code is synthesized as 1005 and never sent back.
 *
 * @throws {@link ProtocolError} if the payload is one byte long or the code is invalid.
 * @throws {@link InvalidUtf8Error} if the reason isn't valid UTF-8.
 */
export function parseClose(data: Uint8Array): Close {
  if (data.byteLength === 0) return { code: NO_STATUS_RCVD, reason: '' };
  if (data.byteLength === 1) throw new ProtocolError('close frame too short');
  const code = (data[0]! << 8) | data[1]!;
  if (!isValidCloseCode(code)) throw new ProtocolError(`invalid close code: ${code}`);
  const reasonBytes = data.subarray(2);
  // 5.5.1: "the body ... MAY contain UTF-8-encoded data"; 8.1 makes invalid
  // UTF-8 fail the connection.
  if (!isValidUtf8(reasonBytes)) throw new InvalidUtf8Error('invalid UTF-8 in close reason');
  return { code, reason: decodeUtf8(reasonBytes) };
}

/**
 * Serialize a close payload.
 *
 * @throws {@link ProtocolError} if the code may not be sent or the reason is longer than 123 bytes.
 */
export function serializeClose(close: Close): Uint8Array<ArrayBuffer> {
  if (!isValidCloseCode(close.code)) throw new ProtocolError(`invalid close code: ${close.code}`);
  const reason = encodeUtf8(close.reason);
  if (reason.byteLength > MAX_CLOSE_REASON) {
    throw new ProtocolError(`close reason of ${reason.byteLength} bytes exceeds ${MAX_CLOSE_REASON} bytes`);
  }
  const out = new Uint8Array(2 + reason.byteLength);
  out[0] = close.code >>> 8;
  out[1] = close.code & 0xff;
  out.set(reason, 2);
  return out;
}

/** Shorten `reason` to at most 123 bytes of UTF-8 without splitting a code point. */
export function truncateReason(reason: string): string {
  const bytes = encodeUtf8(reason);
  if (bytes.byteLength <= MAX_CLOSE_REASON) return reason;
  let end = MAX_CLOSE_REASON;
  // Back off while bytes[end] is a continuation byte: it belongs to a code
  // point that started before the cut.
  while (end > 0 && (bytes[end]! & 0b11000000) === 0b10000000) end--;
  return decodeUtf8(bytes.subarray(0, end));
}
