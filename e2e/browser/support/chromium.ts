/**
 * How the browser end-to-end tests run Chromium: Debian's /usr/bin/chromium
 * (installed by scripts/setup.mjs; browsers are never downloaded), headless,
 * with the flags that keep it off the network.
 */

/** Debian's Chromium. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Launch flags. `--host-resolver-rules` stops Chromium 156's own background
 * requests (update.googleapis.com, accounts.google.com) from even resolving:
 * only loopback names and literals resolve. `EXCLUDE ::1`, not `[::1]`: the
 * bracketed form broke `https://[::1]:port` WebTransport.
 * No `--disable-quic`: WebTransport runs over QUIC.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE ::1',
];
