/**
 * SHA-1 (FIPS 180-4, sections 5.1.1, 5.3.1 and 6.1), for `Sec-WebSocket-Accept`
 * only. It must be synchronous (`crypto.subtle.digest` is asynchronous and
 * absent outside secure contexts) and the algorithm is fixed, so these few
 * lines cost less bundle than a hashing library's generic machinery (about
 * 1.3 KB of a 12 KB gzipped budget). `sha1.test.ts` checks the FIPS vectors
 * and compares it with `node:crypto` and `@noble/hashes` on random input.
 */

/** 4.2.1: the constants K_t, one per group of 20 rounds. */
const K = [0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6];

/** 3.2: ROTL^n(x), the circular left shift of a 32-bit word. */
function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** The 20-byte SHA-1 digest of `message`. */
export function sha1(message: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = message.byteLength;
  // 5.1.1: append the bit "1", then zeros up to 448 bits mod 512, then the
  // message length in bits as a 64-bit big-endian integer.
  const padded = new Uint8Array((((length + 8) >>> 6) + 1) * 64);
  padded.set(message);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.byteLength - 8, Math.floor(length / 2 ** 29));
  view.setUint32(padded.byteLength - 4, (length * 8) >>> 0);
  // 5.3.1: the initial hash value H(0).
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Int32Array(80);
  // 6.1.2: process each 512-bit block M(i).
  for (let offset = 0; offset < padded.byteLength; offset += 64) {
    // 1. Prepare the message schedule W_t.
    for (let t = 0; t < 80; t++) {
      w[t] =
        t < 16 ? view.getInt32(offset + 4 * t) : rotl(w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!, 1);
    }
    // 2. Initialize the working variables with the previous hash value.
    let [a, b, c, d, e] = h as [number, number, number, number, number];
    // 3. Eighty rounds; f_t (4.1.1) is Ch, Parity, Maj, Parity by groups of 20.
    for (let t = 0; t < 80; t++) {
      const group = (t / 20) | 0;
      const f = group === 0 ? (b & c) ^ (~b & d) : group === 2 ? (b & c) ^ (b & d) ^ (c & d) : b ^ c ^ d;
      const temp = (rotl(a, 5) + f + e + K[group]! + w[t]!) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = temp;
    }
    // 4. Compute the intermediate hash value H(i).
    const working = [a, b, c, d, e];
    for (let i = 0; i < 5; i++) h[i] = (h[i]! + working[i]!) | 0;
  }
  // 6.1.2: the digest is H(N), each word big-endian (written over the
  // padded message, which is no longer needed).
  for (let i = 0; i < 5; i++) view.setUint32(4 * i, h[i]!);
  return padded.slice(0, 20);
}
