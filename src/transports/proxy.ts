/**
 * Proxies as stackable transports: a tunnel through an HTTP(S) or SOCKS5
 * proxy, opened over any transport that reaches the proxy, and then itself a
 * {@link Transport} to the target, under TLS for `wss:` when the runtime
 * has a TLS layer to put on top.
 *
 *     ws → [TLS to the target] → proxy tunnel → [TLS to the proxy] → transport
 *
 * The tunnel emits `open` only once the proxy has opened it; until then the
 * bytes on the wire are the proxy's handshake (proxy-handshake.ts), and a
 * proxy that refuses or cannot be reached closes the transport with a
 * {@link ProxyError}.
 */
import { ProxyError } from './proxy-error.js';
import {
  addressBytes,
  authority,
  HttpConnectHandshake,
  type ProxyHandshake,
  Socks5Handshake,
} from './proxy-handshake.js';
import { type ProxyConfig, parseProxyUrl } from './proxy-url.js';
import { Transport, type TransportFactory, type TransportTarget, toError } from './transport.js';

export { type ProxyEnvironment, proxyForUrl } from './proxy-environment.js';
export { ProxyError, type ProxyErrorCode, type ProxyErrorDetails } from './proxy-error.js';
export { type ProxyConfig, type ProxyScheme, parseProxyUrl } from './proxy-url.js';

/** Options of {@link proxyTransport}. */
export interface ProxyTransportOptions {
  /** The proxy: `http://[user:password@]host:port`, `https://…`, `socks5://…` or `socks5h://…`. */
  readonly proxy: string | URL;
  /**
   * Opens the byte stream to the proxy. It is called with the proxy as the
   * target (`secure` for an `https:` proxy, so the transport must speak TLS
   * to the proxy itself).
   */
  readonly connect: TransportFactory;
  /**
   * Resolves the target's host name to an IP address, for `socks5:` (which
   * sends the proxy an address; `socks5h:` sends the name). Without it,
   * `socks5:` to a host name fails with a {@link ProxyError} `'unsupported'`.
   */
  readonly resolve?: (host: string) => Promise<string>;
  /**
   * Puts TLS to the target on the tunnel, for `wss:`. Without it, `wss:`
   * through the proxy fails with a {@link ProxyError} `'unsupported'`
   * before connecting: the tunnel alone would carry plain text.
   */
  readonly tls?: (tunnel: Transport, target: TransportTarget) => Transport;
}

/**
 * A `TransportFactory` whose connections go through a proxy, e.g. SOCKS5
 * over a Direct Sockets `TCPSocket`:
 *
 *     proxyTransport({ proxy: 'socks5h://127.0.0.1:1080', connect: directSocketsTransport() })
 *
 * @throws TypeError for a proxy URL that cannot be parsed.
 */
export function proxyTransport(options: ProxyTransportOptions): TransportFactory {
  const config = parseProxyUrl(options.proxy);
  return (target) => tunnelTransport(target, config, options);
}

/** The transport to `target` through the proxy `config` (TLS on top for `wss:`). @internal */
export function tunnelTransport(
  target: TransportTarget,
  config: ProxyConfig,
  options: Omit<ProxyTransportOptions, 'proxy'>,
): Transport {
  if (target.secure && options.tls === undefined) {
    return new FailedTransport(
      new ProxyError(
        'unsupported',
        config.display,
        authority(target.host, target.port),
        'wss: through a proxy needs TLS on top of the tunnel, and no TLS layer was given (the tls option); this runtime has none built in',
      ),
    );
  }
  const tunnel = new ProxyTransport(target, config, options);
  return target.secure && options.tls !== undefined ? options.tls(tunnel, target) : tunnel;
}

/**
 * A tunnel through a proxy to the target: the proxy's handshake first, then
 * the target's bytes. Not `secure` even through an `https:` proxy, whose
 * TLS ends at the proxy.
 */
export class ProxyTransport extends Transport {
  readonly secure = false;
  readonly #inner: Transport;
  readonly #config: ProxyConfig;
  readonly #target: TransportTarget;
  readonly #resolve: ((host: string) => Promise<string>) | undefined;
  #handshake: ProxyHandshake | null = null;
  /** The inner transport opened (the proxy is reachable). */
  #connected = false;
  /** The proxy opened the tunnel: `open` was emitted. */
  #open = false;
  #error: Error | undefined;
  /** Bytes the proxy sent before the handshake object existed (during a SOCKS5 name lookup, which is never). */
  #early: Uint8Array[] = [];

