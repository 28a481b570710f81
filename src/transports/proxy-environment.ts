/**
 * Which proxy the environment names for a WebSocket URL, the way curl and
 * Python's `urllib` read it (and Python `websockets`, which adds the `ws`
 * and `wss` names):
 *
 * - `wss:` URLs: `wss_proxy`, then `https_proxy`, then `all_proxy`;
 * - `ws:` URLs: `ws_proxy`, then `http_proxy`, then `all_proxy`;
 * - each name in lower case first, then in upper case; an empty value
 *   counts as unset. `HTTP_PROXY` in upper case is ignored when
 *   `REQUEST_METHOD` is set: in a CGI program, a request's `Proxy:` header
 *   arrives as `HTTP_PROXY` ("httpoxy"), as Python's `urllib` and curl do;
 * - `no_proxy` (then `NO_PROXY`) lists hosts that bypass the proxy,
 *   separated by commas (or spaces): `*` for all; a name, which matches the
 *   host and its subdomains (a leading `.` or `*.` is ignored); an IP
 *   address, or a CIDR block (`10.0.0.0/8`, `fd00::/8`); each optionally
 *   with `:port`, which then must match too.
 *
 * Nothing here reads `process.env` or `Deno.env`: the caller passes the
 * environment, so this module runs anywhere.
 */
import { addressBytes } from './proxy-handshake.js';

/** Environment variables, as `process.env` has them. */
export type ProxyEnvironment = Readonly<Record<string, string | undefined>>;

/**
 * The proxy URL the environment names for `url` (a `ws:` or `wss:` URL), or
 * `null` for a direct connection.
 */
export function proxyForUrl(url: string | URL, env: ProxyEnvironment): string | null {
  const parsed = new URL(String(url));
  const secure = parsed.protocol === 'wss:' || parsed.protocol === 'https:';
  const names = secure ? ['wss_proxy', 'https_proxy', 'all_proxy'] : ['ws_proxy', 'http_proxy', 'all_proxy'];
  let proxy: string | null = null;
  for (const name of names) {
    proxy = read(env, name);
    if (proxy !== null) break;
  }
  if (proxy === null) return null;
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const port = parsed.port === '' ? (secure ? 443 : 80) : Number(parsed.port);
  const noProxy = read(env, 'no_proxy');
  return noProxy !== null && bypasses(noProxy, host, port) ? null : proxy;
}

function read(env: ProxyEnvironment, name: string): string | null {
  const lower = env[name]?.trim();
  if (lower !== undefined && lower !== '') return lower;
  const upperName = name.toUpperCase();
  // httpoxy: in a CGI program, the request header `Proxy:` becomes HTTP_PROXY.
  if (upperName === 'HTTP_PROXY' && env['REQUEST_METHOD'] !== undefined) return null;
  const upper = env[upperName]?.trim();
  return upper !== undefined && upper !== '' ? upper : null;
}

/** Whether a `no_proxy` list names `host:port`. */
export function bypasses(noProxy: string, host: string, port: number): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  const address = addressBytes(name);
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    // An optional port: "host:port", "[v6]:port", "1.2.3.4:port" (a bare
    // IPv6 address has more than one colon and no port).
    let entryPort: number | null = null;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed !== null) {
      entry = bracketed[1]!;
      entryPort = bracketed[2] === undefined ? null : Number(bracketed[2]);
    } else {
      const hostPort = /^([^:]+):(\d+)$/.exec(entry);
      if (hostPort !== null) {
        entry = hostPort[1]!;
        entryPort = Number(hostPort[2]);
      }
    }
    if (entryPort !== null && entryPort !== port) continue;
    const slash = entry.indexOf('/');
    if (slash >= 0) {
      if (address !== null && inCidr(address, entry.slice(0, slash), Number(entry.slice(slash + 1))))
        return true;
      continue;
    }
    const entryAddress = addressBytes(entry);
    if (entryAddress !== null) {
      if (address !== null && sameBytes(address, entryAddress)) return true;
      continue;
    }
    const domain = entry.replace(/^\*?\./, '').replace(/\.$/, '');
    if (domain !== '' && (name === domain || name.endsWith(`.${domain}`))) return true;
  }
  return false;
}

function inCidr(address: Uint8Array, network: string, bits: number): boolean {
  const base = addressBytes(network);
  if (base === null || base.byteLength !== address.byteLength || !Number.isInteger(bits)) return false;
  if (bits < 0 || bits > base.byteLength * 8) return false;
  for (let i = 0; i < base.byteLength; i++) {
    const take = Math.max(0, Math.min(8, bits - 8 * i));
    const mask = take === 0 ? 0 : (0xff << (8 - take)) & 0xff;
    if ((address[i]! & mask) !== (base[i]! & mask)) return false;
  }
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}
