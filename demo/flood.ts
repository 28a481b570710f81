/**
 * The demo server's flood room (the wire format is in flood-protocol.ts):
 * a server that sends as fast as its client reads, and says how far it got,
 * so that the page can show backpressure live. The server paces itself by
 * its own socket: it sends while `ws`'s `bufferedAmount` is below
 * FLOOD_QUEUE_LIMIT and sends more once `send`'s callback says the socket
 * took a message. So its queue stays bounded, and a client that stops
 * reading stops it through TCP's flow control; a client that reads
 * everything as it comes (a WebSocket) lets it run to the cap.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import {
  FLOOD_MAX_BYTES,
  FLOOD_MESSAGE_SIZE,
  FLOOD_STATS_INTERVAL_MS,
  type FloodEnd,
  type FloodStats,
  floodMessage,
} from './flood-protocol.js';

/** The server sends while its socket holds fewer bytes than this. */
export const FLOOD_QUEUE_LIMIT = 256 * 1024;
/** Floods kept at once, running or finished (a running one holds up to FLOOD_QUEUE_LIMIT bytes). */
const MAX_FLOODS = 16;
/** How long a finished flood's figures stay readable by /flood-stats. */
const KEEP_FINISHED_MS = 60_000;

interface Flood {
  readonly id: string;
  readonly cap: number;
  state: FloodStats['state'];
  sent: number;
  sentBytes: number;
  bufferedPeak: number;
  /** When the socket last took a message (or the flood began). */
  progressAt: number;
  ws: WebSocket | undefined;
  forget: ReturnType<typeof setTimeout> | undefined;
}

/** The flood and flood-stats rooms of one server. */
export interface FloodRooms {
  /** Handle a connection to /flood or /flood-stats; false for any other path. */
  handle(ws: WebSocket, request: IncomingMessage, path: string): boolean;
  /** Stop every flood and timer (the server is stopping). */
  stop(): void;
}

const ID = /^[\w-]{1,64}$/;

export function floodRooms(log: (line: string) => void): FloodRooms {
  const floods = new Map<string, Flood>();
  const timers = new Set<ReturnType<typeof setInterval>>();

  const stats = (id: string): FloodStats => {
    const flood = floods.get(id);
    if (flood === undefined) {
      return {
        type: 'flood-stats',
        id,
        state: 'waiting',
        sent: 0,
        sentBytes: 0,
        cap: 0,
        buffered: 0,
        bufferedPeak: 0,
        stalledMs: 0,
      };
    }
    const buffered = flood.ws?.bufferedAmount ?? 0;
    flood.bufferedPeak = Math.max(flood.bufferedPeak, buffered);
    return {
      type: 'flood-stats',
      id,
      state: flood.state,
      sent: flood.sent,
      sentBytes: flood.sentBytes,
      cap: flood.cap,
      buffered,
      bufferedPeak: flood.bufferedPeak,
      stalledMs: flood.state === 'flooding' && buffered > 0 ? Date.now() - flood.progressAt : 0,
    };
  };

  const flood = (ws: WebSocket, id: string, cap: number, from: string): void => {
    const previous = floods.get(id);
    if (previous?.ws !== undefined) {
      ws.close(1008, 'flood id in use');
      return;
    }
    if (previous === undefined && floods.size >= MAX_FLOODS) {
      // Room for a new one: the oldest finished flood's figures go first.
      const finished = [...floods.values()].find((other) => other.ws === undefined);
      if (finished === undefined) {
        ws.close(1013, 'too many floods; try again later');
        return;
      }
      clearTimeout(finished.forget);
      floods.delete(finished.id);
    }
    if (previous?.forget !== undefined) clearTimeout(previous.forget);
    const state: Flood = {
      id,
      cap,
      state: 'flooding',
      sent: 0,
      sentBytes: 0,
      bufferedPeak: 0,
      progressAt: Date.now(),
      ws,
      forget: undefined,
    };
    floods.set(id, state);
    log(`flood: ${id} from ${from}, up to ${cap} bytes`);

    let pumping = false;
    // Node calls back with null, not undefined, when the write succeeded.
    const taken = (error?: Error | null) => {
      if (error !== undefined && error !== null) return;
      state.progressAt = Date.now();
      // One pump per turn, however many callbacks fire in it.
      if (!pumping) {
        pumping = true;
        setImmediate(pump);
      }
    };
    const pump = () => {
      pumping = false;
      if (state.state !== 'flooding' || ws.readyState !== ws.OPEN) return;
      while (ws.bufferedAmount < FLOOD_QUEUE_LIMIT && state.sentBytes < cap) {
        // Uncompressed: the page sees the bytes the flood is made of, not a few after deflate.
        ws.send(floodMessage(state.sent), { binary: true, compress: false }, taken);
        state.sent++;
        state.sentBytes += FLOOD_MESSAGE_SIZE;
      }
      state.bufferedPeak = Math.max(state.bufferedPeak, ws.bufferedAmount);
      if (state.sentBytes >= cap) {
        state.state = 'done';
        const end: FloodEnd = { type: 'flood-end', messages: state.sent, bytes: state.sentBytes };
        ws.send(JSON.stringify(end));
        log(`flood: ${id} done, ${state.sent} messages`);
      }
    };
    // As in /echo: the page's pings come back, behind whatever the flood has queued.
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on('close', (code, reason) => {
      if (state.state === 'flooding') state.state = 'closed';
      state.ws = undefined;
      log(`flood: ${id} closed (${code} ${reason.toString()}) after ${state.sent} messages`);
      state.forget = setTimeout(() => {
        if (floods.get(id) === state) floods.delete(id);
      }, KEEP_FINISHED_MS);
      state.forget.unref();
    });
    pump();
  };

  const report = (ws: WebSocket, id: string): void => {
    const send = () => {
      // A report the socket has not sent yet is stale: skip this one rather than queue it.
      if (ws.readyState === ws.OPEN && ws.bufferedAmount === 0) ws.send(JSON.stringify(stats(id)));
    };
    const timer = setInterval(send, FLOOD_STATS_INTERVAL_MS);
    timers.add(timer);
    ws.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
    send();
  };

  return {
    handle(ws, request, path) {
      if (path !== '/flood' && path !== '/flood-stats') return false;
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const id = url.searchParams.get('id') ?? '';
      if (!ID.test(id)) {
        ws.close(1008, 'an id (?id=, letters, digits, - and _) is required');
        return true;
      }
      if (path === '/flood-stats') {
        report(ws, id);
        return true;
      }
      // Whole messages: the cap is rounded down to a multiple of their size.
      const asked = Number(url.searchParams.get('bytes') ?? FLOOD_MAX_BYTES);
      const messages = Number.isFinite(asked)
        ? Math.max(0, Math.floor(Math.min(FLOOD_MAX_BYTES, asked) / FLOOD_MESSAGE_SIZE))
        : 0;
      const cap = messages * FLOOD_MESSAGE_SIZE;
      flood(ws, id, cap, `${request.socket.remoteAddress}:${request.socket.remotePort}`);
      return true;
    },
    stop() {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
      for (const state of floods.values()) {
        state.state = state.state === 'flooding' ? 'closed' : state.state;
        if (state.forget !== undefined) clearTimeout(state.forget);
      }
      floods.clear();
    },
  };
}
