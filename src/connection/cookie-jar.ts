/**
 * The cookie store a connection's opening handshake uses (the `cookies`
 * option): a browser's WebSocket shares the browser's cookie store, a
 * library's connection uses whatever jar it is given. `documentCookies`
 * (src/cookies.ts) is the page's `document.cookie`.
 */
/** Where the opening handshake reads cookies from and stores them. */
export interface CookieJar {
  /**
   * The `Cookie` header for the handshake request to `url` (a `ws:` or
   * `wss:` URL), or `null` for none.
   */
  cookieHeader(url: URL): string | null;
  /** The `Set-Cookie` header values of the handshake response from `url`, in order. */
  setCookies(url: URL, values: readonly string[]): void;
}
