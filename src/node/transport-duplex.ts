/**
 * A polysocket {@link Transport} as a Node `stream.Duplex`, so that
 * `tls.connect({ socket })` can run TLS over it: over a proxy tunnel, or
 * any other byte stream a transport provides.
 *
 * Writes made before the transport opened wait for `open` (TLS writes its
 * ClientHello at once). Reading follows the Duplex's backpressure: when
 * `push()` reports a full buffer the transport is paused, and `_read()`
 * resumes it.
 */
import { Duplex } from 'node:stream';

import { type Transport, toError } from '../transports/transport.js';

export class TransportDuplex extends Duplex {
  readonly #transport: Transport;
  #opened: Promise<void>;

  constructor(transport: Transport) {
    // allowHalfOpen: the transport's end (FIN) and ours are independent.
    super({ allowHalfOpen: true });
    this.#transport = transport;
    this.#opened = new Promise((resolve, reject) => {
      transport.once('open', resolve);
      transport.once('close', (error) => reject(error ?? new Error('the transport closed before it opened')));
    });
    // Settled either way; a rejection is read by the writes that wait on it.
    this.#opened.catch(() => {});
    transport.on('data', (chunk) => {
      if (!this.push(chunk)) transport.pause();
    });
    transport.on('end', () => this.push(null));
    transport.once('close', (error) => {
      // The readable side ends with the transport; an error destroys the stream with it.
      if (error !== undefined) this.destroy(error);
      else {
        this.push(null);
        this.destroy();
      }
    });
  }

  override _read(): void {
    this.#transport.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#opened
      .then(() => this.#transport.write(bytes))
      .then(
        () => callback(),
        (error: unknown) => callback(toError(error)),
      );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#opened
      .then(() => this.#transport.end())
      .then(
        () => callback(),
        (error: unknown) => callback(toError(error)),
      );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#transport.destroy(error ?? undefined);
    callback(error);
  }
}
