import { afterEach, describe, expect, test } from 'vitest';
import { getUrlRecord } from './webidl.js';

const CONTEXT = "Failed to construct 'WebSocket'";
const NativeURL = globalThis.URL;

afterEach(() => {
  globalThis.URL = NativeURL;
});

describe('getUrlRecord', () => {
  test('a space in the host fails even where the platform URL parser keeps it as %20 (Chromium 150)', () => {
    // Chromium's URL turns `ws://foo bar.com/` into host `foo%20bar.com`;
    // Node's follows the URL standard and throws. Stand in for Chromium.
    class LenientURL extends NativeURL {
      constructor(input: string | URL, base?: string | URL) {
        super(String(input).replace(' ', '%20'), base);
      }
      override get hostname(): string {
        return super.hostname.replace('foo.bar', 'foo%20bar');
      }
    }
    globalThis.URL = LenientURL as typeof URL;
    expect(() => getUrlRecord('ws://foo.bar.com/', CONTEXT)).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
    expect(getUrlRecord('ws://example.com/a%20b', CONTEXT).href).toBe('ws://example.com/a%20b');
  });

  test.each(['ws://foo bar.com/', 'ws://a%25b.com/', 'ws://a%2Fb.com/'])('%s: SyntaxError', (url) => {
    expect(() => getUrlRecord(url, CONTEXT)).toThrow(expect.objectContaining({ name: 'SyntaxError' }));
  });
});
