/**
 * What the global setup started, passed to the test workers in environment
 * variables (Playwright forks the workers after the global setup).
 */

/** Addresses of the servers the tests use. */
export interface E2eEnv {
  /** Test pages: `http://127.0.0.1:<port>/`. */
  readonly pageUrl: string;
  /** The WebTransport gateway: `https://127.0.0.1:<port>/`. */
  readonly gatewayUrl: string;
  /** SHA-256 of the gateway's certificate, base64. */
  readonly certificateHash: string;
  /** The gateway's log file (one line per session, connect, refuse and close). */
  readonly gatewayLog: string;
  /** `ws` server (allow-listed). */
  readonly wsPort: number;
  /** Python websockets server (allow-listed). */
  readonly pythonPort: number;
  /** The parity tests' `ws` server (parity-server.ts; allow-listed). */
  readonly parityPort: number;
  /** Allow-listed, nothing listens: the gateway's connect is refused. */
  readonly refusedPort: number;
  /** A listening TCP server that is not allow-listed. */
  readonly notAllowedPort: number;
  /** A UDP port where no gateway listens. */
  readonly downPort: number;
  /**
   * TLS servers (allow-listed; support/tls.ts): `ws` and Python websockets
   * with a certificate from the CA the gateway was given (`--ca`) for
   * localhost and 127.0.0.1, and `ws` with an expired one, one for
   * other.test only, and one from a CA nobody trusts.
   */
  readonly wss: {
    readonly ws: number;
    readonly python: number;
    readonly expired: number;
    readonly otherName: number;
    readonly unknownCa: number;
  };
}

const KEY = 'POLYSOCKET_E2E';

/** Store `env` for the workers (global setup). */
export function exportE2eEnv(env: E2eEnv): void {
  process.env[KEY] = JSON.stringify(env);
}

/** Read what the global setup started (tests). */
export function e2eEnv(): E2eEnv {
  const text = process.env[KEY];
  if (text === undefined)
    throw new Error(`${KEY} is not set: run the tests with playwright test (global setup)`);
  return JSON.parse(text) as E2eEnv;
}
