// The soak test's peer: a `ws` echo server on 127.0.0.1 in a process of its
// own. Prints `{"port": N}` on stdout once listening; exits when stdin closes
// (so it never outlives its parent) or on SIGTERM.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 4096, perMessageDeflate: false });
wss.on('connection', (socket) => {
  socket.on('error', () => {});
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});
wss.on('listening', () => {
  process.stdout.write(`${JSON.stringify({ port: wss.address().port })}\n`);
});
const stop = () => {
  for (const client of wss.clients) client.terminate();
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
