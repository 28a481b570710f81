import { describe, expect, test } from 'vitest';
import { buildHost, parseUri } from './uri.js';

describe('parseUri', () => {
  test.each([
    ['ws://example.com', { secure: false, host: 'example.com', port: 80, resourceName: '/', userInfo: null }],
    [
      'wss://EXAMPLE.com/',
      { secure: true, host: 'example.com', port: 443, resourceName: '/', userInfo: null },
    ],
    [
      'ws://h:8080/a/b?c=d',
      { secure: false, host: 'h', port: 8080, resourceName: '/a/b?c=d', userInfo: null },
    ],
    ['ws://h?q', { secure: false, host: 'h', port: 80, resourceName: '/?q', userInfo: null }],
    ['ws://[::1]:9000/x', { secure: false, host: '::1', port: 9000, resourceName: '/x', userInfo: null }],
    ['ws://u%40:p%3A@h/', { secure: false, host: 'h', port: 80, resourceName: '/', userInfo: ['u@', 'p:'] }],
  ])('%s', (text, expected) => {
    expect(parseUri(text)).toEqual(expected);
  });

  test.each([
    'http://h/',
    'ws://h/#frag',
    'ws://',
    'ws://h:0/',
    'ws://h:65536/',
    'ws://h/a b',
    'ws://h/\r\nX: y',
    'ws://h/é',
    'ws:/h',
  ])('rejects %j', (text) => {
    expect(() => parseUri(text)).toThrow(TypeError);
  });

  test('Host omits the default port and brackets IPv6', () => {
    expect(buildHost(parseUri('ws://h:80/'))).toBe('h');
    expect(buildHost(parseUri('wss://h:80/'))).toBe('h:80');
    expect(buildHost(parseUri('ws://[::1]:81/'))).toBe('[::1]:81');
  });
});
