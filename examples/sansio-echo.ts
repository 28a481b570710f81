/**
 * The Sans-I/O core driven by hand over node:net, against a real Python
 * `websockets` echo server started here on 127.0.0.1: the integration rules
 * of the core in ~40 lines (write dataToSend() first, SEND_EOF means
 * half-close, close the socket after a timeout once closeExpected()).
 *
 * Run: npx tsx examples/sansio-echo.ts
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { ClientProtocol, type Frame, Opcode, SEND_EOF, State } from '../src/protocol/index.js';

const PYTHON_ECHO_SERVER = `
import asyncio, websockets
async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
`;

const python = spawn('/usr/bin/python3', ['-c', PYTHON_ECHO_SERVER], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise<number>((resolve) =>
  python.stdout.once('data', (d: Buffer) => resolve(Number(d))),
);
console.log(`python websockets echo server on 127.0.0.1:${port}`);

const protocol = new ClientProtocol(`ws://127.0.0.1:${port}/`);
const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
let closeTimer: NodeJS.Timeout | undefined;

function flush(): void {
  for (const chunk of protocol.dataToSend()) {
    if (chunk === SEND_EOF) socket.end();
    else socket.write(chunk);
  }
  if (protocol.closeExpected()) closeTimer ??= setTimeout(() => socket.destroy(), 2000);
  for (const event of protocol.eventsReceived()) handle(event);
}

const messages = ['hello', 'héllo wörld 👋', new Uint8Array([1, 2, 3])];
function handle(event: Frame | { kind: 'response'; status: number }): void {
  if (event.kind === 'response') {
    console.log(
      `< HTTP ${event.status}; state ${protocol.state === State.OPEN ? 'OPEN' : protocol.handshakeError}`,
    );
    for (const m of messages) {
      if (typeof m === 'string') protocol.sendText(new TextEncoder().encode(m));
      else protocol.sendBinary(m);
    }
    flush();
    return;
  }
  if (event.opcode === Opcode.TEXT) console.log(`< text: ${new TextDecoder().decode(event.data)}`);
  if (event.opcode === Opcode.BINARY) console.log(`< binary: ${Array.from(event.data).join(',')}`);
  if (event.opcode === Opcode.TEXT || event.opcode === Opcode.BINARY) {
    if (messages.shift() !== undefined && messages.length === 0) {
      protocol.sendClose(1000, 'done');
      flush();
    }
  }
}

socket.on('connect', () => {
  protocol.sendRequest(protocol.connect());
  flush();
});
socket.on('data', (chunk: Buffer) => {
  protocol.receiveData(chunk);
  flush();
});
socket.on('end', () => {
  protocol.receiveEof();
  flush();
});
socket.on('close', () => {
  clearTimeout(closeTimer);
  console.log(
    `closed: code ${protocol.closeCode}, reason "${protocol.closeReason}", clean ${protocol.closeError?.ok}`,
  );
  python.kill();
});
