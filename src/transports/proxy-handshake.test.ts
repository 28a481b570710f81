import { describe, expect, test } from 'vitest';

import { ProxyError } from './proxy-error.js';
import { addressBytes, HttpConnectHandshake, Socks5Handshake } from './proxy-handshake.js';
import { parseProxyUrl } from './proxy-url.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const ascii = (value: string) => new TextEncoder().encode(value);

function thrown(action: () => unknown): ProxyError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ProxyError);
    return error as ProxyError;
  }
  throw new Error('nothing was thrown');
}

describe('parseProxyUrl', () => {
  test('schemes, default ports, credentials and a display form without them', () => {
    expect(parseProxyUrl('http://proxy.example')).toEqual({
      scheme: 'http',
      host: 'proxy.example',
      port: 80,
      display: 'http://proxy.example:80',
    });
    expect(parseProxyUrl('https://p:8443').port).toBe(8443);
    expect(parseProxyUrl('HTTPS://p').port).toBe(443);
    expect(parseProxyUrl('socks5://p').port).toBe(1080);
    expect(parseProxyUrl('socks5h://[::1]:9050')).toMatchObject({
      scheme: 'socks5h',
      host: '::1',
      port: 9050,
    });
    expect(parseProxyUrl('http://us%40er:p%3Ass@p:3128')).toMatchObject({
      username: 'us@er',
      password: 'p:ss',
      display: 'http://p:3128',
    });
  });

  test('a bare host:port is an http: proxy, as curl reads http_proxy', () => {
    expect(parseProxyUrl('10.0.0.1:3128')).toMatchObject({ scheme: 'http', host: '10.0.0.1', port: 3128 });
  });

  test('unsupported schemes and unparsable URLs are TypeErrors that do not show credentials', () => {
    expect(() => parseProxyUrl('socks4://p:1080')).toThrow(/unsupported proxy scheme "socks4:"/);
    expect(() => parseProxyUrl('http://user:secret@[bad')).toThrow(TypeError);
    try {
      parseProxyUrl('ftp://user:secret@p');
    } catch (error) {
      expect(String(error)).not.toContain('secret');
    }
  });
});

describe('HTTP CONNECT', () => {
  const proxy = parseProxyUrl('http://proxy:3128');

  test('sends the authority form with Host, and opens on 2xx, keeping the bytes after the head', () => {
    const handshake = new HttpConnectHandshake(proxy, 'example.com', 443);
    expect(text(handshake.start().send)).toBe(
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    );
    expect(handshake.receive(ascii('HTTP/1.1 200 Connection est')).done).toBe(false);
    const step = handshake.receive(Uint8Array.from([...ascii('ablished\r\nVia: x\r\n\r\n'), 0x81, 0x00]));
    expect(step.done).toBe(true);
    expect([...step.rest]).toEqual([0x81, 0x00]);
  });

  test('brackets an IPv6 target and sends Basic credentials in UTF-8', () => {
    const handshake = new HttpConnectHandshake(
      parseProxyUrl('http://J%C3%BCrgen:p%C3%A4ss@proxy:3128'),
      '::1',
      8080,
    );
    const request = text(handshake.start().send);
    expect(request).toContain('CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n');
    const encoded = /Proxy-Authorization: Basic (\S+)\r\n/.exec(request)?.[1] ?? '';
    const decoded = new TextDecoder().decode(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)));
    expect(decoded).toBe('Jürgen:päss');
  });

  test('407 without credentials: auth-required, with the schemes the proxy asks for', () => {
    const handshake = new HttpConnectHandshake(proxy, 'example.com', 443);
    handshake.start();
    const error = thrown(() =>
      handshake.receive(
        ascii(
          'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x, y"\r\nproxy-authenticate: Negotiate\r\n\r\n',
        ),
      ),
    );
    expect(error.code).toBe('auth-required');
    expect(error.status).toBe(407);
    expect(error.authenticate).toEqual(['Basic', 'Negotiate']);
    expect(error.message).toContain('proxy http://proxy:3128 (to example.com:443)');
  });

  test('407 with credentials: auth-failed', () => {
    const handshake = new HttpConnectHandshake(
      parseProxyUrl('http://u:wrong@proxy:3128'),
      'example.com',
      443,
    );
    handshake.start();
    const error = thrown(() =>
      handshake.receive(ascii('HTTP/1.0 407 Denied\r\nProxy-Authenticate: Basic\r\n\r\n')),
    );
    expect(error.code).toBe('auth-failed');
    expect(error.message).not.toContain('wrong');
  });

  test.each([
    [403, 'refused'],
    [405, 'refused'],
    [502, 'target-unreachable'],
    [503, 'target-unreachable'],
    [504, 'target-unreachable'],
  ])('status %i: %s', (status, code) => {
    const handshake = new HttpConnectHandshake(proxy, 'example.com', 80);
    handshake.start();
    const error = thrown(() => handshake.receive(ascii(`HTTP/1.1 ${status} Whatever\r\n\r\n`)));
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
  });

  test('a non-HTTP answer, an endless head and an early close are protocol errors', () => {
    const a = new HttpConnectHandshake(proxy, 'h', 1);
    expect(thrown(() => a.receive(ascii('\x05\x00\r\n\r\n'))).code).toBe('protocol');
    const b = new HttpConnectHandshake(proxy, 'h', 1);
    expect(thrown(() => b.receive(new Uint8Array(70 * 1024).fill(65))).code).toBe('protocol');
    expect(new HttpConnectHandshake(proxy, 'h', 1).eof().code).toBe('protocol');
  });
});

