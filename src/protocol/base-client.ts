/**
 * Client side of the Sans-I/O protocol, after websockets' `client.py`, as
 * the WHATWG `WebSocket` needs it: the URI comes parsed (by `URL`) and a
 * non-101 response is read up to the end of its head. The public
 * `ClientProtocol` (`client.ts`) adds string URIs and reading the body of a
 * non-101 response; it is a subclass so that bundles of the `WebSocket`
 * leave those out (a bundler cannot drop part of a class).
 */
import { encodeBase64 } from './base64.js';
import type { ByteQueue } from './byte-queue.js';
import {
  InvalidHandshakeError,
  InvalidHeaderError,
  InvalidStateError,
  InvalidStatusError,
  InvalidUpgradeError,
  NegotiationError,
} from './errors.js';
import type { ClientExtensionFactory, Extension } from './extensions/base.js';
import { computeAccept, generateKey } from './handshake.js';
import {
  buildExtensionList,
  buildSubprotocolList,
  Headers,
  parseConnection,
  parseExtensionList,
  parseSubprotocolList,
  parseUpgrade,
} from './headers.js';
import {
  type HttpLimits,
  type Request,
  type Response,
  ResponseHeadReader,
  request,
  serializeRequest,
} from './http11.js';
import { defaultRandom, encodeUtf8 } from './platform.js';
import { Protocol, type ProtocolOptions, State } from './protocol.js';
import { buildHost, type WebSocketUri } from './uri.js';

/** Options of a `ClientProtocol`. */
export interface ClientProtocolOptions extends ProtocolOptions {
  /** Value of the `Origin` header; `null` sends none. @defaultValue `null` */
  readonly origin?: string | null;
  /** Extensions to offer, in order of preference. @defaultValue `[]` */
  readonly extensions?: readonly ClientExtensionFactory[];
  /** Subprotocols to offer, in order of preference; each must be a token. @defaultValue `[]` */
  readonly subprotocols?: readonly string[];
  /**
   * Extra request headers. Validated against CR/LF injection; they may not
   * replace the headers the handshake itself needs.
   * @defaultValue none
   */
  readonly headers?: Iterable<readonly [string, string]> | Readonly<Record<string, string>>;
  /** Value of the `User-Agent` header; `null` sends none. @defaultValue `null` */
  readonly userAgent?: string | null;
  /** Limits of the HTTP response reader. @defaultValue see `limits.ts` */
  readonly httpLimits?: HttpLimits;
}

/** Headers the handshake sets itself; extra headers may not override them. */
const RESERVED_HEADERS = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

/**
 * Sans-I/O client: build the handshake request with `connect()`, send it
 * with `sendRequest()`, then feed bytes. The first event is the `Response`;
 * if `handshakeError` is set then, the handshake failed. Internal: the
 * public API is its subclass `ClientProtocol`.
 */
export class BaseClientProtocol extends Protocol<Response> {
  /** The URI connected to. */
  readonly uri: WebSocketUri;
  readonly #origin: string | null;
  readonly #availableExtensions: readonly ClientExtensionFactory[];
  readonly #availableSubprotocols: readonly string[];
  readonly #extraHeaders: Headers;
  readonly #userAgent: string | null;
  readonly #random: NonNullable<ProtocolOptions['random']>;
  readonly #reader: ResponseHeadReader;
  #key: string | null = null;
  #subprotocol: string | null = null;

