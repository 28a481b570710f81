/**
 * Client side of the Sans-I/O protocol, after websockets' `client.py`: the
 * public `ClientProtocol`. The handshake and the connection are
 * `BaseClientProtocol`'s (`base-client.ts`); this subclass adds what the
 * WHATWG `WebSocket` never uses, so that its bundles leave it out: parsing
 * string URIs, reading the body of a non-101 response into
 * `InvalidStatusError`, and turning a `logger` into the core's log.
 */
import { BaseClientProtocol, type ClientProtocolOptions } from './base-client.js';
import { ResponseReader } from './http11.js';
import { checkLimit } from './limits.js';
import { withProtocolLog } from './logging.js';
import { parseUri, type WebSocketUri } from './uri.js';

export type { ClientProtocolOptions } from './base-client.js';

/**
 * Sans-I/O client: build the handshake request with `connect()`, send it
 * with `sendRequest()`, then feed bytes. The first event is the `Response`;
 * if `handshakeError` is set then, the handshake failed.
 */
export class ClientProtocol extends BaseClientProtocol {
  /**
   * @param uri - A `ws:`/`wss:` URI or a parsed one.
   * @throws TypeError if the URI, a subprotocol, the origin or a header is invalid.
   */
  constructor(uri: WebSocketUri | string, options: ClientProtocolOptions = {}) {
    super(
      typeof uri === 'string' ? parseUriAfterLimits(uri, options) : uri,
      withProtocolLog(options),
      new ResponseReader(options.httpLimits),
    );
  }
}

/**
 * Parse `uri` after checking the limits (which `Protocol`'s constructor
 * checks again), so that invalid arguments are reported in the constructor's
 * order: limits, URI, then subprotocols and headers.
 */
function parseUriAfterLimits(uri: string, options: ClientProtocolOptions): WebSocketUri {
  checkLimit('maxMessageSize', options.maxMessageSize);
  checkLimit('maxFragmentSize', options.maxFragmentSize);
  return parseUri(uri);
}