describe('SOCKS5', () => {
  test('no auth, a domain name (socks5h), a reply in pieces, and the bytes after it', () => {
    const handshake = new Socks5Handshake(parseProxyUrl('socks5h://p'), 'example.com', 443);
    expect([...handshake.start().send]).toEqual([5, 1, 0]);
    const request = handshake.receive(Uint8Array.from([5, 0]));
    expect([...request.send]).toEqual([5, 1, 0, 3, 11, ...ascii('example.com'), 1, 187]);
    expect(handshake.receive(Uint8Array.from([5, 0, 0, 1, 127, 0])).done).toBe(false);
    const open = handshake.receive(Uint8Array.from([0, 1, 0x1f, 0x90, 42]));
    expect(open.done).toBe(true);
    expect([...open.rest]).toEqual([42]);
  });

  test('user name and password (RFC 1929), and IPv4 and IPv6 addresses', () => {
    const handshake = new Socks5Handshake(parseProxyUrl('socks5://user:pw@p'), '::ffff:10.1.2.3', 80);
    expect([...handshake.start().send]).toEqual([5, 2, 0, 2]);
    expect([...handshake.receive(Uint8Array.from([5, 2])).send]).toEqual([
      1,
      4,
      ...ascii('user'),
      2,
      ...ascii('pw'),
    ]);
    const request = handshake.receive(Uint8Array.from([1, 0]));
    expect([...request.send]).toEqual([
      5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3, 0, 80,
    ]);
    // The whole answer, method to reply, in one chunk.
    const v4 = new Socks5Handshake(parseProxyUrl('socks5://p'), '192.0.2.7', 8080);
    v4.start();
    const step = v4.receive(Uint8Array.from([5, 0, 5, 0, 0, 4, ...new Uint8Array(16), 0, 0]));
    expect([...step.send]).toEqual([5, 1, 0, 1, 192, 0, 2, 7, 0x1f, 0x90]);
    expect(step.done).toBe(true);
  });

  test('reply codes: target-unreachable for 3 to 6, refused for the others, with the code and its meaning', () => {
    for (const [reply, code] of [
      [1, 'refused'],
      [2, 'refused'],
      [3, 'target-unreachable'],
      [4, 'target-unreachable'],
      [5, 'target-unreachable'],
      [6, 'target-unreachable'],
      [7, 'refused'],
      [8, 'refused'],
    ] as const) {
      const handshake = new Socks5Handshake(parseProxyUrl('socks5h://p'), 'h', 1);
      handshake.start();
      handshake.receive(Uint8Array.from([5, 0]));
      const error = thrown(() => handshake.receive(Uint8Array.from([5, reply, 0, 1, 0, 0, 0, 0, 0, 0])));
      expect([error.code, error.socksReply]).toEqual([code, reply]);
      expect(error.message).toMatch(new RegExp(`SOCKS5 reply ${reply}: \\w`));
    }
  });

  test('no acceptable method: auth-required; rejected credentials: auth-failed; a non-SOCKS5 answer: protocol', () => {
    const none = new Socks5Handshake(parseProxyUrl('socks5h://p'), 'h', 1);
    none.start();
    expect(thrown(() => none.receive(Uint8Array.from([5, 0xff]))).code).toBe('auth-required');
    const bad = new Socks5Handshake(parseProxyUrl('socks5h://u:p@p'), 'h', 1);
    bad.start();
    bad.receive(Uint8Array.from([5, 2]));
    expect(thrown(() => bad.receive(Uint8Array.from([1, 1]))).code).toBe('auth-failed');
    const http = new Socks5Handshake(parseProxyUrl('socks5h://p'), 'h', 1);
    http.start();
    expect(thrown(() => http.receive(ascii('HTTP/1.1 400 Bad Request\r\n\r\n'))).code).toBe('protocol');
    // A method that was not offered (user/password without credentials).
    const unoffered = new Socks5Handshake(parseProxyUrl('socks5h://p'), 'h', 1);
    unoffered.start();
    expect(thrown(() => unoffered.receive(Uint8Array.from([5, 2]))).code).toBe('protocol');
  });

  test('a host name over 255 bytes cannot be sent', () => {
    expect(
      thrown(() => new Socks5Handshake(parseProxyUrl('socks5h://p'), `${'a'.repeat(256)}`, 1)).code,
    ).toBe('unsupported');
  });
});

describe('addressBytes', () => {
  test('IPv4, IPv6 in its forms, and names', () => {
    expect([...addressBytes('127.0.0.1')!]).toEqual([127, 0, 0, 1]);
    expect(addressBytes('256.0.0.1')).toBeNull();
    expect([...addressBytes('::1')!]).toEqual([...new Uint8Array(15), 1]);
    expect([...addressBytes('2001:db8::8:1')!]).toEqual([
      0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 1,
    ]);
    expect(addressBytes('1:2:3:4:5:6:7:8')).not.toBeNull();
    expect(addressBytes('1:2:3')).toBeNull();
    expect(addressBytes('example.com')).toBeNull();
  });
});
