/**
 * polysocket's Sans-I/O RFC 6455 core: the `./protocol` export.
 *
 * Only what this module exports is public API.
 */
export { ByteQueue } from './byte-queue.js';
export { ClientProtocol, type ClientProtocolOptions } from './client.js';
export { type Close, isValidCloseCode, parseClose, serializeClose } from './close.js';
export { CloseCode } from './close-code.js';
export {
  ConnectionClosedError,
  InvalidHandshakeError,
  InvalidHeaderError,
  InvalidMessageError,
  InvalidMethodError,
  InvalidOriginError,
  InvalidParameterError,
  InvalidStateError,
  InvalidStatusError,
  InvalidUpgradeError,
  InvalidUtf8Error,
  InvalidVersionError,
  NegotiationError,
  PayloadTooBigError,
  ProtocolError,
  UnexpectedEofError,
  WebSocketError,
} from './errors.js';
export type { ClientExtensionFactory, Extension, ServerExtensionFactory } from './extensions/base.js';
export {
  createDeflateCodec,
  DecompressionError,
  type DeflateCodec,
  type DeflateCodecFactory,
  type DeflateCodecOptions,
  PakoDeflateCodec,
} from './extensions/deflate-codec.js';
export {
  buildPerMessageDeflateParams,
  ClientPerMessageDeflateFactory,
  type ClientPerMessageDeflateOptions,
  DEFAULT_CLIENT_PERMESSAGE_DEFLATE,
  DEFAULT_COMPRESSION_THRESHOLD,
  DEFAULT_SERVER_PERMESSAGE_DEFLATE,
  enableClientPermessageDeflate,
  enableServerPermessageDeflate,
  PerMessageDeflate,
  type PerMessageDeflateCompressionOptions,
  type PerMessageDeflateOffer,
  type PerMessageDeflateParams,
  parsePerMessageDeflateParams,
  ServerPerMessageDeflateFactory,
  type ServerPerMessageDeflateOptions,
} from './extensions/permessage-deflate.js';
export { type Frame, frame, isControl, Opcode, parseFrame, serializeFrame } from './frames.js';
export { computeAccept, generateKey } from './handshake.js';
export {
  buildExtensionList,
  buildSubprotocolList,
  type ExtensionHeader,
  type ExtensionParameter,
  Headers,
  isToken,
  parseExtensionList,
  parseSubprotocolList,
} from './headers.js';
export {
  type HttpLimits,
  type Request,
  RequestReader,
  type Response,
  ResponseReader,
  request,
  response,
  serializeRequest,
  serializeResponse,
} from './http11.js';
export { frameToString, type Logger } from './logging.js';
export { applyMask } from './mask.js';
export { decodeUtf8, encodeUtf8, type RandomSource } from './platform.js';
export { type Output, type ProtocolOptions, SEND_EOF, type Side, State } from './protocol.js';
export { Protocol } from './public-protocol.js';
export { type SelectSubprotocol, ServerProtocol, type ServerProtocolOptions } from './server.js';
export { buildHost, parseUri, type WebSocketUri } from './uri.js';
export { Utf8Validator } from './utf8.js';
