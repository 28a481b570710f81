/**
 * TLS from the gateway to a target (protocol version 2's `tls` request,
 * src/transports/gateway-wire.ts): the gateway connects over TCP, then
 * runs a TLS client handshake with `Deno.startTls`, which is rustls with
 * webpki verification. The target's certificate is always verified, chain
 * and name: against Deno's root store (Mozilla's roots, as bundled by
 * Deno, unless the operator chose another with DENO_TLS_CA_STORE) plus the
 * operator's extra CAs (`--ca`). Nothing a client sends can turn it off or
 * add a root: the client names the target and the server name, and that is
 * all.
 *
 * Why the gateway and not the page: no TLS implementation in JavaScript
 * was found fit to be trusted (README, "wss:// through a gateway").
 */
import { GatewayTlsFailure } from '../src/transports/gateway-wire.ts';
import { generateCertificate } from './cert.ts';

/** A TLS connection to a target failed: why, for the client, and the TLS library's words. */
export class TargetTlsError extends Error {
  override readonly name = 'TargetTlsError';
  readonly failure: GatewayTlsFailure;
  readonly detail: string;

  constructor(failure: GatewayTlsFailure, detail: string) {
    super(`${failure}: ${detail}`);
    this.failure = failure;
    this.detail = detail;
  }
}

/**
 * What a failed handshake means, from the error Deno 2.9.6 throws: rustls'
 * messages, all with the class `InvalidData` for certificate problems
 * ("invalid peer certificate: …"). Each mapping is tested against a real
 * handshake in tls.test.ts, so that a Deno whose words changed fails there
 * rather than telling pages the wrong reason.
 */
export function classifyTlsError(error: unknown): GatewayTlsFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (!/invalid peer certificate/i.test(message)) return GatewayTlsFailure.HANDSHAKE_FAILED;
  // rustls' CertificateError: UnknownIssuer; Expired / ExpiredContext
  // ("certificate expired: verification time …"); NotValidYet /
  // NotValidYetContext ("certificate not valid yet: …"); NotValidForName /
  // NotValidForNameContext ("certificate not valid for name …").
  if (/UnknownIssuer/.test(message)) return GatewayTlsFailure.UNKNOWN_ISSUER;
  if (/certificate expired|\bExpired\b/.test(message)) return GatewayTlsFailure.EXPIRED;
  if (/not valid yet|NotValidYet/.test(message)) return GatewayTlsFailure.NOT_YET_VALID;
  if (/not valid for name|NotValidForName/.test(message)) return GatewayTlsFailure.HOST_MISMATCH;
  return GatewayTlsFailure.INVALID;
}

/** Options of {@link startTargetTls}. */
export interface TargetTlsOptions {
  /** The name the certificate must be valid for (a DNS name or an IP address); SNI if a DNS name. */
  readonly serverName: string;
  /** ALPN IDs to offer; none if empty. */
  readonly alpn: readonly string[];
  /** Extra roots, PEM, added to Deno's. */
  readonly caCerts: readonly string[];
  /** Time allowed for the handshake. */
  readonly timeoutMs: number;
  /** Gives up when it aborts (the session ended). */
  readonly signal: AbortSignal;
}

/**
 * Run a TLS client handshake on `tcp` (which it takes over: on failure it
 * is closed) and return the verified connection and the ALPN protocol the
 * target chose.
 * @throws TargetTlsError why the handshake failed or timed out; the abort reason if `signal` aborted.
 */
export async function startTargetTls(
  tcp: Deno.TcpConn,
  options: TargetTlsOptions,
): Promise<{ readonly conn: Deno.TlsConn; readonly alpn: string | null }> {
  let conn: Deno.TlsConn;
  try {
    options.signal.throwIfAborted();
    conn = await Deno.startTls(tcp, {
      hostname: options.serverName,
      caCerts: [...options.caCerts],
      ...(options.alpn.length > 0 ? { alpnProtocols: [...options.alpn] } : {}),
    });
  } catch (error) {
    closeQuietly(tcp);
    if (options.signal.aborted) throw options.signal.reason;
    throw new TargetTlsError(classifyTlsError(error), errorMessage(error));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stop: (() => void) | undefined;
  const stopped = new Promise<'timeout' | 'aborted'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
    stop = () => resolve('aborted');
    options.signal.addEventListener('abort', stop);
  });
  const handshake = conn.handshake();
  // Handled here too: it rejects once the connection is closed below.
  handshake.catch(() => {});
  try {
    const outcome = await Promise.race([handshake, stopped]);
    if (outcome === 'timeout') {
      throw new TargetTlsError(
        GatewayTlsFailure.HANDSHAKE_TIMEOUT,
        `no TLS handshake within ${options.timeoutMs} ms`,
      );
    }
    if (outcome === 'aborted') throw options.signal.reason;
    return { conn, alpn: outcome.alpnProtocol };
  } catch (error) {
    closeQuietly(conn);
    if (error instanceof TargetTlsError || options.signal.aborted) throw error;
    throw new TargetTlsError(classifyTlsError(error), errorMessage(error));
  } finally {
    clearTimeout(timer);
    if (stop !== undefined) options.signal.removeEventListener('abort', stop);
  }
}

/**
 * Why this Deno cannot be trusted to verify certificates, or `null` if it
 * does. Deno's `--unsafely-ignore-certificate-errors` turns verification
 * off for every TLS connection of the process, `Deno.startTls` included;
 * nothing in Deno's API tells. So the gateway tries: a handshake with a
 * server on loopback whose self-signed certificate nobody trusts must fail
 * with an unknown issuer. (The flag's per-host form,
 * `--unsafely-ignore-certificate-errors=HOST,…`, turns verification off for
 * those hosts only, which this check cannot see; gateway/README.md says
 * never to run the gateway with the flag.)
 */
export async function verificationProblem(timeoutMs = 10_000): Promise<string | null> {
  const certificate = await generateCertificate({ days: 1, names: ['localhost'] });
  let listener: Deno.TlsListener;
  try {
    listener = Deno.listenTls({
      hostname: '127.0.0.1',
      port: 0,
      cert: certificate.certPem,
      key: certificate.keyPem,
    });
  } catch (error) {
    return `could not check that certificate verification is on (a TLS listener on 127.0.0.1 is needed for the check): ${errorMessage(error)}`;
  }
  // The server's side: accept one connection, let its handshake end
  // however it ends, and close it.
  const serving = (async () => {
    try {
      const accepted = await listener.accept();
      await accepted.handshake().catch(() => {});
      closeQuietly(accepted);
    } catch {
      // The listener was closed first.
    }
  })();
  const controller = new AbortController();
  try {
    const tcp = await Deno.connect({ hostname: '127.0.0.1', port: listener.addr.port });
    const { conn } = await startTargetTls(tcp, {
      serverName: 'localhost',
      alpn: [],
      caCerts: [],
      timeoutMs,
      signal: controller.signal,
    });
    closeQuietly(conn);
    return 'a certificate that no root vouches for was accepted: certificate verification is off in this Deno process (--unsafely-ignore-certificate-errors)';
  } catch (error) {
    if (error instanceof TargetTlsError && error.failure === GatewayTlsFailure.UNKNOWN_ISSUER) return null;
    return `could not check that certificate verification is on: ${errorMessage(error)}`;
  } finally {
    controller.abort();
    try {
      listener.close();
    } catch {
      // Closed already.
    }
    await serving;
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
