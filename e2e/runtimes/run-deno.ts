/**
 * The scenarios on Deno, over `denoTransport()` (Deno.connect/connectTls).
 * Run by runtimes.test.ts from the repository's root:
 * `deno run --sloppy-imports --no-lock --allow-net=127.0.0.1 e2e/runtimes/run-deno.ts '<server info>' <time scale>`
 * (`--sloppy-imports` resolves the sources' NodeNext `.js` specifiers to
 * their `.ts` files; npm packages come from node_modules via package.json).
 */
import { bindOptions, WebSocket } from '../../src/index.js';
import { denoTransport } from '../../src/transports/deno.js';
import { parseRunnerArgs, runScenarios } from './scenarios.js';

// Structural: the type checker of this repository has no Deno types.
declare const Deno: {
  readonly args: readonly string[];
  readonly version: { readonly deno: string };
  exit(code: number): never;
};

const { server, timeScale } = parseRunnerArgs(Deno.args);
const results = await runScenarios({
  runtime: `deno ${Deno.version.deno}`,
  WebSocket: bindOptions(WebSocket, { transport: denoTransport({ caCerts: [server.ca] }) }),
  DefaultTrustWebSocket: bindOptions(WebSocket, { transport: denoTransport() }),
  server,
  timeScale,
});
Deno.exit(results.every((result) => result.ok) ? 0 : 1);
