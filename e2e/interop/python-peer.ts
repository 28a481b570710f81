/**
 * The Python `websockets` 10.4 peer of the interop suites: processes
 * running the scripts in peers/ with Debian's /usr/bin/python3, which speak
 * JSON lines on stdout. The interface and what each mode does are in
 * peers.ts.
 */
import { expect } from 'vitest';
import { Opcode } from '../../src/protocol/index.js';
import { toHex } from '../../src/testing/chunking.js';
import {
  type JsonLine,
  type Message,
  PYTHON_START_MS,
  PythonPeer,
  TIME_SCALE,
  withTimeout,
} from './helpers.js';
import type {
  ClientReport,
  ClientScript,
  CloseInfo,
  DeflateEcho,
  DeflateReport,
  DeflateSettings,
  Peer,
  PeerClose,
  PeerServer,
} from './peers.js';

/** How long a scripted client may run once started; it gives up by itself then. */
const CLIENT_MS = 12_000 * TIME_SCALE;

/** The scripts print a close frame as [code, reason], or null. */
function closeInfoOf(value: unknown): CloseInfo | null {
  if (!Array.isArray(value)) return null;
  return { code: value[0] as number, reason: value[1] as string };
}

/** The first line of a starting `peer` that matches; the process is killed if none comes. */
async function started(peer: PythonPeer, predicate: (line: JsonLine) => boolean): Promise<JsonLine> {
  try {
    return await peer.waitForLine(predicate, PYTHON_START_MS);
  } catch (error) {
    peer.kill();
    throw error;
  }
}

/** A "closed" line as a PeerClose; close_code and close_reason are those of the frame received. */
function peerCloseOf(line: JsonLine): PeerClose {
  return { code: line['code'] as number, reason: line['reason'] as string, sent: closeInfoOf(line['sent']) };
}

async function startServer({ subprotocols }: { subprotocols: readonly string[] }): Promise<PeerServer> {
  const peer = new PythonPeer(
    'python-server.py',
    subprotocols.flatMap((name) => ['--subprotocol', name]),
  );
  const first = await started(peer, (line) => typeof line['port'] === 'number');
  const port = first['port'] as number;
  return {
    url(path, id) {
      return `ws://127.0.0.1:${port}${path}${path.includes('?') ? '&' : '?'}id=${id}`;
    },
    async closed(id) {
      return peerCloseOf(await peer.waitForLine((line) => line['event'] === 'closed' && line['id'] === id));
    },
    async stop() {
      peer.kill();
      await peer.exited;
    },
  };
}

/** Run peers/python-client.py to completion and read its lines into a report. */
async function runClient(script: ClientScript): Promise<ClientReport> {
  const peer = new PythonPeer('python-client.py', []);
  // On stdin: a long payload would overflow argv.
  peer.child.stdin.end(JSON.stringify({ ...script, timeout: CLIENT_MS / 1000 }));
  let code: number | null;
  try {
    // The script gives up by itself after CLIENT_MS; this only catches a hung interpreter.
    code = await withTimeout(peer.exited, PYTHON_START_MS + CLIENT_MS, 'python client to exit');
  } catch (error) {
    peer.kill();
    throw error;
  }
  if (code !== 0) throw new Error(`python client exited with ${code}; stderr:\n${peer.stderr}`);
  const lines = peer.lines;
  const open = lines.find((line) => line['event'] === 'open');
  const refused = lines.find((line) => line['event'] === 'handshake_error' && 'status' in line);
  const closed = lines.find((line) => line['event'] === 'closed');
  return {
    opened: open !== undefined,
    subprotocol: (open?.['subprotocol'] as string | null | undefined) ?? null,
    rejected: refused === undefined ? null : { status: refused['status'] as number },
    messages: lines
      .filter((line) => line['event'] === 'message')
      .map(
        (line): Message =>
          line['type'] === 'text'
            ? { type: 'text', text: line['text'] as string }
            : { type: 'binary', hex: line['hex'] as string },
      ),
    pongs: lines.filter((line) => line['event'] === 'pong').map((line) => line['hex'] as string),
    closed: closed === undefined ? null : peerCloseOf(closed),
  };
}

/** websockets' keyword arguments for the factory of either role, and deflate_peer.py's max_size. */
function deflateConfig(settings: DeflateSettings, maxSize: number): string {
  const config: Record<string, unknown> = { max_size: maxSize };
  if (settings.serverNoContextTakeover !== undefined)
    config['server_no_context_takeover'] = settings.serverNoContextTakeover;
  if (settings.clientNoContextTakeover !== undefined)
    config['client_no_context_takeover'] = settings.clientNoContextTakeover;
  if (settings.serverMaxWindowBits !== undefined)
    config['server_max_window_bits'] = settings.serverMaxWindowBits;
  if (settings.clientMaxWindowBits !== undefined)
    config['client_max_window_bits'] = settings.clientMaxWindowBits;
  if (settings.memLevel !== undefined) config['compress_settings'] = { memLevel: settings.memLevel };
  // settings.threshold has no counterpart: websockets 10.4 compresses every message.
  return JSON.stringify(config);
}

/** deflate_peer.py's DeflateEcho. */
function deflateEcho(peer: PythonPeer): DeflateEcho {
  return {
    async closed(timeoutMs): Promise<DeflateReport> {
      const line = await peer.waitForLine((l) => l['event'] === 'closed', timeoutMs);
      return {
        received: line['received'] as number,
        code: line['code'] as number,
        deflate: (line['extensions'] as string[]).some((e) => e.startsWith('PerMessageDeflate(')),
      };
    },
    failure: () => peer.failure(),
    async stop() {
      peer.kill();
    },
  };
}

export const pythonPeer: Peer = {
  name: 'websockets',
  startServer,
  runClient,
  fragmentFrames(opcode, parts) {
    // websockets sends every item with fin=false, then an empty final frame.
    return [
      ...parts.map((part, i): [number, boolean, string] => [
        i === 0 ? opcode : Opcode.CONT,
        false,
        toHex(part),
      ]),
      [Opcode.CONT, true, ''],
    ];
  },
  refusedOversize: { sent: { code: 1009, reason: expect.any(String) } },
  // websockets opens the connection without a subprotocol, as RFC 6455 allows.
  noCommonSubprotocol: { opened: true, subprotocol: null },
  deflate: {
    // Python's zlib refuses windowBits 8 for raw deflate, and websockets 10.4 passes it on.
    compressesWith8BitWindow: false,
    async startServer(settings, maxSize) {
      const peer = new PythonPeer('deflate_peer.py', ['server', deflateConfig(settings, maxSize)]);
      const first = await started(peer, (line) => typeof line['port'] === 'number');
      return { url: `ws://127.0.0.1:${first['port'] as number}/`, ...deflateEcho(peer) };
    },
    startClient(url, settings, maxSize) {
      return deflateEcho(
        new PythonPeer('deflate_peer.py', ['client', url, deflateConfig(settings, maxSize)]),
      );
    },
  },
};
