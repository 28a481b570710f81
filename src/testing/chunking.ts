/**
 * Test helpers: byte literals, deterministic randomness, and the ways to
 * split a byte string into chunks. Every parser test runs once per split:
 * whole, one byte at a time, and seeded random splits.
 */

/** Bytes from hex text; whitespace is ignored: `hex('81 05 48656c6c6f')`. */
export function hex(text: string): Uint8Array<ArrayBuffer> {
  const clean = text.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/** Hex text from bytes, the inverse of {@link hex}: lowercase, no spaces (`toHex(hex('81 05'))` is `'8105'`). */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** A small seeded PRNG (LCG) returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
}

/** `whole`, `bytewise` and `random-N` splits of `data`; each chunk is a fresh copy (the protocol owns it). */
export function* splits(
  data: Uint8Array,
  seed = 1,
  runs = 6,
): Generator<[name: string, chunks: Uint8Array[]]> {
  yield ['whole', [data.slice()]];
  yield ['bytewise', Array.from(data, (_, i) => data.slice(i, i + 1))];
  const random = seededRandom(seed);
  for (let run = 0; run < runs; run++) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < data.length; ) {
      const size = 1 + Math.floor(random() * 9);
      chunks.push(data.slice(i, i + size));
      i += size;
    }
    yield [`random-${run}`, chunks];
  }
}

/** Random source that always yields the same bytes, for byte-exact assertions. */
export function fixedRandom(...bytes: number[]): (into: Uint8Array) => void {
  return (into) => {
    for (let i = 0; i < into.length; i++) into[i] = bytes[i % bytes.length]!;
  };
}

/** Concatenate byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

export const utf8 = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text);
