/**
 * The `compression` option: permessage-deflate offered by default, as every
 * browser does. Kept out of websocket.ts so that `polysocket/lite` can leave
 * the compressor (pako, ~13 KB gzipped) out of a bundle.
 */
import {
  ClientPerMessageDeflateFactory,
  DEFAULT_CLIENT_PERMESSAGE_DEFLATE,
} from './protocol/extensions/permessage-deflate.js';
import type { WebSocketOptions } from './websocket.js';

/**
 * Turn `options.compression` (default `true`) into the `extensions` to
 * offer, unless `options.extensions` is given explicitly.
 */
export function applyCompression(options: WebSocketOptions): WebSocketOptions {
  if (options.extensions !== undefined) return options;
  const compression = options.compression ?? true;
  if (compression === false) return options;
  const offer = compression === true ? DEFAULT_CLIENT_PERMESSAGE_DEFLATE : compression;
  return { ...options, extensions: [new ClientPerMessageDeflateFactory(offer)] };
}
