/** Server side of the Sans-I/O protocol, after websockets' `server.py`. */

import { decodeBase64 } from './base64.js';
import type { ByteQueue } from './byte-queue.js';
import {
  InvalidHandshakeError,
  InvalidHeaderError,
  InvalidMessageError,
  InvalidOriginError,
  InvalidStateError,
  InvalidStatusError,
  InvalidUpgradeError,
  InvalidVersionError,
  NegotiationError,
  ProtocolError,
} from './errors.js';
import type { Extension, ServerExtensionFactory } from './extensions/base.js';
import { computeAccept } from './handshake.js';
import {
  buildExtensionList,
  type ExtensionHeader,
  Headers,
  isToken,
  parseConnection,
  parseExtensionList,
  parseSubprotocolList,
  parseUpgrade,
} from './headers.js';
import {
  type HttpLimits,
  type Request,
  RequestReader,
  type Response,
  response,
  serializeResponse,
} from './http11.js';
import { checkLimit, MAX_EARLY_DATA } from './limits.js';
import { withProtocolLog } from './logging.js';
import { encodeUtf8 } from './platform.js';
import { Protocol, type ProtocolOptions, State } from './protocol.js';

/**
 * Chooses the subprotocol from the client's offers (in its order of
 * preference); `null` selects none. Throw a {@link NegotiationError} to
 * reject the handshake with 400.
 */
export type SelectSubprotocol = (offered: readonly string[], available: readonly string[]) => string | null;

/** Options of a `ServerProtocol`. */
export interface ServerProtocolOptions extends ProtocolOptions {
  /**
   * Acceptable `Origin` values; `null` in the list accepts requests without
   * an `Origin` (non-browser clients). Omit to accept any origin.
   * @defaultValue any origin
   */
  readonly origins?: readonly (string | null)[];
  /** Origin check hook, run after `origins`; return `false` to reject with 403. */
  readonly checkOrigin?: (origin: string | null, request: Request) => boolean;
  /** Extensions to accept, in order of preference. @defaultValue `[]` */
  readonly extensions?: readonly ServerExtensionFactory[];
  /** Supported subprotocols, in order of preference. @defaultValue `[]` */
  readonly subprotocols?: readonly string[];
  /**
   * Subprotocol selection hook.
   * @defaultValue the first subprotocol offered by the client that is in `subprotocols`
   */
  readonly selectSubprotocol?: SelectSubprotocol;
  /** Value of the `Server` header; `null` sends none. @defaultValue `null` */
  readonly serverHeader?: string | null;
  /** Limits of the HTTP request reader. @defaultValue see `limits.ts` */
  readonly httpLimits?: HttpLimits;
  /**
   * Most bytes kept that the client sends after its request and before
   * `sendResponse()` (it must wait for the response, RFC 6455 4.1). Beyond
   * that they are dropped, and a 101 response is followed by a close frame
   * with 1002. `null`: no limit.
   * @defaultValue 64 KiB (`MAX_EARLY_DATA`)
   */
  readonly maxEarlyData?: number | null;
}

const defaultSelectSubprotocol: SelectSubprotocol = (offered, available) =>
  offered.find((s) => available.includes(s)) ?? null;

