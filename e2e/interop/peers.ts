/**
 * The third-party peers the interop suites run against, behind one
 * interface, so that each scenario is written once and runs against each
 * peer (`describe.each(PEERS)`): npm `ws` in-process and Python `websockets`
 * 10.4 (Debian's, scripts in peers/). A peer plays either role: a server
 * whose request path picks what a connection does, or a client that runs a
 * script of steps; and, for permessage-deflate, an echo in either role.
 * Where the two libraries behave differently, the difference is data in
 * the peer's entry (the fields below that say what a peer reports), not a
 * second copy of a test.
 */
import type { Opcode } from '../../src/protocol/index.js';
import type { DataFrame, Message } from './helpers.js';
import { pythonPeer } from './python-peer.js';
import { wsPeer } from './ws-peer.js';

/** The opcode of a message's first frame. */
export type DataOpcode = typeof Opcode.TEXT | typeof Opcode.BINARY;

export interface CloseInfo {
  code: number;
  reason: string;
}

/**
 * How a peer saw its connection end. `code` and `reason` are those of the
 * close frame it received, 1006 and '' without one: ws's 'close' event and
 * websockets' close_code and close_reason both report them so.
 */
export interface PeerClose extends CloseInfo {
  /** The errors the peer reported; ws emits them, websockets doesn't report any (undefined). */
  errors?: string[];
  /** The close frame the peer sent (null: none); websockets tells it, ws doesn't (undefined). */
  sent?: CloseInfo | null;
}

/**
 * A peer's server on 127.0.0.1. The request path picks what a connection
 * does (both implementations follow this list):
 *
 *     /echo                          echo every message, reassembled
 *     /send?type=T&sizes=A,B,...     send one message of type T (text: 'x's, binary: 0x5a
 *                                    bytes) in fragments of A, B, ... bytes (one size: whole)
 *     /fragments?text=J&hex=J        send a text and then a binary message, fragmented as
 *                                    the JSON arrays J list them (strings; hex)
 *     /close?code=C&reason=R         close with code C and reason R
 *     /ping?data=D                   ping with D; once the pong came, send "got pong: D"
 *     /write-frame?opcode=O&hex=H&mask=M
 *                                    write one final frame as given, masked if M is 1,
 *                                    without the peer's own checks
 *     /subprotocol                   send the negotiated subprotocol (or "null")
 *     /reject?body=B&reason=R        answer 403 with body B and header X-Reason: R, not 101
 *
 * Every mode but /close and /reject then echoes. Every path takes
 * ?max_size=N, the largest message the connection accepts, and ?id=I,
 * which {@link PeerServer.closed} finds the connection by.
 */
export interface PeerServer {
  /** `ws://127.0.0.1:port` + `path`, tagged with `id`. */
  url(path: string, id: string): string;
  /** How connection `id` ended, once it did. */
  closed(id: string): Promise<PeerClose>;
  stop(): Promise<void>;
}

/** One step of a scripted client (peers/python-client.py runs the same JSON). */
export type ClientStep =
  | { op: 'send'; text: string }
  | { op: 'send'; hex: string }
  | { op: 'send_fragments'; text: string[] }
  | { op: 'send_fragments'; hex: string[] }
  /** Take the next message. */
  | { op: 'recv' }
  /** Take messages until the connection closes. */
  | { op: 'recv_until_closed' }
  /** Ping and wait for the pong with the same payload. */
  | { op: 'ping'; hex: string }
  | { op: 'close'; code: number; reason: string }
  /** One frame as given (masked unless `mask` is false), without the peer's own checks; text or binary. */
  | { op: 'write_frame'; fin: boolean; opcode: DataOpcode; hex: string; mask?: boolean };

export interface ClientScript {
  url: string;
  /** max_size: the largest message the client accepts. */
  options?: { max_size?: number; subprotocols?: string[]; origin?: string };
  /** Run in order once the connection is open; then the client waits for the close. Stops at the close. */
  steps: ClientStep[];
}

/** What a scripted client observed. */
export interface ClientReport {
  /** Whether the opening handshake completed, and the subprotocol the client reported then. */
  opened: boolean;
  subprotocol: string | null;
  /**
   * The response of a refused handshake: its status, and its body where the
   * client reads it (ws does; websockets' legacy client doesn't: undefined).
   */
  rejected: { status: number; body?: string } | null;
  /** The messages `recv` and `recv_until_closed` took, in order. */
  messages: Message[];
  /** The payloads (hex) of the pongs that answered `ping` steps. */
  pongs: string[];
  /** How the connection ended; null where the client reports nothing (websockets, after a failed handshake). */
  closed: PeerClose | null;
}

/** A peer's permessage-deflate settings, in RFC 7692's terms (each library's option names differ). */
export interface DeflateSettings {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
  /** zlib's memLevel for the peer's compressor. */
  memLevel?: number;
  /** ws only: smaller messages go uncompressed (default 1024); websockets 10.4 compresses every message. */
  threshold?: number;
}

/** What a deflate echo peer reported once its connection closed. */
export interface DeflateReport {
  /** How many messages it received (and echoed). */
  received: number;
  code: number;
  /** Whether the peer says it negotiated permessage-deflate. */
  deflate: boolean;
}

/**
 * A peer that echoes every message with permessage-deflate; a message over
 * 64 KiB goes back in three frames, so that both whole and fragmented
 * compressed messages flow both ways.
 */
export interface DeflateEcho {
  /** The report of the connection's end. */
  closed(timeoutMs: number): Promise<DeflateReport>;
  /** Rejects, saying why, if the peer fails before the test is done with it. */
  failure(): Promise<never>;
  stop(): Promise<void>;
}

export interface DeflatePeer {
  /**
   * Whether the peer compresses with an 8-bit window when one is
   * negotiated: zlib refuses raw deflate with windowBits 8; Node's zlib,
   * under ws, accepts it, while Python's zlib, under websockets 10.4,
   * raises an error.
   */
  readonly compressesWith8BitWindow: boolean;
  /** A server on 127.0.0.1; its URL is `ws://127.0.0.1:port/`. Reports its first connection. */
  startServer(settings: DeflateSettings, maxSize: number): Promise<DeflateEcho & { url: string }>;
  /** A client that connects to `url`. */
  startClient(url: string, settings: DeflateSettings, maxSize: number): DeflateEcho;
}

export interface Peer {
  readonly name: string;
  /** Start a server whose connections do what {@link PeerServer} says; it offers `subprotocols`. */
  startServer(options: { subprotocols: readonly string[] }): Promise<PeerServer>;
  /** Run a scripted client to its end. */
  runClient(script: ClientScript): Promise<ClientReport>;
  /** The frames, as `dataFramesOf` lists them, in which the peer sends a message given in `parts`. */
  fragmentFrames(opcode: DataOpcode, parts: readonly Uint8Array[]): DataFrame[];
  /** What the peer reports, in either role, after it refused a message over its size limit. */
  readonly refusedOversize: Partial<PeerClose>;
  /** What the peer's client makes of a server that selects none of the subprotocols it offered. */
  readonly noCommonSubprotocol: Partial<ClientReport>;
  readonly deflate: DeflatePeer;
}

export const PEERS: readonly Peer[] = [wsPeer, pythonPeer];
