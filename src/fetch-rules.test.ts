/**
 * What fetch and the page's security rules do to a browser's WebSocket, and
 * polysocket does too: bad ports are refused without connecting, `ws:` from
 * a page loaded over `https:` throws `SecurityError` (mixed content), and
 * cookies go through a `CookieJar` when one is given (opt-in).
 */
import { afterEach, describe, expect, test } from 'vitest';
import { isBadPort } from './connection/port-blocking.js';
import { type CookieJar, documentCookies } from './cookies.js';
import type { WebSocketErrorEvent } from './failure.js';
import { memoryServer } from './testing/memory-server.js';
import type { TransportFactory } from './transports/transport.js';
import { WebSocket } from './websocket.js';

/** Events of `ws` until close. */
function events(ws: WebSocket): Promise<{ log: string[]; error: WebSocketErrorEvent | null }> {
  const log: string[] = [];
  let error: WebSocketErrorEvent | null = null;
  return new Promise((resolve) => {
    ws.addEventListener('open', () => log.push('open'));
    ws.addEventListener('error', (event) => {
      error = event as WebSocketErrorEvent;
      log.push('error');
    });
    ws.addEventListener('close', (event) => {
      const { code, wasClean } = event as CloseEvent;
      log.push(`close ${code} ${wasClean}`);
      resolve({ log, error });
    });
  });
}

/** Run `body` with `globalThis` looking like a page at `href` (location, isSecureContext, document). */
async function inPage<T>(href: string, body: (document: { cookie: string }) => Promise<T> | T): Promise<T> {
  const scope = globalThis as { location?: unknown; isSecureContext?: unknown; document?: unknown };
  const url = new URL(href);
  const jar = new Map<string, string>();
  const document = {
    get cookie() {
      return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    },
    set cookie(text: string) {
      // Enough of a cookie store for these tests: name=value, and an Expires in the past deletes.
      const [pair = '', ...attributes] = text.split(';');
      const [name = '', value = ''] = pair.trim().split('=');
      if (attributes.some((attribute) => /^\s*expires=.*1994/i.test(attribute))) jar.delete(name);
      else jar.set(name, value);
    },
  };
  scope.location = { href, origin: url.origin, protocol: url.protocol, hostname: url.hostname };
  scope.isSecureContext =
    url.protocol === 'https:' || url.protocol === 'isolated-app:' || url.hostname === 'localhost';
  scope.document = document;
  try {
    return await body(document);
  } finally {
    delete scope.location;
    delete scope.isSecureContext;
    delete scope.document;
  }
}

afterEach(() => {
  const scope = globalThis as { location?: unknown };
  expect(scope.location).toBeUndefined();
});

describe("fetch's bad ports", () => {
  test('the list is the fetch standard’s (a sample), and the default ports are not on it', () => {
    for (const port of [0, 1, 22, 25, 6667, 10080]) expect(isBadPort(port)).toBe(true);
    for (const port of [80, 443, 8080, 8443, 6668 + 100, 65535]) expect(isBadPort(port)).toBe(false);
  });

  test.each([25, 6667])(
    'port %i: error, then close 1006, without connecting (kind blocked)',
    async (port) => {
      let connects = 0;
      const server = memoryServer();
      const factory: TransportFactory = (target) => {
        connects++;
        return server.factory(target);
      };
      const ws = new WebSocket(`ws://example.com:${port}/`, [], { transport: factory });
      const { log, error } = await events(ws);
      expect(log).toEqual(['error', 'close 1006 false']);
      expect(connects).toBe(0);
      expect(error!.error.kind).toBe('blocked');
      expect(error!.error.message).toBe(
        `WebSocket connection to 'ws://example.com:${port}/' failed: port ${port} is blocked (a bad port in the fetch standard)`,
      );
      expect(ws.failure).toBe(error!.error);
    },
  );

  test('a blocked connection does not hold up the next one to the host', async () => {
    const server = memoryServer();
    const blocked = new WebSocket('ws://example.com:25/', [], { transport: server.factory });
    const next = new WebSocket('ws://example.com:25/', [], { transport: server.factory });
    expect((await events(blocked)).log).toEqual(['error', 'close 1006 false']);
    expect((await events(next)).log).toEqual(['error', 'close 1006 false']);
  });
});

