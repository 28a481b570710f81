/**
 * The opening exchanges of proxy tunnels, Sans-I/O: bytes in, bytes out,
 * and either "the tunnel is open" (with any bytes that followed the proxy's
 * answer, which belong to the tunnel) or a {@link ProxyError}.
 *
 * - HTTP `CONNECT` (RFC 9110, 9.3.6), with Basic credentials in
 *   `Proxy-Authorization` (RFC 7617) when the proxy URL has them.
 * - SOCKS5 (RFC 1928) with no authentication or user name and password
 *   (RFC 1929), and `CONNECT` to a domain name (`socks5h:`) or an address.
 */
import { ProxyError } from './proxy-error.js';
import type { ProxyConfig } from './proxy-url.js';

/** What the handshake wants after a call. */
export interface HandshakeStep {
  /** Bytes to write to the proxy now (empty when there are none). */
  readonly send: Uint8Array;
  /** The tunnel is open: from now on, bytes are the target's. */
  readonly done: boolean;
  /** Bytes received after the proxy's last answer: the first bytes of the tunnel. */
  readonly rest: Uint8Array;
}

/** A proxy's opening exchange for one tunnel. */
export interface ProxyHandshake {
  /** The first bytes to send, once the connection to the proxy is open. */
  start(): HandshakeStep;
  /** Bytes from the proxy. @throws ProxyError when the proxy refuses or misbehaves. */
  receive(chunk: Uint8Array): HandshakeStep;
  /** The proxy closed the connection. @returns the error to fail with. */
  eof(): ProxyError;
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** `host:port`, with an IPv6 address in brackets (RFC 9110, 7.2; RFC 3986, 3.2.2). */
export function authority(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Concatenate two byte arrays (either may be empty). */
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

// ---------------------------------------------------------------------------
// HTTP CONNECT

/** The largest response head accepted from a proxy, like an HTTP client's own limit on a response head. */
const MAX_HEAD_BYTES = 64 * 1024;

/** Base64 of the UTF-8 bytes of `text` (RFC 7617, 2.1: "the user-id and password [are] encoded" in UTF-8 when the server says so, the only charset it defines). */
function base64Utf8(text: string): string {
  let binary = '';
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** An HTTP/1.1 `CONNECT` exchange with an `http:` or `https:` proxy. */
export class HttpConnectHandshake implements ProxyHandshake {
  readonly #proxy: ProxyConfig;
  readonly #target: string;
  #buffer: Uint8Array = EMPTY;

  constructor(proxy: ProxyConfig, host: string, port: number) {
    this.#proxy = proxy;
    this.#target = authority(host, port);
  }

  start(): HandshakeStep {
    // RFC 9110, 9.3.6: "CONNECT server.example.com:80 HTTP/1.1 / Host:
    // server.example.com". The request target is the authority form.
    let head = `CONNECT ${this.#target} HTTP/1.1\r\nHost: ${this.#target}\r\n`;
    if (this.#proxy.username !== undefined) {
      // RFC 7617, 2: credentials are "user-id" ":" "password", in Base64.
      head += `Proxy-Authorization: Basic ${base64Utf8(`${this.#proxy.username}:${this.#proxy.password ?? ''}`)}\r\n`;
    }
    return { send: encoder.encode(`${head}\r\n`), done: false, rest: EMPTY };
  }

  receive(chunk: Uint8Array): HandshakeStep {
    this.#buffer = concat(this.#buffer, chunk);
    const end = findHeadEnd(this.#buffer);
    if (end < 0) {
      if (this.#buffer.byteLength > MAX_HEAD_BYTES) {
        throw this.#error('protocol', `its answer to CONNECT has no end of head in ${MAX_HEAD_BYTES} bytes`);
      }
      return { send: EMPTY, done: false, rest: EMPTY };
    }
    const head = new TextDecoder('latin1').decode(this.#buffer.subarray(0, end));
    const rest = this.#buffer.subarray(end + 4);
    const [statusLine = '', ...fields] = head.split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
    if (match === null) {
      throw this.#error(
        'protocol',
        `its answer to CONNECT is not an HTTP/1.1 status line: ${JSON.stringify(statusLine.slice(0, 80))}`,
      );
    }
    const status = Number(match[1]);
    const reason = match[2] ?? '';
    // RFC 9110, 9.3.6: "Any 2xx (Successful) response indicates that the
    // sender (and all inbound proxies) will switch to tunnel mode".
    if (status >= 200 && status < 300) return { send: EMPTY, done: true, rest };
    const said = `${status} ${reason}`.trim();
    // RFC 9110, 15.5.8: 407 is the proxy asking for credentials, and it
    // "MUST send a Proxy-Authenticate header field"; each challenge starts
    // with its scheme. Some proxies answer 401 instead (tinyproxy 1.11 does
    // for wrong credentials, with `Proxy-Authenticate` too): the same.
    if (status === 407 || status === 401) {
      const authenticate = fields
        .filter((line) => /^(?:proxy|www)-authenticate\s*:/i.test(line))
        .map(
          (line) =>
            line
              .slice(line.indexOf(':') + 1)
              .trim()
              .split(/[\s,]/, 1)[0] ?? '',
        )
        .filter((scheme) => scheme !== '');
      const schemes = authenticate.length > 0 ? [...new Set(authenticate)].join(', ') : 'no scheme named';
      if (this.#proxy.username !== undefined) {
        throw this.#error('auth-failed', `it rejected the credentials (${said}; it asks for ${schemes})`, {
          status,
          authenticate,
        });
      }
      throw this.#error(
        'auth-required',
        `it requires authentication (${said}; it asks for ${schemes}); put the credentials in the proxy URL`,
        { status, authenticate },
      );
    }
    // 502 Bad Gateway and 504 Gateway Timeout are what RFC 9110 (15.6.3,
    // 15.6.5) has a gateway answer when the next server fails; proxies
    // answer 503 too when they cannot connect.
    if (status === 502 || status === 503 || status === 504) {
      throw this.#error('target-unreachable', `it could not connect to the target (${said})`, { status });
    }
    throw this.#error('refused', `it refused the tunnel (${said})`, { status });
  }

  eof(): ProxyError {
    return this.#error('protocol', 'it closed the connection before answering CONNECT');
  }

  #error(
    code: ProxyError['code'],
    why: string,
    details?: ConstructorParameters<typeof ProxyError>[4],
  ): ProxyError {
    return new ProxyError(code, this.#proxy.display, this.#target, why, details);
  }
}

/** The index of the CRLF CRLF that ends an HTTP head, or -1. */
function findHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.byteLength; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------
// SOCKS5

/** RFC 1928, 6: the meaning of each REP value. */
const SOCKS_REPLIES: Readonly<Record<number, string>> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by ruleset',
  3: 'Network unreachable',
  4: 'Host unreachable',
  5: 'Connection refused',
  6: 'TTL expired',
  7: 'Command not supported',
  8: 'Address type not supported',
};

type SocksState = 'method' | 'auth' | 'reply' | 'open';

/** Encode an IPv4 or IPv6 address literal as bytes, or `null` for a name. */
export function addressBytes(host: string): Uint8Array | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4 !== null) {
    const parts = v4.slice(1).map(Number);
    return parts.every((part) => part <= 255) ? Uint8Array.from(parts) : null;
  }
  if (!host.includes(':')) return null;
  // The URL parser serializes IPv6 in its compressed form; expand "::".
  const [head = '', tail] = host.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const expand = (groups: string[]): string[] =>
    groups.flatMap((group) => {
      const bytes = group.includes('.') ? addressBytes(group) : null;
      if (bytes === null || bytes.byteLength !== 4) return [group];
      return [((bytes[0]! << 8) | bytes[1]!).toString(16), ((bytes[2]! << 8) | bytes[3]!).toString(16)];
    });
  const l = expand(left);
  const r = expand(right);
  const missing = 8 - l.length - r.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const groups = [...l, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...r];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const value = Number.parseInt(groups[i]!, 16);
    if (!/^[0-9a-f]{1,4}$/i.test(groups[i]!) || Number.isNaN(value)) return null;
    out[2 * i] = value >> 8;
    out[2 * i + 1] = value & 0xff;
  }
  return out;
}