  constructor(target: TransportTarget, config: ProxyConfig, options: Omit<ProxyTransportOptions, 'proxy'>) {
    super();
    this.#config = config;
    this.#target = target;
    this.#resolve = options.resolve;
    this.#inner = options.connect({
      url: config.display,
      host: config.host,
      port: config.port,
      secure: config.scheme === 'https',
    });
    this.#inner.on('open', () => {
      this.#connected = true;
      void this.#start();
    });
    this.#inner.on('data', (chunk) => {
      if (this.#open) this.emit('data', chunk);
      else if (this.#handshake === null) this.#early.push(chunk);
      else this.#feed(chunk);
    });
    this.#inner.on('end', () => {
      if (this.#open) this.emit('end');
      else
        this.#fail(
          this.#handshake?.eof() ?? this.#proxyError('protocol', 'it closed the connection at once'),
        );
    });
    this.#inner.once('close', (error) => {
      let reported = this.#error ?? error;
      // A failure of the proxy's: say so (a destroy() from above keeps its own error).
      if (!this.#open && this.#error === undefined) {
        reported = this.#connected
          ? (this.#handshake?.eof() ?? this.#proxyError('protocol', 'it closed the connection at once'))
          : this.#proxyError(
              'proxy-unreachable',
              `cannot connect to it: ${error?.message ?? 'closed'}`,
              error,
            );
      }
      this.emit('close', reported);
      this.removeAllListeners();
    });
  }

  get supportsHalfClose(): boolean {
    return this.#inner.supportsHalfClose;
  }

  override write(chunk: Uint8Array): Promise<void> {
    if (!this.#open) return Promise.reject(new Error('write before the proxy opened the tunnel'));
    return this.#inner.write(chunk);
  }

  override end(): Promise<void> {
    return this.#inner.end();
  }

  override destroy(error?: Error): void {
    if (error !== undefined) this.#error ??= error;
    this.#inner.destroy(error);
  }

  override pause(): void {
    this.#inner.pause();
  }

  override resume(): void {
    this.#inner.resume();
  }

  async #start(): Promise<void> {
    const { host, port } = this.#target;
    let handshake: ProxyHandshake;
    try {
      if (this.#config.scheme === 'http' || this.#config.scheme === 'https') {
        handshake = new HttpConnectHandshake(this.#config, host, port);
      } else if (this.#config.scheme === 'socks5h' || addressBytes(host) !== null) {
        handshake = new Socks5Handshake(this.#config, host, port);
      } else {
        // socks5: "the client resolves the name": the proxy gets an address.
        if (this.#resolve === undefined) {
          throw this.#proxyError(
            'unsupported',
            'socks5: sends the proxy an IP address, and this runtime cannot resolve host names (use socks5h:, which lets the proxy resolve them)',
          );
        }
        let address: string;
        try {
          address = await this.#resolve(host);
        } catch (error) {
          throw this.#proxyError(
            'unsupported',
            `cannot resolve ${host} for socks5: (${toError(error).message})`,
            error,
          );
        }
        handshake = new Socks5Handshake(this.#config, address, port, host);
      }
      this.#handshake = handshake;
      this.#send(handshake.start().send);
      const early = this.#early;
      this.#early = [];
      for (const chunk of early) this.#feed(chunk);
    } catch (error) {
      this.#fail(toError(error));
    }
  }

  #feed(chunk: Uint8Array): void {
    if (this.#open || this.#error !== undefined) return;
    let step: ReturnType<ProxyHandshake['receive']>;
    try {
      step = this.#handshake!.receive(chunk);
    } catch (error) {
      this.#fail(toError(error));
      return;
    }
    this.#send(step.send);
    if (!step.done) return;
    this.#open = true;
    this.emit('open');
    if (step.rest.byteLength > 0 && this.#error === undefined) this.emit('data', step.rest);
  }

  #send(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.#inner.write(bytes).catch((error: unknown) => this.#fail(toError(error)));
  }

  #fail(error: Error): void {
    this.destroy(error);
  }

  #proxyError(code: ProxyError['code'], why: string, cause?: unknown): ProxyError {
    return new ProxyError(
      code,
      this.#config.display,
      authority(this.#target.host, this.#target.port),
      why,
      cause === undefined ? {} : { cause },
    );
  }
}

/** A transport that never connects: it closes with `error` (asynchronously, as the contract wants). */
class FailedTransport extends Transport {
  readonly supportsHalfClose = false;
  readonly secure = false;
  #closed = false;

  constructor(error: Error) {
    super();
    queueMicrotask(() => this.#close(error));
  }

  override write(): Promise<void> {
    return Promise.reject(new Error('the transport failed before connecting'));
  }

  override end(): Promise<void> {
    return Promise.resolve();
  }

  override destroy(error?: Error): void {
    queueMicrotask(() => this.#close(error));
  }

  #close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close', error);
    this.removeAllListeners();
  }
}

/** A transport that closes with `error` at once, for a proxy configuration that cannot work. @internal */
export function failedTransport(error: Error): Transport {
  return new FailedTransport(error);
}
