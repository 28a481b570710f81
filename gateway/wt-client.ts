/**
 * A WebTransport client of the gateway, in Deno, for tests that need a
 * client process to go away (e2e/gateway/): it opens a session and a stream
 * to an echo target, and then, by --mode:
 *
 *     echo   echoes one message, closes the session and exits 0
 *     exit   starts transferring, then Deno.exit(0) in the middle of it
 *     hang   starts transferring and goes on until it is killed
 *
 * It prints `status <status line>`, then `transferring` once the first
 * bytes came back (exit, hang) or `echoed <text>` (echo).
 *
 *     deno run --unstable-net --allow-net=127.0.0.1 gateway/wt-client.ts \
 *       --gateway https://127.0.0.1:PORT/ --hash BASE64 --target 127.0.0.1:PORT --mode exit
 */
import { echo, openSession, openStream } from './testing.ts';

const args = new Map<string, string>();
for (let i = 0; i + 1 < Deno.args.length; i += 2)
  args.set(Deno.args[i]!.replace(/^--/, ''), Deno.args[i + 1]!);
const gateway = args.get('gateway');
const hash = args.get('hash');
const target = args.get('target');
const mode = args.get('mode') ?? 'echo';
if (gateway === undefined || hash === undefined || target === undefined || !/^(echo|exit|hang)$/.test(mode)) {
  console.error('usage: wt-client.ts --gateway URL --hash BASE64 --target HOST:PORT [--mode echo|exit|hang]');
  Deno.exit(2);
}

const wt = await openSession(gateway, hash);
const stream = await openStream(wt, `CONNECT ${target}\r\n`);
console.log(`status ${stream.status}`);
if (!stream.status.startsWith('200 ')) Deno.exit(1);
if (mode === 'echo') {
  console.log(`echoed ${await echo(stream, 'hello')}`);
  wt.close();
  Deno.exit(0);
}
// Both ways at once, as a WebSocket in the middle of a large message.
const chunk = new Uint8Array(16 * 1024).fill(0x61);
const writing = (async () => {
  for (;;) await stream.writer.write(chunk);
})();
let received = 0;
for (;;) {
  const { value, done } = await stream.reader.read();
  if (done) break;
  received += value.byteLength;
  if (received >= 4 * chunk.byteLength) break;
}
console.log('transferring');
if (mode === 'exit') Deno.exit(0);
// hang: go on until killed.
void (async () => {
  for (;;) if ((await stream.reader.read()).done) return;
})();
await writing;
