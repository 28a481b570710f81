/** `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455, sections 1.3 and 4). */
import { encodeBase64 } from './base64.js';
import { encodeLatin1, type RandomSource } from './platform.js';
import { sha1 } from './sha1.js';

/** 1.3: the GUID appended to the key. */
export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * 4.1: "The request MUST include a header field with the name
 * |Sec-WebSocket-Key|. The value of this header field MUST be a nonce
 * consisting of a randomly selected 16-byte value that has been
 * base64-encoded".
 */
export function generateKey(random: RandomSource): string {
  const nonce = new Uint8Array(16);
  random(nonce);
  return encodeBase64(nonce);
}

/**
 * 1.3: "the server has to take the value (as present in the header field,
 * e.g., the base64-encoded [RFC4648] version minus any leading and trailing
 * whitespace) and concatenate this with the Globally Unique Identifier ...
 * A SHA-1 hash (160 bits) [FIPS.180-3], base64-encoded ... of this
 * concatenation is then returned in the server's handshake."
 *
 * SHA-1 is synchronous (`sha1.ts`): `crypto.subtle.digest` is async and
 * absent outside secure contexts.
 */
export function computeAccept(key: string): string {
  return encodeBase64(sha1(encodeLatin1(key + GUID)));
}
