/**
 * What `wpt serve` does to a file before a test sees it, reproduced for the
 * `websockets/` suite: the host names and ports of the WPT configuration,
 * the `.sub` template substitutions, and the mapping from a URL on a WPT
 * origin to a file of the WPT checkout. Shared by the static HTTP(S) server
 * (servers.ts) and by the worker, whose `importScripts()` and `fetch()` read
 * the files directly (importScripts is synchronous, so it cannot go through
 * a socket).
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative, sep } from 'node:path';

/** WPT's configuration as the tests see it through substitutions. */
export interface WptConfig {
  /** Absolute path of the WPT checkout (holds `websockets/`, `resources/`, ...). */
  readonly wptDir: string;
  /** Ports by scheme, as `{{ports[scheme][i]}}` names them. */
  readonly ports: Readonly<Record<WptScheme, readonly number[]>>;
}

export type WptScheme = 'http' | 'https' | 'ws' | 'wss' | 'h2';

/** `browser_host` of WPT's default configuration. */
export const BROWSER_HOST = 'web-platform.test';
/** `alternate_hosts.alt`: a host that is not same-site with the browser host. */
export const ALT_HOST = 'not-web-platform.test';
/** The subdomains WPT defines on both hosts (`{{domains[www]}}`, `{{hosts[alt][www2]}}`, ...). */
const SUBDOMAINS = ['www', 'www1', 'www2', '天気の良い日', 'élève'];

/** A subdomain label as it goes on the wire: IDNA (punycode) for the non-ASCII ones. */
function asciiHost(name: string): string {
  return new URL(`http://${name}/`).hostname;
}

/** `{{hosts[host][sub]}}`: `sub` empty names the host itself. */
function hostName(host: string, sub: string): string {
  if (sub === '') return host;
  if (!SUBDOMAINS.includes(sub)) throw new Error(`no subdomain "${sub}" in the WPT configuration`);
  return `${sub}.${host}`;
}

/**
 * Every host name of the configuration, in ASCII: the ones that resolve to
 * 127.0.0.1 (wpt serve adds them to the hosts file; here the transport maps
 * them). `nonexistent.web-platform.test` is deliberately not among them.
 */
export const WPT_HOST_NAMES: ReadonlySet<string> = new Set(
  [BROWSER_HOST, ALT_HOST].flatMap((host) =>
    ['', ...SUBDOMAINS].map((sub) => asciiHost(hostName(host, sub))),
  ),
);

/**
 * Expand the `{{...}}` templates of a `.sub` file. Only what the suite and
 * the `common/` helpers it can include use; anything else throws, so that a
 * newer WPT snapshot needing more breaks loudly rather than testing a literal
 * `{{...}}`.
 */
export function substitute(text: string, config: WptConfig): string {
  return text.replace(/\{\{([^}]*)\}\}/g, (whole, expression: string) => {
    if (expression === 'host') return BROWSER_HOST;
    let match = /^domains\[([^\]]*)\]$/.exec(expression);
    if (match) return hostName(BROWSER_HOST, match[1]!);
    match = /^hosts\[([^\]]*)\]\[([^\]]*)\]$/.exec(expression);
    if (match) {
      const host = match[1] === '' ? BROWSER_HOST : match[1] === 'alt' ? ALT_HOST : undefined;
      if (host === undefined) throw new Error(`no host "${match[1]}" in ${whole}`);
      return hostName(host, match[2]!);
    }
    match = /^ports\[([^\]]+)\]\[(\d+)\]$/.exec(expression);
    if (match) {
      const port = config.ports[match[1] as WptScheme]?.[Number(match[2])];
      if (port === undefined) throw new Error(`no port for ${whole}`);
      return String(port);
    }
    throw new Error(`unsupported substitution ${whole}`);
  });
}

/** A response of the static server, or a script for importScripts(). */
export interface WptResource {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array<ArrayBuffer>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  // No charset: a page's own `<meta charset>` decides, as with wpt serve
  // (Create-url-with-windows-1252-encoding.html is windows-1252).
  '.html': 'text/html',
  '.idl': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Request headers, by lower-case name (node:http's `IncomingHttpHeaders`). */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * wptserve runs `*.py` files as Python request handlers; this runner has no
 * wptserve, so the few handlers a runnable test reaches are answered here
 * with the response the Python file builds.
 */
const PYTHON_HANDLERS: Readonly<Record<string, (url: URL, headers: RequestHeaders) => WptResource>> = {
  // opening-handshake/resources/redirect_response.py: `(301, "moved"), [('Location', '/echo')]`.
  '/websockets/opening-handshake/resources/redirect_response.py': () => ({
    status: 301,
    headers: { location: '/echo', 'content-type': 'text/plain' },
    body: new TextEncoder().encode('moved'),
  }),
  // cookies/support/set-cookie.py: the query, unquoted, as the Set-Cookie header.
  '/websockets/cookies/support/set-cookie.py': (url) => ({
    status: 200,
    headers: { 'set-cookie': decodeURIComponent(url.search.slice(1)), 'content-type': 'text/plain' },
    body: new Uint8Array(),
  }),
  // security/check.py: FAIL when the request carries Sec-WebSocket-Key, else PASS.
  '/websockets/security/check.py': (_, headers) =>
    textResource(200, headers['sec-websocket-key'] === undefined ? 'PASS' : 'FAIL'),
};

/** wpt serve's routes to files under another name. */
export const ALIASES: Readonly<Record<string, string>> = {
  '/resources/WebIDLParser.js': '/resources/webidl2/lib/webidl2.js',
};

function textResource(status: number, text: string): WptResource {
  return {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: new TextEncoder().encode(text),
  };
}

/**
 * The headers of a `X.headers` file next to `X`, which wpt serve adds to
 * X's response (testharness.js's say it may be cached: pages load it once).
 */
function fileHeaders(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(`${file}.headers`, 'utf8');
  } catch {
    return {};
  }
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * The response wpt serve would give for `url`'s path: the file of the
 * checkout, substituted when it is a `.sub` file or asks for `?pipe=sub`,
 * with the headers of its `.headers` file; or what one of the Python
 * handlers above answers (`request`: the request's headers, which some read).
 */
export function readResource(url: URL, config: WptConfig, request: RequestHeaders = {}): WptResource {
  const requested = decodeURIComponent(url.pathname);
  const path = ALIASES[requested] ?? requested;
  const handler = PYTHON_HANDLERS[path];
  if (handler !== undefined) return handler(url, request);
  const file = join(config.wptDir, path);
  const inside = relative(config.wptDir, file);
  if (inside.startsWith('..') || inside.startsWith(sep)) return textResource(403, 'outside the WPT checkout');
  if (extname(file) === '.py') return textResource(501, `${path}: wptserve Python handlers are not run here`);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    if (!statSync(file).isFile()) return textResource(404, `${path}: not a file`);
    bytes = new Uint8Array(readFileSync(file));
  } catch {
    return textResource(404, `${path}: not found`);
  }
  const headers = {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    ...fileHeaders(file),
  };
  const pipe = url.searchParams.get('pipe');
  if (!basename(file).includes('.sub.') && pipe !== 'sub') return { status: 200, headers, body: bytes };
  const text = substitute(new TextDecoder().decode(bytes), config);
  return { status: 200, headers, body: new TextEncoder().encode(text) };
}
