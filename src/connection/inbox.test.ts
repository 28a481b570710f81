import { describe, expect, test } from 'vitest';
import type { Message } from '../message.js';
import { RecordingTransport } from '../testing/recording-transport.js';
import { Inbox } from './inbox.js';

/** An inbox whose "protocol" turns each chunk into `perChunk` messages of its bytes. */
function inbox(perChunk = 1) {
  const transport = new RecordingTransport();
  const log: string[] = [];
  const parsed: number[] = [];
  const messages: Message[] = [];
  let ended = 0;
  const box: Inbox = new Inbox(
    transport,
    (chunk) => {
      parsed.push(chunk.byteLength);
      log.push(`parse ${chunk.byteLength}`);
      for (let i = 0; i < perChunk; i++) {
        const message: Message = {
          type: 'binary',
          data: chunk.subarray(0, Math.floor(chunk.byteLength / perChunk)),
        };
        messages.push(message);
        box.queued(message);
      }
    },
    () => {
      ended++;
    },
    () => log.push('all delivered'),
  );
  return { transport, box, parsed, messages, log, ended: () => ended };
}

const flow = (transport: RecordingTransport) =>
  transport.calls.filter((call) => call.kind === 'pause' || call.kind === 'resume').map((call) => call.kind);

describe('Inbox', () => {
  test('says when every message handed over was delivered, before it parses more', () => {
    const { box, messages, log } = inbox(2);
    box.data(new Uint8Array(4));
    box.delivered(messages.shift()!);
    expect(log).toEqual(['parse 4']);
    box.data(new Uint8Array(6));
    box.delivered(messages.shift()!);
    box.delivered(messages.shift()!);
    box.delivered(messages.shift()!);
    expect(log).toEqual(['parse 4', 'parse 6', 'all delivered']);
  });

  test('chunks are parsed as they arrive while few messages wait', () => {
    const { box, parsed } = inbox();
    box.data(new Uint8Array(10));
    box.data(new Uint8Array(20));
    expect(parsed).toEqual([10, 20]);
  });

  test('with 256 messages waiting, new chunks wait unparsed until messages are delivered', () => {
    const { box, parsed, messages } = inbox(256);
    box.data(new Uint8Array(256));
    box.data(new Uint8Array(512));
    expect(parsed).toEqual([256]);
    box.delivered(messages.shift()!);
    expect(parsed).toEqual([256, 512]);
  });

  test('a chunk over 64 KiB is parsed 64 KiB at a time', () => {
    const { box, parsed } = inbox();
    box.data(new Uint8Array(150 * 1024));
    expect(parsed).toEqual([64 * 1024, 64 * 1024, 22 * 1024]);
  });

  test('the end waits behind chunks not parsed yet; data after the end is ignored', () => {
    const { box, parsed, messages, ended } = inbox(256);
    box.data(new Uint8Array(256));
    box.data(new Uint8Array(512));
    box.end();
    expect(ended()).toBe(0);
    box.delivered(messages.shift()!);
    expect(parsed).toEqual([256, 512]);
    expect(ended()).toBe(1);
    box.data(new Uint8Array(1));
    expect(parsed).toEqual([256, 512]);
  });

  test('reading pauses above 4 MiB waiting to be delivered and resumes at half of it', () => {
    const { transport, box, messages } = inbox();
    // 5 MiB arrive as 80 messages of 64 KiB, none delivered yet.
    for (let i = 0; i < 5; i++) box.data(new Uint8Array(1024 * 1024));
    expect(flow(transport)).toEqual(['pause']);
    // 47 delivered: 2 MiB + 64 KiB still wait.
    for (let i = 0; i < 47; i++) box.delivered(messages.shift()!);
    expect(flow(transport)).toEqual(['pause']);
    box.delivered(messages.shift()!);
    expect(flow(transport)).toEqual(['pause', 'resume']);
  });

  test('close() parses what is left without pacing, and flow control stops', () => {
    const { transport, box, parsed } = inbox(256);
    box.data(new Uint8Array(256));
    for (let i = 0; i < 5; i++) box.data(new Uint8Array(1024 * 1024));
    expect(flow(transport)).toEqual(['pause']);
    box.close();
    // Whole chunks, at once: no 64 KiB steps and no waiting for deliveries.
    expect(parsed).toEqual([256, ...new Array(5).fill(1024 * 1024)]);
    expect(flow(transport)).toEqual(['pause']);
  });
});