/**
 * A SOCKS5 exchange. `host` is what goes in the `CONNECT` request: a name
 * for `socks5h:` (the proxy resolves it), an address for `socks5:` (the
 * caller resolved it).
 */
export class Socks5Handshake implements ProxyHandshake {
  readonly #proxy: ProxyConfig;
  readonly #target: string;
  readonly #host: string;
  readonly #port: number;
  #state: SocksState = 'method';
  #buffer: Uint8Array = EMPTY;

  /** @param shownHost - The target's host as the user named it, for messages. */
  constructor(proxy: ProxyConfig, host: string, port: number, shownHost: string = host) {
    this.#proxy = proxy;
    this.#host = host;
    this.#port = port;
    this.#target = authority(shownHost, port);
    if (addressBytes(host) === null && encoder.encode(host).byteLength > 255) {
      // RFC 1928, 5: the DOMAINNAME's first octet is its length.
      throw this.#error('unsupported', 'the target host name is longer than the 255 bytes SOCKS5 can carry');
    }
  }

  start(): HandshakeStep {
    // RFC 1928, 3: VER, NMETHODS, METHODS. X'00' NO AUTHENTICATION
    // REQUIRED; X'02' USERNAME/PASSWORD, offered only with credentials.
    const methods = this.#proxy.username === undefined ? [0x00] : [0x00, 0x02];
    return { send: Uint8Array.from([0x05, methods.length, ...methods]), done: false, rest: EMPTY };
  }