  /**
   * @param uri - Parsed already (the WHATWG layer parses with `URL`).
   * @param reader - Reads the response: by default its head only; a
   *   `ResponseReader` reads the body of a non-101 response too.
   * @throws TypeError if a subprotocol, the origin or a header is invalid.
   */
  constructor(
    uri: WebSocketUri,
    options: ClientProtocolOptions = {},
    reader: ResponseHeadReader = new ResponseHeadReader(options.httpLimits),
  ) {
    super('client', { ...options, state: options.state ?? State.CONNECTING });
    this.uri = uri;
    this.#origin = options.origin ?? null;
    this.#availableExtensions = options.extensions ?? [];
    const subprotocols = options.subprotocols ?? [];
    buildSubprotocolList(subprotocols); // throws if one isn't a token
    if (new Set(subprotocols).size !== subprotocols.length) throw new TypeError('duplicate subprotocol');
    this.#availableSubprotocols = subprotocols;
    this.#extraHeaders = new Headers(options.headers);
    for (const [name] of this.#extraHeaders) {
      if (RESERVED_HEADERS.has(name.toLowerCase()))
        throw new TypeError(`header ${name} is set by the handshake`);
    }
    this.#userAgent = options.userAgent ?? null;
    this.#random = options.random ?? defaultRandom;
    this.#reader = reader;
    // Validate what connect() will send now, not later.
    if (this.#origin !== null) new Headers([['Origin', this.#origin]]);
    if (this.#userAgent !== null) new Headers([['User-Agent', this.#userAgent]]);
  }

  /** Subprotocol selected by the server, once the handshake succeeded. */
  get subprotocol(): string | null {
    return this.#subprotocol;
  }

  /**
   * Build the handshake request (RFC 6455, 4.1). Send it with `sendRequest()`.
   */
  connect(): Request {
    const headers = new Headers();
    headers.append('Host', buildHost(this.uri));
    if (this.uri.userInfo !== null) {
      const [user, password] = this.uri.userInfo;
      headers.append('Authorization', `Basic ${encodeBase64(encodeUtf8(`${user}:${password}`))}`);
    }
    if (this.#origin !== null) headers.append('Origin', this.#origin);
    headers.append('Upgrade', 'websocket');
    headers.append('Connection', 'Upgrade');
    headers.append('Sec-WebSocket-Key', generateKey(this.#random));
    headers.append('Sec-WebSocket-Version', '13');
    if (this.#availableExtensions.length > 0) {
      headers.append(
        'Sec-WebSocket-Extensions',
        buildExtensionList(this.#availableExtensions.map((f) => [f.name, f.getRequestParams()] as const)),
      );
    }
    if (this.#availableSubprotocols.length > 0) {
      headers.append('Sec-WebSocket-Protocol', buildSubprotocolList(this.#availableSubprotocols));
    }
    for (const [name, value] of this.#extraHeaders) headers.append(name, value);
    if (this.#userAgent !== null) headers.append('User-Agent', this.#userAgent);
    return request(this.uri.resourceName, headers);
  }

  /**
   * Send the handshake request built by `connect()`.
   *
   * @throws {@link InvalidStateError} if a request was sent already or the connection isn't connecting.
   */
  sendRequest(req: Request): void {
    if (this.#key !== null || this.state !== State.CONNECTING)
      throw new InvalidStateError('request already sent');
    this.#key = req.headers.getOne('Sec-WebSocket-Key');
    const data = serializeRequest(req);
    this.log?.head('>', req);
    this.pushWrite(data);
  }

  protected override readHandshake(queue: ByteQueue, eof: boolean): boolean {
    const res = this.#reader.read(queue, eof);
    if (res === null) return false;
    this.log?.head('<', res);
    let extensions: Extension[];
    try {
      extensions = this.#processResponse(res);
    } catch (error) {
      this.pushEvent(res);
      if (!(error instanceof InvalidHandshakeError)) throw error;
      this.failHandshake(error);
      return true;
    }
    this.openConnection(extensions);
    this.pushEvent(res);
    return true;
  }

  /**
   * Check the response (RFC 6455, 4.1, "the client MUST validate the
   * server's response as follows") and negotiate extensions and subprotocol.
   */
  #processResponse(res: Response): Extension[] {
    if (this.#key === null) throw new InvalidHandshakeError('response received before the request was sent');
    // 1. "If the status code received from the server is not 101, the client
    // handles the response per HTTP procedures."
    if (res.status !== 101) throw new InvalidStatusError(res);
    const headers = res.headers;
    // 2./3. "If the response lacks an |Upgrade| header field or the |Upgrade|
    // header field contains a value that is not an ASCII case-insensitive
    // match for the value "websocket" ... If the response lacks a
    // |Connection| header field or the |Connection| header field doesn't
    // contain a token that is an ASCII case-insensitive match for the value
    // "Upgrade", the client MUST _Fail the WebSocket Connection_."
    const connection = headers.getAll('Connection');
    if (!connection.flatMap(parseConnection).some((t) => t.toLowerCase() === 'upgrade')) {
      throw new InvalidUpgradeError('Connection', connection.length === 0 ? null : connection.join(', '));
    }
    const upgrade = headers.getAll('Upgrade');
    const upgradeTokens = upgrade.flatMap(parseUpgrade);
    if (upgradeTokens.length !== 1 || upgradeTokens[0]!.toLowerCase() !== 'websocket') {
      throw new InvalidUpgradeError('Upgrade', upgrade.length === 0 ? null : upgrade.join(', '));
    }
    // 4. "If the response lacks a |Sec-WebSocket-Accept| header field or the
    // |Sec-WebSocket-Accept| contains a value other than the base64-encoded
    // SHA-1 of the concatenation of the |Sec-WebSocket-Key| (as a string,
    // not base64-decoded) with the string "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    // ... the client MUST _Fail the WebSocket Connection_."
    const accept = headers.getOne('Sec-WebSocket-Accept');
    if (accept !== computeAccept(this.#key)) throw new InvalidHeaderError('Sec-WebSocket-Accept', accept);
    // 5. extensions "not present in the client's handshake" fail it.
    const extensions = this.#processExtensions(headers);
    // 6. a subprotocol "not present in the client's handshake" fails it.
    this.#subprotocol = this.#processSubprotocol(headers);
    return extensions;
  }

  #processExtensions(headers: Headers): Extension[] {
    const accepted: Extension[] = [];
    const values = headers.getAll('Sec-WebSocket-Extensions');
    if (values.length === 0) return accepted;
    for (const [name, params] of values.flatMap(parseExtensionList)) {
      let extension: Extension | null = null;
      for (const factory of this.#availableExtensions) {
        if (factory.name !== name) continue;
        try {
          extension = factory.processResponseParams(params, accepted);
          break;
        } catch (error) {
          if (!(error instanceof NegotiationError)) throw error;
          // Keep the most specific reason if no other factory accepts.
          if (this.#availableExtensions.filter((f) => f.name === name).length === 1) throw error;
        }
      }
      if (extension === null) {
        const described = params.map(([k, v]) => (v === null ? k : `${k}=${v}`)).join('; ');
        throw new NegotiationError(`unsupported extension: ${name}${described ? `; ${described}` : ''}`);
      }
      accepted.push(extension);
    }
    return accepted;
  }

  #processSubprotocol(headers: Headers): string | null {
    const values = headers.getAll('Sec-WebSocket-Protocol');
    if (values.length === 0) return null;
    if (this.#availableSubprotocols.length === 0) throw new NegotiationError('no subprotocols supported');
    const subprotocols = values.flatMap(parseSubprotocolList);
    if (subprotocols.length > 1)
      throw new NegotiationError(`multiple subprotocols: ${subprotocols.join(', ')}`);
    const [subprotocol] = subprotocols as [string];
    if (!this.#availableSubprotocols.includes(subprotocol)) {
      throw new NegotiationError(`unsupported subprotocol: ${subprotocol}`);
    }
    return subprotocol;
  }
}
