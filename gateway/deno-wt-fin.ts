/**
 * Workaround for a Deno 2.9.x bug: `WebTransportSendStream.close()` never
 * sends a QUIC FIN. Deno wires WebTransport
 * send streams with `writableStreamForRid(rid, autoClose = false)`, so
 * `close()` only flushes, and `abort()` sends no RESET_STREAM either. The
 * page's `reader.read()` then never returns `done`.
 *
 * The fix: once the writable is closed, close its backing resource, found
 * through the stream's own `Symbol([[resourceBacking]])`; quinn finishes a
 * dropped send stream (FIN). This reaches into Deno internals, which is why
 * package.json pins `deno` to the version the workaround was verified with.
 */

// biome-ignore lint/suspicious/noExplicitAny: Deno's internals are untyped
const core: any = (Deno as any)[(Deno as any).internal]?.core;

function backingRid(stream: object): number | undefined {
  for (const symbol of Object.getOwnPropertySymbols(stream)) {
    if (String(symbol) === 'Symbol([[resourceBacking]])') {
      // biome-ignore lint/suspicious/noExplicitAny: an internal slot
      const rid = (stream as any)[symbol]?.rid;
      return typeof rid === 'number' ? rid : undefined;
    }
  }
  return undefined;
}

/** Whether {@link finishSendStream} can work in this Deno. */
export function canFinishSendStreams(): boolean {
  return typeof core?.tryClose === 'function';
}

/**
 * Send FIN on a WebTransport send stream whose writer is closed or
 * released. Returns `false` if the internals are not there.
 */
export function finishSendStream(writable: WritableStream<Uint8Array>): boolean {
  const rid = backingRid(writable);
  if (rid === undefined || !canFinishSendStreams()) return false;
  core.tryClose(rid);
  return true;
}