const STATUS_TEXT: Readonly<Record<number, string>> = {
  101: 'Switching Protocols',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Sans-I/O server: feed bytes; the first event is the `Request`. Answer it
 * with `accept(request)` (or `reject()`) and `sendResponse()`. If
 * `handshakeError` is set after `accept()`, the response is an error
 * response and the connection will close once it is sent.
 */
export class ServerProtocol extends Protocol<Request> {
  readonly #origins: readonly (string | null)[] | null;
  readonly #checkOrigin: NonNullable<ServerProtocolOptions['checkOrigin']> | null;
  readonly #availableExtensions: readonly ServerExtensionFactory[];
  readonly #availableSubprotocols: readonly string[];
  readonly #selectSubprotocol: SelectSubprotocol;
  readonly #serverHeader: string | null;
  readonly #reader: RequestReader;
  /** Most bytes kept that the client sent before the 101 response; `null`: no limit. */
  readonly #earlyDataLimit: number | null;
  /** The client sent more than that, and it was dropped. */
  #earlyDataDropped = false;
  #pendingExtensions: readonly Extension[] = [];
  #subprotocol: string | null = null;
  #responseSent = false;

  /**
   * @throws TypeError if a subprotocol or the server header is invalid.
   * @throws RangeError if a limit is not a non-negative integer or `null`.
   */
  constructor(options: ServerProtocolOptions = {}) {
    super('server', withProtocolLog({ ...options, state: options.state ?? State.CONNECTING }));
    checkLimit('maxEarlyData', options.maxEarlyData);
    this.#earlyDataLimit = options.maxEarlyData === undefined ? MAX_EARLY_DATA : options.maxEarlyData;
    this.#origins = options.origins ?? null;
    this.#checkOrigin = options.checkOrigin ?? null;
    this.#availableExtensions = options.extensions ?? [];
    const subprotocols = options.subprotocols ?? [];
    for (const s of subprotocols)
      if (!isToken(s)) throw new TypeError(`invalid subprotocol: ${JSON.stringify(s)}`);
    this.#availableSubprotocols = subprotocols;
    this.#selectSubprotocol = options.selectSubprotocol ?? defaultSelectSubprotocol;
    this.#serverHeader = options.serverHeader ?? null;
    if (this.#serverHeader !== null) new Headers([['Server', this.#serverHeader]]);
    this.#reader = new RequestReader(options.httpLimits);
  }

  /** Subprotocol selected by `accept()`, once the 101 response is sent. */
  get subprotocol(): string | null {
    return this.state === State.CONNECTING ? null : this.#subprotocol;
  }

  /**
   * Build the response to a handshake request: 101 if it is valid and
   * acceptable, else the error response that `statusHint` of the error
   * calls for (400, 403, 405, 426 with `Sec-WebSocket-Version: 13`, or 500
   * for an unexpected error), with `handshakeError` set.
   */
  accept(req: Request): Response {
    let accept: string;
    let extensionHeaders: ExtensionHeader[];
    try {
      const processed = this.#processRequest(req);
      accept = processed.accept;
      extensionHeaders = processed.extensionHeaders;
      this.#pendingExtensions = processed.extensions;
      this.#subprotocol = processed.subprotocol;
    } catch (error) {
      if (error instanceof InvalidHandshakeError) {
        this.setHandshakeError(error);
        return this.#errorResponse(error);
      }
      this.setHandshakeError(new InvalidHandshakeError('unexpected error in accept()', { cause: error }));
      return this.reject(
        500,
        'Failed to open a WebSocket connection.\nSee server log for more information.\n',
      );
    }
    this.setHandshakeError(null);
    const headers = new Headers();
    headers.append('Upgrade', 'websocket');
    headers.append('Connection', 'Upgrade');
    headers.append('Sec-WebSocket-Accept', accept);
    if (extensionHeaders.length > 0)
      headers.append('Sec-WebSocket-Extensions', buildExtensionList(extensionHeaders));
    if (this.#subprotocol !== null) headers.append('Sec-WebSocket-Protocol', this.#subprotocol);
    if (this.#serverHeader !== null) headers.append('Server', this.#serverHeader);
    return response(101, STATUS_TEXT[101]!, headers);
  }

  /**
   * Build an HTTP error response with a plain-text body. Sending it closes
   * the connection.
   */
  reject(status: number, text: string, extraHeaders?: Headers): Response {
    const body = encodeUtf8(text);
    const headers = new Headers();
    headers.append('Connection', 'close');
    headers.append('Content-Length', String(body.byteLength));
    headers.append('Content-Type', 'text/plain; charset=utf-8');
    if (this.#serverHeader !== null) headers.append('Server', this.#serverHeader);
    if (extraHeaders !== undefined) for (const [name, value] of extraHeaders) headers.append(name, value);
    return response(status, STATUS_TEXT[status] ?? 'Error', headers, body);
  }

  /**
   * Send the response built by `accept()` or `reject()`. A 101 response
   * opens the connection (and parses frames the client sent already); any
   * other status half-closes it.
   *
   * @throws {@link InvalidStateError} if a response was sent already.
   */
  sendResponse(res: Response): void {
    if (this.#responseSent || this.state !== State.CONNECTING)
      throw new InvalidStateError('response already sent');
    this.#responseSent = true;
    this.pushWrite(serializeResponse(res));
    this.log?.head('>', res);
    if (res.status === 101 && this.handshakeError === null) {
      this.openConnection(this.#pendingExtensions);
      // Early data was dropped: what the client sent can't be parsed. RFC
      // 6455, 4.1: the client "MUST wait for a response from the server
      // before sending any further data".
      this.resumeReading(
        this.#earlyDataDropped
          ? new ProtocolError(
              `client sent more than ${this.#earlyDataLimit} bytes before the handshake response`,
            )
          : null,
      );
    } else {
      this.failHandshake(this.handshakeError ?? new InvalidStatusError(res));
    }
  }

  /** Keep at most `maxEarlyData` bytes of what the client sends before the response; drop the rest. */
  protected override holdEarlyData(queue: ByteQueue): void {
    if (this.#earlyDataLimit !== null && queue.length > this.#earlyDataLimit) {
      queue.clear();
      this.#earlyDataDropped = true;
    }
  }

  protected override readHandshake(queue: ByteQueue, eof: boolean): boolean {
    let req: Request | null;
    try {
      req = this.#reader.read(queue, eof);
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) throw error;
      // No request to hand to the application: answer 400 (or 405) here.
      this.#responseSent = true;
      const res = this.#errorResponse(error);
      this.pushWrite(serializeResponse(res));
      this.log?.head('>', res);
      throw error;
    }
    if (req === null) return false;
    this.log?.head('<', req);
    this.pushEvent(req);
    this.startFrames();
    return true;
  }

  #errorResponse(error: InvalidHandshakeError): Response {
    const extra = new Headers();
    const status = error.statusHint;
    if (status === 426) {
      extra.append('Upgrade', 'websocket');
      // 4.4: "the server ... send[s] ... a |Sec-WebSocket-Version| header
      // field indicating the version(s) the server is capable of understanding."
      if (error instanceof InvalidVersionError) extra.append('Sec-WebSocket-Version', '13');
    } else if (status === 405) {
      extra.append('Allow', 'GET');
    }
    return this.reject(status, `Failed to open a WebSocket connection: ${error.message}.\n`, extra);
  }

  /** RFC 6455, 4.2.1: the checks of the client's opening handshake, then negotiation. */
  #processRequest(req: Request): {
    accept: string;
    extensions: Extension[];
    extensionHeaders: ExtensionHeader[];
    subprotocol: string | null;
  } {
    const headers = req.headers;
    // 2. "A |Host| header field containing the server's authority."
    headers.getOne('Host');
    // 3. "An |Upgrade| header field containing the value "websocket", treated
    // as an ASCII case-insensitive value."
    const upgrade = headers.getAll('Upgrade');
    if (!upgrade.flatMap(parseUpgrade).some((t) => t.toLowerCase() === 'websocket')) {
      throw new InvalidUpgradeError('Upgrade', upgrade.length === 0 ? null : upgrade.join(', '));
    }
    // 4. "A |Connection| header field that includes the token "Upgrade",
    // treated as an ASCII case-insensitive value."
    const connection = headers.getAll('Connection');
    if (!connection.flatMap(parseConnection).some((t) => t.toLowerCase() === 'upgrade')) {
      throw new InvalidUpgradeError('Connection', connection.length === 0 ? null : connection.join(', '));
    }
    // 6. "A |Sec-WebSocket-Version| header field, with a value of 13."
    const versions = headers.getAll('Sec-WebSocket-Version');
    if (versions.length !== 1 || versions[0] !== '13') {
      throw new InvalidVersionError(
        'Sec-WebSocket-Version',
        versions.length === 0 ? null : versions.join(', '),
      );
    }
    // 5. "A |Sec-WebSocket-Key| header field with a base64-encoded (see
    // Section 4 of [RFC4648]) value that, when decoded, is 16 bytes in length."
    const key = headers.getOne('Sec-WebSocket-Key');
    if (decodeBase64(key)?.byteLength !== 16) throw new InvalidHeaderError('Sec-WebSocket-Key', key);
    // 7. "Optionally, an |Origin| header field."
    this.#processOrigin(req);
    const [extensions, extensionHeaders] = this.#processExtensions(headers);
    const subprotocol = this.#processSubprotocol(headers);
    return { accept: computeAccept(key), extensions, extensionHeaders, subprotocol };
  }

  #processOrigin(req: Request): void {
    if (this.#origins === null && this.#checkOrigin === null) return;
    const values = req.headers.getAll('Origin');
    if (values.length > 1)
      throw new InvalidOriginError('Origin', values.join(', '), 'more than one Origin header');
    const origin = values[0] ?? null;
    if (this.#origins !== null && !this.#origins.includes(origin)) {
      throw new InvalidOriginError('Origin', origin, origin === null ? 'missing Origin header' : undefined);
    }
    if (this.#checkOrigin !== null && !this.#checkOrigin(origin, req)) {
      throw new InvalidOriginError('Origin', origin, `origin not allowed: ${origin}`);
    }
  }

  #processExtensions(headers: Headers): [Extension[], ExtensionHeader[]] {
    const accepted: Extension[] = [];
    const responseHeaders: ExtensionHeader[] = [];
    const values = headers.getAll('Sec-WebSocket-Extensions');
    if (values.length === 0 || this.#availableExtensions.length === 0) return [accepted, responseHeaders];
    // 9.1: offers are listed in the client's order of preference; the server
    // accepts at most one offer per factory it supports.
    for (const [name, params] of values.flatMap(parseExtensionList)) {
      for (const factory of this.#availableExtensions) {
        if (factory.name !== name) continue;
        try {
          const [responseParams, extension] = factory.processRequestParams(params, accepted);
          responseHeaders.push([name, responseParams]);
          accepted.push(extension);
          break;
        } catch (error) {
          // Declining an offer isn't an error: the client may offer others.
          if (!(error instanceof NegotiationError)) throw error;
        }
      }
    }
    return [accepted, responseHeaders];
  }

  #processSubprotocol(headers: Headers): string | null {
    const values = headers.getAll('Sec-WebSocket-Protocol');
    const offered = values.flatMap(parseSubprotocolList);
    if (offered.length === 0 && this.#selectSubprotocol === defaultSelectSubprotocol) return null;
    const selected = this.#selectSubprotocol(offered, this.#availableSubprotocols);
    if (selected !== null && !offered.includes(selected)) {
      throw new NegotiationError(`selected subprotocol was not offered: ${selected}`);
    }
    return selected;
  }
}
