/**
 * Fetch's port blocking (https://fetch.spec.whatwg.org/#port-blocking): "A
 * port is a bad port if it is listed in the first column of the following
 * table", and fetch blocks a request whose URL has an HTTP(S) scheme and a
 * bad port. A WebSocket connection is established through fetch with its
 * URL's scheme changed to `http`/`https`, so the same ports are refused:
 * browsers and undici fail the connection (error, then close 1006) without
 * connecting. The ports belong to protocols (SMTP, IRC, …) that a page could
 * otherwise be made to talk to.
 */
const BAD_PORTS = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** Whether fetch blocks `port` (always given explicitly: a URL's default port is never bad). */
export function isBadPort(port: number): boolean {
  return BAD_PORTS.has(port);
}
