/**
 * Proxy URLs: `http://[user:password@]host[:port]`, `https://…`,
 * `socks5://…` (the client resolves the target's name) and `socks5h://…`
 * (the proxy resolves it).
 */

export type ProxyScheme = 'http' | 'https' | 'socks5' | 'socks5h';

/** A parsed proxy URL. */
export interface ProxyConfig {
  readonly scheme: ProxyScheme;
  /** Host name, or IP address without brackets. */
  readonly host: string;
  readonly port: number;
  /** Percent-decoded user name, if the URL has one. */
  readonly username?: string;
  readonly password?: string;
  /** The URL without credentials, for messages and logs. */
  readonly display: string;
}

/**
 * Default ports, where the URL has none: the scheme's own for `http:` and
 * `https:`, and 1080, the SOCKS port IANA assigned (RFC 1928, 3: "The SOCKS
 * service is conventionally located on TCP port 1080").
 */
const DEFAULT_PORT: Readonly<Record<ProxyScheme, number>> = {
  http: 80,
  https: 443,
  socks5: 1080,
  socks5h: 1080,
};

/**
 * Parse a proxy URL. A URL with no scheme (`host:port`, as some
 * environments set `http_proxy`) is taken as `http://`.
 *
 * @throws TypeError for a URL that cannot be parsed or an unsupported scheme.
 */
export function parseProxyUrl(input: string | URL): ProxyConfig {
  let text = String(input).trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `http://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`invalid proxy URL: ${redact(text)}`);
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'socks5' && scheme !== 'socks5h') {
    throw new TypeError(
      `unsupported proxy scheme "${scheme}:" (use http:, https:, socks5: or socks5h:): ${redact(text)}`,
    );
  }
  if (url.hostname === '') throw new TypeError(`proxy URL without a host: ${redact(text)}`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  // `new URL` drops the port when it is the scheme's default (80, 443), and
  // keeps it for socks5: (no default port there).
  const port = url.port === '' ? DEFAULT_PORT[scheme] : Number(url.port);
  const display = `${scheme}://${url.hostname}:${port}`;
  const config: ProxyConfig = { scheme, host, port, display };
  if (url.username === '' && url.password === '') return config;
  return {
    ...config,
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

/** A URL's text with its user info replaced, for error messages. */
function redact(text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//***@');
}
