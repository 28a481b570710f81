/**
 * permessage-deflate with polysocket as the server: the core against each
 * peer's client (peers.ts) on 127.0.0.1. The core sends a mix of messages
 * (tiny to 3 MiB, text and binary, whole and fragmented, many similar small
 * ones) that the peer echoes (messages over 64 KiB in three frames), with
 * the window and context takeover settings varied on both ends.
 */
import { describe, it, onTestFinished } from 'vitest';
import { ServerPerMessageDeflateFactory, type ServerProtocol } from '../../src/protocol/index.js';
import { type Case, casesFor, echoMix, MAX_SIZE, P, START_MS, TEST_MS } from './deflate-helpers.js';
import { withTimeout } from './helpers.js';
import { type Connection, startServer } from './net-driver.js';
import { PEERS } from './peers.js';

/** The core is the server; the peer's settings are a client's. */
const CASES: Case[] = [
  { name: 'defaults', ours: { threshold: 0 }, theirs: { threshold: 0 }, params: P(false, false, 15, 15) },
  {
    name: 'client asks for everything: no context takeover, windows 9 and 10',
    ours: { threshold: 0 },
    theirs: {
      threshold: 0,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 10,
    },
    params: P(true, true, 10, 9),
  },
  {
    name: 'client asks for an 8-bit server window (zlib quirk)',
    ours: { threshold: 0 },
    theirs: { threshold: 0, serverMaxWindowBits: 8 },
    params: P(false, false, 15, 8),
  },
  {
    name: 'server forces no context takeover, windows 10 and 12',
    ours: {
      threshold: 0,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
    },
    theirs: { threshold: 0 },
    params: P(true, true, 12, 10),
  },
  {
    name: 'server caps both windows at 8 (zlib quirk)',
    ours: { threshold: 0, serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    theirs: { threshold: 0 },
    params: P(false, false, 8, 8),
    // ws only: websockets 10.4 can't compress with the 8-bit window the
    // peer gets here (Python's zlib refuses it; see DeflatePeer). 'server
    // forces no context takeover, windows 10 and 12' caps both with windows it can use.
    peerCompressesWith8Bits: true,
  },
  { name: 'default thresholds', ours: {}, theirs: {}, params: P(false, false, 15, 15) },
];

for (const peer of PEERS) {
  describe(`${peer.name} client ↔ core server`, () => {
    for (const c of casesFor(peer, CASES)) {
      it(c.name, { timeout: TEST_MS }, async () => {
        let accepted: (connection: Connection<ServerProtocol>) => void = () => {};
        const connected = new Promise<Connection<ServerProtocol>>((resolve) => {
          accepted = resolve;
        });
        const server = await startServer(
          { extensions: [new ServerPerMessageDeflateFactory(c.ours)], maxMessageSize: MAX_SIZE },
          (connection, event) => {
            if (event.kind === 'request') accepted(connection);
          },
        );
        onTestFinished(() => server.close());
        const client = peer.deflate.startClient(`ws://127.0.0.1:${server.port}/`, c.theirs, MAX_SIZE);
        onTestFinished(() => client.stop());
        // The peer's failure says why it never connected (a Python peer's stderr).
        const connection = await withTimeout(
          Promise.race([connected, client.failure()]),
          START_MS,
          `the ${peer.name} client to connect`,
        );
        await echoMix(connection, client, c, 100 + c.name.length);
      });
    }
  });
}
