/**
 * The demo server's flood room, as the server (demo/flood.ts) and the page
 * (demo/main.ts) both see it. Plain data, no imports: the page bundles it.
 *
 *     /flood?id=<id>[&bytes=<n>]
 *         numbered binary messages of FLOOD_MESSAGE_SIZE bytes, as fast as
 *         the socket takes them, until `bytes` (at most FLOOD_MAX_BYTES)
 *         were sent or the client goes; then one text message, a
 *         {@link FloodEnd}. Pings are answered (behind the flood) and
 *         anything else is echoed, as in /echo.
 *     /flood-stats?id=<id>
 *         a {@link FloodStats} every FLOOD_STATS_INTERVAL_MS about the flood
 *         with that id: a side channel, since a report sent on the flooded
 *         socket would wait behind the flood it reports on.
 */

/** Bytes in each flood message. */
export const FLOOD_MESSAGE_SIZE = 16 * 1024;
/** The most one flood sends (and the default). */
export const FLOOD_MAX_BYTES = 256 * 2 ** 20;
/** How often /flood-stats reports. */
export const FLOOD_STATS_INTERVAL_MS = 250;

/** What /flood-stats sends. */
export interface FloodStats {
  readonly type: 'flood-stats';
  readonly id: string;
  /**
   * `waiting`: no /flood connection with this id yet; `flooding`: sending;
   * `done`: the cap was reached; `closed`: the client went before that.
   */
  readonly state: 'waiting' | 'flooding' | 'done' | 'closed';
  /** Messages and bytes handed to the socket so far. */
  readonly sent: number;
  readonly sentBytes: number;
  /** The flood's cap in bytes. */
  readonly cap: number;
  /** The server socket's queue: `ws`'s `bufferedAmount`, now and at most. */
  readonly buffered: number;
  readonly bufferedPeak: number;
  /** Milliseconds since the socket last took anything, while it holds a queue; 0 otherwise. */
  readonly stalledMs: number;
}

/** The flood's last message: how many came before it. */
export interface FloodEnd {
  readonly type: 'flood-end';
  readonly messages: number;
  readonly bytes: number;
}

/**
 * Flood message `seq`: its number (uint32, big-endian) in the first and in
 * the last 4 bytes, and its low byte in every byte between, so that the page
 * can tell a message that is out of order or mangled from one that is not.
 */
export function floodMessage(seq: number, size = FLOOD_MESSAGE_SIZE): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size).fill(seq & 0xff);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, seq);
  view.setUint32(size - 4, seq);
  return bytes;
}

/** The number of a flood message, or `undefined` if `bytes` is not one. */
export function floodSeq(bytes: Uint8Array): number | undefined {
  if (bytes.byteLength < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seq = view.getUint32(0);
  const middle = bytes[bytes.byteLength >> 1];
  if (view.getUint32(bytes.byteLength - 4) !== seq || (bytes.byteLength > 8 && middle !== (seq & 0xff)))
    return undefined;
  return seq;
}