describe('mixed content: ws: from a page loaded over https:', () => {
  const server = memoryServer();
  const options = { transport: server.factory };

  test('throws SecurityError, as browsers do', async () => {
    await inPage('https://app.example/page.html', () => {
      let thrown: unknown;
      try {
        new WebSocket('ws://example.com/', [], options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(DOMException);
      expect(thrown).toMatchObject({
        name: 'SecurityError',
        message:
          "Failed to construct 'WebSocket': An insecure WebSocket connection may not be initiated from a page loaded over HTTPS.",
      });
      // A relative http: URL resolved against the page becomes wss:, and is fine.
      expect(() => new WebSocket('/chat', [], options).close()).not.toThrow();
    });
  });

  test.each([
    ['wss: from https:', 'https://app.example/', 'wss://example.com/', {}],
    ['ws: to loopback (potentially trustworthy)', 'https://app.example/', 'ws://127.0.0.1:8080/', {}],
    ['ws: to localhost', 'https://app.example/', 'ws://localhost:8080/', {}],
    ['ws: to [::1]', 'https://app.example/', 'ws://[::1]:8080/', {}],
    ['ws: from an http: page', 'http://app.example/', 'ws://example.com/', {}],
    // Secure, but Direct Sockets have no TLS: ws: is all such an app can reach.
    ['ws: from an Isolated Web App (isolated-app:)', 'isolated-app://abc/', 'ws://example.com/', {}],
    ['ws: with allowMixedContent', 'https://app.example/', 'ws://example.com/', { allowMixedContent: true }],
  ])('allowed: %s', async (_, page, url, extra) => {
    await inPage(page, () => {
      const ws = new WebSocket(url, [], { ...options, ...extra });
      ws.close();
    });
  });
});

describe('cookies (opt-in)', () => {
  test('no cookies without a jar, even in a page', async () => {
    const server = memoryServer();
    await inPage('http://example.com/', async (document) => {
      document.cookie = 'session=1';
      const ws = new WebSocket('ws://example.com/', [], { transport: server.factory });
      await new Promise((resolve) => ws.addEventListener('open', resolve));
      expect((await server.connection()).request?.headers.get('Cookie')).toBeUndefined();
      ws.close();
    });
  });

  test('a CookieJar gives the Cookie header and gets Set-Cookie before the open event', async () => {
    const calls: string[] = [];
    const jar: CookieJar = {
      cookieHeader: (url) => {
        calls.push(`read ${url.href}`);
        return 'a=1; b=2';
      },
      setCookies: (url, values) => calls.push(`set ${url.href} ${values.join(' | ')}`),
    };
    const server = memoryServer({
      respond: (request, protocol) => {
        const response = protocol.accept(request);
        response.headers.append('Set-Cookie', 'c=3; Path=/');
        response.headers.append('Set-Cookie', 'd=4; HttpOnly');
        return response;
      },
    });
    const ws = new WebSocket('ws://example.com/chat', [], { transport: server.factory, cookies: jar });
    await new Promise<void>((resolve) =>
      ws.addEventListener('open', () => {
        calls.push('open');
        resolve();
      }),
    );
    expect((await server.connection()).request?.headers.get('Cookie')).toBe('a=1; b=2');
    expect(calls).toEqual([
      'read ws://example.com/chat',
      'set ws://example.com/chat c=3; Path=/ | d=4; HttpOnly',
      'open',
    ]);
    ws.close();
  });

  test('documentCookies: the page’s cookies to its own host, Set-Cookie into document.cookie except HttpOnly', async () => {
    const server = memoryServer({
      respond: (request, protocol) => {
        const response = protocol.accept(request);
        response.headers.append('Set-Cookie', 'fromServer=yes; Path=/');
        response.headers.append('Set-Cookie', 'secret=no; Path=/; HttpOnly');
        return response;
      },
    });
    await inPage('http://example.com/app/', async (document) => {
      document.cookie = 'session=abc';
      const ws = new WebSocket('ws://example.com/', [], {
        transport: server.factory,
        cookies: documentCookies,
      });
      const cookieAtOpen = await new Promise<string>((resolve) =>
        ws.addEventListener('open', () => resolve(document.cookie)),
      );
      expect((await server.connection()).request?.headers.get('Cookie')).toBe('session=abc');
      expect(cookieAtOpen).toBe('session=abc; fromServer=yes');
      ws.close();
      // Another host (a subdomain too) gets no cookies, and sets none.
      const other = new WebSocket('ws://api.example.com/', [], {
        transport: server.factory,
        cookies: documentCookies,
      });
      await new Promise((resolve) => other.addEventListener('open', resolve));
      expect((await server.connection(1)).request?.headers.get('Cookie')).toBeUndefined();
      expect(document.cookie).toBe('session=abc; fromServer=yes');
      other.close();
    });
  });

  test('documentCookies outside a page sends and stores nothing', () => {
    expect(documentCookies.cookieHeader(new URL('ws://example.com/'))).toBeNull();
    expect(() => documentCookies.setCookies(new URL('ws://example.com/'), ['a=1'])).not.toThrow();
  });
});
