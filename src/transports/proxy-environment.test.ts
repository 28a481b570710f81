import { describe, expect, test } from 'vitest';

import { bypasses, proxyForUrl } from './proxy-environment.js';

describe('proxyForUrl', () => {
  test('wss: takes wss_proxy, then https_proxy, then all_proxy; ws: takes ws_proxy, http_proxy, all_proxy', () => {
    const env = {
      wss_proxy: 'http://a',
      https_proxy: 'http://b',
      http_proxy: 'http://c',
      all_proxy: 'socks5h://d',
    };
    expect(proxyForUrl('wss://x/', env)).toBe('http://a');
    expect(proxyForUrl('wss://x/', { ...env, wss_proxy: undefined })).toBe('http://b');
    expect(proxyForUrl('wss://x/', { all_proxy: 'socks5h://d', http_proxy: 'http://c' })).toBe('socks5h://d');
    expect(proxyForUrl('ws://x/', env)).toBe('http://c');
    expect(proxyForUrl('ws://x/', { ...env, ws_proxy: 'http://e' })).toBe('http://e');
    expect(proxyForUrl('ws://x/', { https_proxy: 'http://b' })).toBeNull();
    expect(proxyForUrl('ws://x/', {})).toBeNull();
  });

  test('lower case before upper case; empty values count as unset', () => {
    expect(proxyForUrl('wss://x/', { https_proxy: 'http://lower', HTTPS_PROXY: 'http://upper' })).toBe(
      'http://lower',
    );
    expect(proxyForUrl('wss://x/', { https_proxy: '', HTTPS_PROXY: 'http://upper' })).toBe('http://upper');
    expect(proxyForUrl('wss://x/', { WSS_PROXY: ' ', ALL_PROXY: 'http://all' })).toBe('http://all');
  });

  test('httpoxy: HTTP_PROXY is ignored in a CGI program (REQUEST_METHOD set), http_proxy is not', () => {
    expect(proxyForUrl('ws://x/', { HTTP_PROXY: 'http://evil', REQUEST_METHOD: 'GET' })).toBeNull();
    expect(proxyForUrl('ws://x/', { http_proxy: 'http://ok', REQUEST_METHOD: 'GET' })).toBe('http://ok');
    expect(proxyForUrl('ws://x/', { HTTP_PROXY: 'http://fine' })).toBe('http://fine');
  });

  test('no_proxy, then NO_PROXY, with the default port of the scheme', () => {
    const env = { all_proxy: 'http://p', no_proxy: 'internal.example:443' };
    expect(proxyForUrl('wss://api.internal.example/', env)).toBeNull();
    expect(proxyForUrl('ws://api.internal.example/', env)).toBe('http://p');
    expect(proxyForUrl('ws://localhost:8080/', { all_proxy: 'http://p', NO_PROXY: 'localhost' })).toBeNull();
    expect(proxyForUrl('ws://[::1]:8080/', { all_proxy: 'http://p', no_proxy: '::1' })).toBeNull();
  });
});

describe('bypasses (no_proxy)', () => {
  test.each([
    ['*', 'anything', 80, true],
    ['example.com', 'example.com', 80, true],
    ['example.com', 'a.b.example.com', 80, true],
    ['example.com', 'badexample.com', 80, false],
    ['.example.com', 'example.com', 80, true],
    ['*.example.com', 'x.example.com', 80, true],
    ['EXAMPLE.com', 'Example.COM.', 80, true],
    ['a.test, b.test  c.test', 'c.test', 80, true],
    ['example.com:8080', 'example.com', 80, false],
    ['example.com:8080', 'example.com', 8080, true],
    ['127.0.0.1', '127.0.0.1', 80, true],
    ['127.0.0.1', '127.0.0.2', 80, false],
    ['127.0.0.0/8', '127.9.8.7', 80, true],
    ['10.0.0.0/8', '11.0.0.1', 80, false],
    ['192.168.1.0/23', '192.168.0.200', 80, true],
    ['fd00::/8', 'fd12::1', 80, true],
    ['fd00::/8', 'fe80::1', 80, false],
    ['[::1]:9000', '::1', 9000, true],
    ['[::1]:9000', '::1', 9001, false],
    ['::1', '0:0:0:0:0:0:0:1', 80, true],
    ['10.0.0.0/8', 'example.com', 80, false],
    ['', 'example.com', 80, false],
  ])('%j for %s:%i: %s', (list, host, port, expected) => {
    expect(bypasses(list, host, port)).toBe(expected);
  });
});
