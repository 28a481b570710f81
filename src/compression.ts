/**
 * The `compression` option: permessage-deflate offered by default, as every
 * browser does. Kept out of websocket.ts so that `polysocket/lite` can leave
 * the compressor (pako, ~13 KB gzipped) out of a bundle.
 */
import type { DeflateCodecFactory } from './protocol/extensions/deflate-codec.js';
import {
  ClientPerMessageDeflateFactory,
  DEFAULT_CLIENT_PERMESSAGE_DEFLATE,
} from './protocol/extensions/permessage-deflate.js';
import type { WebSocketOptions } from './websocket.js';

/**
 * Turn `options.compression` (default `true`) into the `extensions` to
 * offer, unless `options.extensions` is given explicitly.
 *
 * @param codec - The entry point's DEFLATE implementation, used unless
 *   `compression` names a `codec` itself; by default the core's (pako).
 */
export function applyCompression(options: WebSocketOptions, codec?: DeflateCodecFactory): WebSocketOptions {
  if (options.extensions !== undefined) return options;
  const compression = options.compression ?? true;
  if (compression === false) return options;
  let offer = compression === true ? DEFAULT_CLIENT_PERMESSAGE_DEFLATE : compression;
  if (codec !== undefined && offer.codec === undefined) offer = { ...offer, codec };
  return { ...options, extensions: [new ClientPerMessageDeflateFactory(offer)] };
}
