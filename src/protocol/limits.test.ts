import { describe, expect, test } from 'vitest';
import { checkLimit } from './limits.js';

describe('checkLimit', () => {
  test('accepts non-negative integers, null (no limit) and undefined (the default)', () => {
    for (const value of [0, 1, 2 ** 20, Number.MAX_SAFE_INTEGER, null, undefined]) {
      expect(() => checkLimit('maxMessageSize', value)).not.toThrow();
    }
  });

  test('throws a RangeError naming the option for anything else', () => {
    for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => checkLimit('maxFragmentSize', value)).toThrow(
        new RangeError('maxFragmentSize must be a non-negative integer or null'),
      );
    }
  });
});