  receive(chunk: Uint8Array): HandshakeStep {
    this.#buffer = concat(this.#buffer, chunk);
    const sends: Uint8Array[] = [];
    for (;;) {
      const step = this.#step();
      if (step === null) break;
      if (step.byteLength > 0) sends.push(step);
      if (this.#state === 'open') break;
    }
    const send = sends.reduce(concat, EMPTY);
    if (this.#state !== 'open') return { send, done: false, rest: EMPTY };
    const rest = this.#buffer;
    this.#buffer = EMPTY;
    return { send, done: true, rest };
  }

  eof(): ProxyError {
    return this.#error('protocol', 'it closed the connection during the SOCKS5 handshake');
  }

  /** Consume one complete message of the current state, or return `null` if it is not all here. */
  #step(): Uint8Array | null {
    const b = this.#buffer;
    switch (this.#state) {
      case 'method': {
        if (b.byteLength < 2) return null;
        this.#expectVersion(b[0]!, 0x05);
        const method = b[1]!;
        this.#consume(2);
        if (method === 0x00) return this.#request();
        if (method === 0x02 && this.#proxy.username !== undefined) {
          // RFC 1929, 2: VER (X'01'), ULEN, UNAME, PLEN, PASSWD.
          const user = encoder.encode(this.#proxy.username);
          const pass = encoder.encode(this.#proxy.password ?? '');
          if (user.byteLength > 255 || pass.byteLength > 255) {
            throw this.#error(
              'unsupported',
              'SOCKS5 user names and passwords are at most 255 bytes (RFC 1929)',
            );
          }
          this.#state = 'auth';
          return Uint8Array.from([0x01, user.byteLength, ...user, pass.byteLength, ...pass]);
        }
        if (method === 0xff) {
          // RFC 1928, 3: X'FF' NO ACCEPTABLE METHODS.
          if (this.#proxy.username === undefined) {
            throw this.#error(
              'auth-required',
              'it accepts none of the offered methods: it requires authentication; put the credentials in the proxy URL',
            );
          }
          throw this.#error(
            'auth-required',
            'it accepts neither no authentication nor user name and password',
          );
        }
        throw this.#error('protocol', `it chose method ${method}, which was not offered`);
      }
      case 'auth': {
        if (b.byteLength < 2) return null;
        this.#expectVersion(b[0]!, 0x01);
        const status = b[1]!;
        this.#consume(2);
        // RFC 1929, 2: "A STATUS field of X'00' indicates success."
        if (status !== 0x00)
          throw this.#error('auth-failed', `it rejected the user name and password (status ${status})`);
        return this.#request();
      }
      case 'reply': {
        // RFC 1928, 6: VER, REP, RSV, ATYP, BND.ADDR, BND.PORT.
        if (b.byteLength < 5) return null;
        this.#expectVersion(b[0]!, 0x05);
        const reply = b[1]!;
        if (reply !== 0x00) {
          const meaning = SOCKS_REPLIES[reply] ?? 'unassigned reply code';
          const code = reply >= 3 && reply <= 6 ? 'target-unreachable' : 'refused';
          throw this.#error(code, `SOCKS5 reply ${reply}: ${meaning}`, { socksReply: reply });
        }
        const type = b[3]!;
        const addressLength = type === 0x01 ? 4 : type === 0x04 ? 16 : type === 0x03 ? 1 + b[4]! : -1;
        if (addressLength < 0) throw this.#error('protocol', `its reply has address type ${type}`);
        if (b.byteLength < 4 + addressLength + 2) return null;
        this.#consume(4 + addressLength + 2);
        this.#state = 'open';
        return EMPTY;
      }
      default:
        return null;
    }
  }

  /** RFC 1928, 4: VER, CMD (X'01' CONNECT), RSV, ATYP, DST.ADDR, DST.PORT. */
  #request(): Uint8Array {
    this.#state = 'reply';
    const address = addressBytes(this.#host);
    let typed: number[];
    if (address === null) {
      const name = encoder.encode(this.#host);
      typed = [0x03, name.byteLength, ...name];
    } else {
      typed = [address.byteLength === 4 ? 0x01 : 0x04, ...address];
    }
    return Uint8Array.from([0x05, 0x01, 0x00, ...typed, this.#port >> 8, this.#port & 0xff]);
  }

  #expectVersion(actual: number, expected: number): void {
    if (actual !== expected) {
      throw this.#error(
        'protocol',
        `it answered with version ${actual}, not ${expected}: is it a SOCKS5 proxy?`,
      );
    }
  }

  #consume(count: number): void {
    this.#buffer = this.#buffer.subarray(count);
  }

  #error(
    code: ProxyError['code'],
    why: string,
    details?: ConstructorParameters<typeof ProxyError>[4],
  ): ProxyError {
    return new ProxyError(code, this.#proxy.display, this.#target, why, details);
  }
}
