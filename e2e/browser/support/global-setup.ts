/**
 * Playwright global setup: starts what the browser tests talk to, and
 * returns the teardown that stops all of it.
 *
 *   page (Vite, http://127.0.0.1) --WebTransport--> gateway (Deno) --TCP--> ws / Python websockets
 *                                                                  --TLS--> the same, wss: (support/tls.ts)
 */
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exportE2eEnv } from './env.js';
import { startGatewayProcess } from './gateway.js';
import { startPageServer } from './page-server.js';
import { startParityServer } from './parity-server.js';
import { stopAllServices } from './processes.js';
import {
  closedTcpPort,
  closedUdpPort,
  type RunningServer,
  startPythonServer,
  startTcpSink,
  startWsServer,
} from './servers.js';
import { makeTestCertificates } from './tls.js';

const LOG_DIR = fileURLToPath(new URL('../../../build/e2e/', import.meta.url));

export default async function globalSetup(): Promise<() => Promise<void>> {
  rmSync(LOG_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const teardown = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await stopAllServices();
  };
  try {
    const track = <T extends RunningServer | { stop(): Promise<void> }>(server: T): T => {
      stops.push(() => server.stop());
      return server;
    };
    const certificates = makeTestCertificates();
    stops.push(async () => certificates.remove());
    const { servers: tls } = certificates;
    const [ws, python, sink, page, parity, wss, pythonWss, expired, otherName, unknownCa] = await Promise.all(
      [
        startWsServer().then(track),
        startPythonServer(`${LOG_DIR}python.log`).then(track),
        startTcpSink().then(track),
        startPageServer().then(track),
        startParityServer().then(track),
        startWsServer(tls.good).then(track),
        startPythonServer(`${LOG_DIR}python-tls.log`, tls.good).then(track),
        startWsServer(tls.expired).then(track),
        startWsServer(tls.otherName).then(track),
        startWsServer(tls.unknownCa).then(track),
      ],
    );
    const refusedPort = await closedTcpPort();
    const downPort = await closedUdpPort();
    const gatewayLog = `${LOG_DIR}gateway.log`;
    const gateway = track(
      await startGatewayProcess({
        allow: [
          `127.0.0.1:${ws.port}`,
          `127.0.0.1:${python.port}`,
          `127.0.0.1:${refusedPort}`,
          `127.0.0.1:${parity.port}`,
          ...[wss, pythonWss, expired, otherName, unknownCa].map((server) => `127.0.0.1:${server.port}`),
        ],
        // The wss: servers' CA, for the gateway's TLS to them.
        ca: [certificates.caFile],
        logFile: gatewayLog,
        // Sessions their clients closed are reaped after this (see gateway.ts).
        args: ['--idle-timeout', '6000'],
      }),
    );
    exportE2eEnv({
      pageUrl: page.url,
      gatewayUrl: gateway.url,
      certificateHash: gateway.certificateHash,
      gatewayLog,
      wsPort: ws.port,
      pythonPort: python.port,
      parityPort: parity.port,
      refusedPort,
      notAllowedPort: sink.port,
      downPort,
      wss: {
        ws: wss.port,
        python: pythonWss.port,
        expired: expired.port,
        otherName: otherName.port,
        unknownCa: unknownCa.port,
      },
    });
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
