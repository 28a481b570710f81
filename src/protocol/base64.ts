/**
 * Standard base64 (RFC 4648, section 4), only as much as the opening
 * handshake needs: encoding a 16-byte key and a 20-byte digest, and strictly
 * decoding a received key. Written out because `btoa`/`atob` are absent from
 * the ES2022 core and work on binary strings, and `Buffer` is Node-only.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    // A final group of one or two bytes is padded with zero bits, then "=".
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]!;
    out += i + 1 < bytes.length ? ALPHABET[(n >>> 6) & 63]! : '=';
    out += i + 2 < bytes.length ? ALPHABET[n & 63]! : '=';
  }
  return out;
}

/**
 * Decode canonical, padded base64. Returns `null` for anything else
 * (wrong length, characters outside the alphabet, non-zero padding bits).
 */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (text.length % 4 !== 0) return null;
  let padding = 0;
  if (text.endsWith('==')) padding = 2;
  else if (text.endsWith('=')) padding = 1;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text[i + j]!;
      let v: number;
      if (c === '=' && i + 4 === text.length && j >= 4 - padding) v = 0;
      else {
        v = ALPHABET.indexOf(c);
        if (v === -1) return null;
      }
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = n >>> 16;
    if (o < out.length) out[o++] = (n >>> 8) & 0xff;
    else if (padding === 2 && (n & 0xffff) !== 0) return null;
    if (o < out.length) out[o++] = n & 0xff;
    else if (padding === 1 && (n & 0xff) !== 0) return null;
  }
  return out;
}
