import { describe, expect, test } from 'vitest';
import { InvalidHeaderError } from './errors.js';
import {
  buildExtensionList,
  buildSubprotocolList,
  Headers,
  isToken,
  isValidHeaderValue,
  parseConnection,
  parseExtensionList,
  parseSubprotocolList,
  parseUpgrade,
} from './headers.js';

describe('Headers', () => {
  test('case-insensitive, order-keeping multimap', () => {
    const headers = new Headers([
      ['Set-Cookie', 'a=1'],
      ['Host', 'h'],
      ['set-cookie', 'b=2'],
    ]);
    expect(headers.get('SET-COOKIE')).toBe('a=1');
    expect(headers.getAll('set-cookie')).toEqual(['a=1', 'b=2']);
    expect(headers.has('host')).toBe(true);
    expect(headers.size).toBe(3);
    headers.set('Host', 'other');
    expect([...headers]).toEqual([
      ['Set-Cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['Host', 'other'],
    ]);
    headers.delete('SET-cookie');
    expect([...headers.clone()]).toEqual([['Host', 'other']]);
    expect(new Headers({ A: '1' }).get('a')).toBe('1');
  });

  test('getOne requires exactly one field', () => {
    const headers = new Headers([
      ['A', '1'],
      ['A', '2'],
    ]);
    expect(() => headers.getOne('A')).toThrow(new InvalidHeaderError('A', '1, 2', 'more than one A header'));
    expect(() => headers.getOne('B')).toThrow(new InvalidHeaderError('B'));
  });

  test('prototype-looking names are plain headers', () => {
    const headers = new Headers([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
    expect(headers.get('__proto__')).toBe('x');
    expect(headers.get('constructor')).toBe('y');
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  test.each([
    ['X-A', 'ok\r\nInjected: 1'],
    ['X-A', 'ok\nInjected: 1'],
    ['X-A', 'nul\0'],
    ['X-A', ' leading'],
    ['X-A', 'trailing '],
    ['X-A', 'snowman ☃'],
    ['X A', 'ok'],
    ['X:A', 'ok'],
    ['', 'ok'],
  ])('rejects %j: %j', (name, value) => {
    expect(() => new Headers([[name, value]])).toThrow(TypeError);
  });

  test('value and token predicates', () => {
    expect(isValidHeaderValue('a\tb c')).toBe(true);
    expect(isValidHeaderValue('é')).toBe(true);
    expect(isValidHeaderValue('\x7f')).toBe(false);
    expect(isToken("!#$%&'*+-.^_`|~09azAZ")).toBe(true);
    expect(isToken('a,b')).toBe(false);
  });
});

describe('header value parsers', () => {
  test('Connection and Upgrade token lists', () => {
    expect(parseConnection('keep-alive, Upgrade')).toEqual(['keep-alive', 'Upgrade']);
    expect(parseConnection(' , upgrade,,')).toEqual(['upgrade']);
    expect(parseUpgrade('websocket, HTTP/2.0')).toEqual(['websocket', 'HTTP/2.0']);
    expect(() => parseConnection('')).toThrow(InvalidHeaderError);
    expect(() => parseConnection('up grade')).toThrow(InvalidHeaderError);
    expect(() => parseUpgrade('websocket/')).toThrow(InvalidHeaderError);
  });

  test('Sec-WebSocket-Protocol', () => {
    expect(parseSubprotocolList('chat, superchat')).toEqual(['chat', 'superchat']);
    expect(() => parseSubprotocolList('chat;v=1')).toThrow(InvalidHeaderError);
    expect(buildSubprotocolList(['a', 'b'])).toBe('a, b');
    expect(() => buildSubprotocolList(['a b'])).toThrow(TypeError);
  });

  test('Sec-WebSocket-Extensions (RFC 6455 9.1, RFC 7692 examples)', () => {
    expect(parseExtensionList('permessage-deflate')).toEqual([['permessage-deflate', []]]);
    expect(
      parseExtensionList(
        'permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate;client_max_window_bits',
      ),
    ).toEqual([
      [
        'permessage-deflate',
        [
          ['client_max_window_bits', null],
          ['server_max_window_bits', '10'],
        ],
      ],
      ['permessage-deflate', [['client_max_window_bits', null]]],
    ]);
    expect(parseExtensionList('foo; bar="baz" ; qux = 1')).toEqual([
      [
        'foo',
        [
          ['bar', 'baz'],
          ['qux', '1'],
        ],
      ],
    ]);
    expect(() => parseExtensionList('foo; bar="b z"')).toThrow(InvalidHeaderError);
    expect(() => parseExtensionList('foo; bar="unterminated')).toThrow(InvalidHeaderError);
    expect(() => parseExtensionList('foo bar')).toThrow(InvalidHeaderError);
    expect(() => parseExtensionList('; x')).toThrow(InvalidHeaderError);
  });

  test('buildExtensionList round-trips and refuses injection', () => {
    const list = [
      [
        'permessage-deflate',
        [['client_max_window_bits', null] as const, ['server_max_window_bits', '10'] as const],
      ],
      ['x-other', []],
    ] as const;
    const text = buildExtensionList(list);
    expect(text).toBe('permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-other');
    expect(parseExtensionList(text)).toEqual(list);
    expect(() => buildExtensionList([['a\r\nb', []]])).toThrow(TypeError);
    expect(() => buildExtensionList([['a', [['p', 'v;x']]]])).toThrow(TypeError);
  });
});
