/**
 * The scenarios on Bun, over `bunTransport()` (Bun.connect). Run by
 * runtimes.test.ts from the repository's root:
 * `bun run e2e/runtimes/run-bun.ts '<server info>' <time scale>` (Bun resolves the
 * sources' NodeNext `.js` specifiers to their `.ts` files by itself).
 */
import { bindOptions, WebSocket } from '../../src/index.js';
import { bunTransport } from '../../src/transports/bun.js';
import { parseRunnerArgs, runScenarios } from './scenarios.js';

// Structural: the type checker of this repository has no Bun types.
declare const Bun: { readonly version: string };

const { server, timeScale } = parseRunnerArgs(process.argv.slice(2));
const results = await runScenarios({
  runtime: `bun ${Bun.version}`,
  WebSocket: bindOptions(WebSocket, { transport: bunTransport({ tls: { ca: server.ca } }) }),
  DefaultTrustWebSocket: bindOptions(WebSocket, { transport: bunTransport() }),
  server,
  timeScale,
});
process.exit(results.every((result) => result.ok) ? 0 : 1);
