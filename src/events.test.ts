import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { CloseEventConstructor, CloseEventInit } from './events.js';

/** `events.ts` evaluated afresh with `globalThis.CloseEvent` set to `platform`. */
async function loadWith(platform: unknown): Promise<CloseEventConstructor> {
  vi.stubGlobal('CloseEvent', platform);
  vi.resetModules();
  try {
    return (await import('./events.js')).CloseEvent;
  } finally {
    vi.unstubAllGlobals();
  }
}

describe('CloseEvent', () => {
  test('is the platform’s CloseEvent where there is one', async () => {
    class PlatformCloseEvent extends Event {}
    expect(await loadWith(PlatformCloseEvent)).toBe(PlatformCloseEvent);
  });

  test('is the fallback where there is none', async () => {
    const CloseEvent = await loadWith(undefined);
    expect(CloseEvent.name).toBe('CloseEvent');
    expect(new CloseEvent('close')).toBeInstanceOf(Event);
  });
});

describe('the fallback CloseEvent', () => {
  let CloseEvent: CloseEventConstructor;
  beforeAll(async () => {
    CloseEvent = await loadWith(undefined);
  });
  afterAll(() => {
    vi.resetModules();
  });

  /** The event for a dictionary that the types would not allow. */
  const make = (init: unknown) => new CloseEvent('close', init as CloseEventInit);

  test('defaults', () => {
    const event = new CloseEvent('close');
    expect(event.type).toBe('close');
    expect(event.wasClean).toBe(false);
    expect(event.code).toBe(0);
    expect(event.reason).toBe('');
    expect(event.bubbles).toBe(false);
    expect(event.cancelable).toBe(false);
    expect(event.composed).toBe(false);
    expect(event.isTrusted).toBe(false);
  });

  test('takes its members and the EventInit ones', () => {
    const event = new CloseEvent('close', {
      wasClean: true,
      code: 1000,
      reason: 'bye',
      bubbles: true,
      cancelable: true,
      composed: true,
    });
    expect([event.wasClean, event.code, event.reason]).toEqual([true, 1000, 'bye']);
    expect([event.bubbles, event.cancelable, event.composed]).toEqual([true, true, true]);
  });

  test('a null or undefined dictionary is an empty one; any other non-object throws', () => {
    for (const init of [null, undefined]) {
      const event = make(init);
      expect([event.wasClean, event.code, event.reason]).toEqual([false, 0, '']);
    }
    expect(() => make(5)).toThrow(TypeError);
  });

  test('code: WebIDL unsigned short (truncated, modulo 2^16; NaN and infinities are 0)', () => {
    const cases: Array<[unknown, number]> = [
      [1000, 1000],
      [4999.9, 4999],
      [65535, 65535],
      [65536, 0],
      [65537.9, 1],
      [-1, 65535],
      [-1.5, 65535],
      [-0.5, 0],
      [2 ** 32 + 1000, 1000],
      [Number.NaN, 0],
      [Number.POSITIVE_INFINITY, 0],
      [Number.NEGATIVE_INFINITY, 0],
      ['1001', 1001],
      ['x', 0],
      [null, 0],
      [true, 1],
      [{ valueOf: () => 3001 }, 3001],
    ];
    for (const [code, expected] of cases) expect(make({ code }).code, String(code)).toBe(expected);
    expect(() => make({ code: Symbol('code') })).toThrow(TypeError);
    expect(() => make({ code: 1000n })).toThrow(TypeError);
  });

  test('reason: WebIDL USVString (lone surrogates become U+FFFD; null is "null")', () => {
    const cases: Array<[unknown, string]> = [
      ['bye', 'bye'],
      ['😀', '😀'],
      ['a\uD800b', 'a\uFFFDb'],
      ['a\uDC00', 'a\uFFFD'],
      ['\uDC00\uD800', '\uFFFD\uFFFD'],
      [null, 'null'],
      [42, '42'],
      [{ toString: () => 'custom' }, 'custom'],
    ];
    for (const [reason, expected] of cases) expect(make({ reason }).reason).toBe(expected);
    expect(() => make({ reason: Symbol('reason') })).toThrow(TypeError);
  });

  test('wasClean: WebIDL boolean', () => {
    const cases: Array<[unknown, boolean]> = [
      [true, true],
      ['x', true],
      [{}, true],
      [1, true],
      [false, false],
      ['', false],
      [0, false],
      [null, false],
    ];
    for (const [wasClean, expected] of cases) expect(make({ wasClean }).wasClean).toBe(expected);
  });

  test('reads each member once, in lexicographic order', () => {
    const reads: string[] = [];
    const init = new Proxy(
      {},
      {
        get(_target, key) {
          reads.push(String(key));
          return undefined;
        },
      },
    );
    make(init);
    expect(reads.filter((key) => ['code', 'reason', 'wasClean'].includes(key))).toEqual([
      'code',
      'reason',
      'wasClean',
    ]);
  });

  test('type is required; an explicit undefined is converted', () => {
    expect(() => new (CloseEvent as unknown as new () => Event)()).toThrow(TypeError);
    expect(new CloseEvent(undefined as unknown as string).type).toBe('undefined');
    expect(CloseEvent.length).toBe(1);
  });

  test('is named CloseEvent, with the class string [object CloseEvent]', () => {
    const event = new CloseEvent('close');
    expect(CloseEvent.name).toBe('CloseEvent');
    expect(Object.prototype.toString.call(event)).toBe('[object CloseEvent]');
    expect(Object.getOwnPropertyDescriptor(CloseEvent.prototype, Symbol.toStringTag)).toEqual({
      value: 'CloseEvent',
      writable: false,
      enumerable: false,
      configurable: true,
    });
  });

  test('attributes are read-only, enumerable accessors on the prototype', () => {
    const event = new CloseEvent('close', { wasClean: true, code: 1000, reason: 'bye' });
    for (const name of ['wasClean', 'code', 'reason'] as const) {
      expect(Object.hasOwn(event, name)).toBe(false);
      const descriptor = Object.getOwnPropertyDescriptor(CloseEvent.prototype, name);
      expect(descriptor?.get).toBeTypeOf('function');
      expect(descriptor).toMatchObject({ set: undefined, enumerable: true, configurable: true });
      // Modules are strict: assigning to a getter-only property throws.
      expect(() => {
        (event as unknown as Record<string, unknown>)[name] = 'changed';
      }).toThrow(TypeError);
    }
    expect([event.wasClean, event.code, event.reason]).toEqual([true, 1000, 'bye']);
  });

  test('dispatches through an EventTarget', () => {
    const target = new EventTarget();
    const seen: Event[] = [];
    target.addEventListener('close', (event) => seen.push(event));
    const event = new CloseEvent('close', { code: 1001 });
    expect(target.dispatchEvent(event)).toBe(true);
    expect(seen).toEqual([event]);
    expect(event.target).toBe(target);
  });
});
