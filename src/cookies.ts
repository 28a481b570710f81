/**
 * Cookies on the opening handshake, opt-in (the `cookies` option).
 *
 * A browser's own WebSocket sends the site's cookies with the handshake
 * request and stores the cookies its response sets, because the handshake
 * is a fetch that shares the browser's cookie store. A library in a page
 * cannot reach that store; what it can do honestly is go through
 * `document.cookie`, which is the page's view of it: `documentCookies`
 * does that, for connections to the page's own host only. Its limits are
 * the page's:
 * - HttpOnly cookies are neither sent nor stored (the page cannot read
 *   them, and a cookie set through `document.cookie` with `HttpOnly` is
 *   refused);
 * - `document.cookie` lists the cookies of the page's path, without their
 *   attributes: a `Secure` cookie is sent on `ws:` too, and a cookie scoped
 *   to another path of the host is not sent;
 * - other hosts (subdomains too) get nothing: which of the page's cookies
 *   their domain covers is not visible from the page.
 * Elsewhere (Node, Electron main) pass any {@link CookieJar}, for instance
 * one backed by a cookie library.
 */

import type { CookieJar } from './connection/cookie-jar.js';

export type { CookieJar };

/** `document` as far as cookies go: absent outside a window. */
interface CookieDocument {
  cookie: string;
}

function page(url: URL): CookieDocument | null {
  const scope = globalThis as { document?: CookieDocument; location?: { hostname?: unknown } };
  const document = scope.document;
  if (document === undefined || typeof document.cookie !== 'string') return null;
  // Only the page's own host: which cookies another host's domain covers is not visible here.
  return scope.location?.hostname === url.hostname ? document : null;
}

const HTTP_ONLY = /;\s*httponly\s*(?:;|$)/i;

/**
 * The page's cookies through `document.cookie`, for connections to the
 * page's own host (see the module documentation for what it cannot do).
 * Outside a window it sends and stores nothing.
 */
export const documentCookies: CookieJar = {
  cookieHeader(url) {
    const cookies = page(url)?.cookie;
    return cookies === undefined || cookies === '' ? null : cookies;
  },
  setCookies(url, values) {
    const document = page(url);
    if (document === null) return;
    for (const value of values) {
      // The page may not set HttpOnly cookies; the browser would refuse them anyway.
      if (!HTTP_ONLY.test(value)) document.cookie = value;
    }
  },
};
