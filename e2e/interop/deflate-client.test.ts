/**
 * permessage-deflate with polysocket as the client: the core against each
 * peer's server (peers.ts) on 127.0.0.1. The core sends a mix of messages
 * (tiny to 3 MiB, text and binary, whole and fragmented, many similar small
 * ones) that the peer echoes (messages over 64 KiB in three frames), with
 * the window and context takeover settings varied on both ends.
 */
import { describe, it, onTestFinished } from 'vitest';
import { ClientPerMessageDeflateFactory } from '../../src/protocol/index.js';
import { type Case, casesFor, echoMix, MAX_SIZE, P, START_MS, TEST_MS } from './deflate-helpers.js';
import { withTimeout } from './helpers.js';
import { connectClient } from './net-driver.js';
import { PEERS } from './peers.js';

/** The core is the client; the peer's settings are a server's. */
const CASES: Case[] = [
  { name: 'defaults', ours: { threshold: 0 }, theirs: { threshold: 0 }, params: P(false, false, 15, 15) },
  {
    name: 'server forces no context takeover both ways',
    ours: { threshold: 0 },
    theirs: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
    params: P(true, true, 15, 15),
  },
  {
    name: 'server caps the windows: server 9, client 10',
    ours: { threshold: 0 },
    theirs: { threshold: 0, serverMaxWindowBits: 9, clientMaxWindowBits: 10 },
    params: P(false, false, 9, 10),
  },
  {
    name: 'server forces no context takeover, windows 9 and 10',
    ours: { threshold: 0 },
    theirs: {
      threshold: 0,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 10,
    },
    params: P(true, true, 9, 10),
  },
  {
    name: 'server caps the client window at 8 (zlib quirk)',
    ours: { threshold: 0 },
    theirs: { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 8 },
    params: P(false, false, 10, 8),
  },
  {
    name: "websockets' defaults (12-bit windows, memLevel 5)",
    ours: { threshold: 0 },
    theirs: { threshold: 0, serverMaxWindowBits: 12, clientMaxWindowBits: 12, memLevel: 5 },
    params: P(false, false, 12, 12),
  },
  {
    name: 'client asks for no context takeover and a 10-bit server window',
    ours: {
      threshold: 0,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
    },
    theirs: { threshold: 0 },
    params: P(true, true, 10, 15),
  },
  {
    name: 'client asks for server no context takeover and an 8-bit server window',
    ours: {
      threshold: 0,
      serverNoContextTakeover: true,
      serverMaxWindowBits: 8,
      clientNoContextTakeover: true,
    },
    theirs: { threshold: 0 },
    params: P(true, true, 8, 15),
    // ws only: websockets 10.4 can't compress with the 8-bit window the
    // peer gets here (Python's zlib refuses it; see DeflatePeer). 'client
    // asks for no context takeover and a 10-bit server window' is this case with a window it can use.
    peerCompressesWith8Bits: true,
  },
  { name: 'default thresholds', ours: {}, theirs: {}, params: P(false, false, 15, 15) },
];

for (const peer of PEERS) {
  describe(`core client ↔ ${peer.name} server`, () => {
    for (const c of casesFor(peer, CASES)) {
      it(c.name, { timeout: TEST_MS }, async () => {
        const server = await peer.deflate.startServer(c.theirs, MAX_SIZE);
        onTestFinished(() => server.stop());
        const conn = await withTimeout(
          connectClient(server.url, {
            extensions: [new ClientPerMessageDeflateFactory(c.ours)],
            maxMessageSize: MAX_SIZE,
          }),
          START_MS,
          'the handshake',
        );
        onTestFinished(() => {
          conn.socket.destroy();
        });
        await echoMix(conn, server, c, c.name.length);
      });
    }
  });
}
