/**
 * What the global a WebSocket is created in decides, as a browser's does:
 * the origin its requests carry, and whether a URL is mixed content there.
 */

/**
 * Whether connecting to `url` from this global is mixed content: the global
 * is a secure context loaded over `https:` and `url` is `ws:` to a host that
 * is not a priori authenticated (loopback names and addresses are: they are
 * potentially trustworthy origins). Outside browsers there is no such page.
 *
 * Only `https:` pages: an Isolated Web App's page (`isolated-app:`) is a
 * secure context too, but there polysocket runs over Direct Sockets, which
 * have no TLS, so `ws:` is the only scheme such an app can reach at all;
 * the app, which chose to open raw TCP sockets, is what decides where they
 * go (the browser's own `WebSocket` there is bound by the app's Content
 * Security Policy instead).
 */
export function isMixedContent(url: URL): boolean {
  const scope = globalThis as { isSecureContext?: unknown; location?: { protocol?: unknown } };
  if (url.protocol !== 'ws:' || scope.isSecureContext !== true || scope.location?.protocol !== 'https:') {
    return false;
  }
  const host = url.hostname;
  return !(
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    /^127\.\d+\.\d+\.\d+$/.test(host)
  );
}

/**
 * Fetch: a request's `Origin` header is the serialization of its origin, the
 * client's (the page's or worker's) where there is one; `null` elsewhere.
 */
export function clientOrigin(): string | null {
  const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin;
  return typeof origin === 'string' ? origin : null;
}
