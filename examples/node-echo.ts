/**
 * The README's Node hello world: connect to a WebSocket echo server, send
 * "hello", print the echo, close. e2e/package/package.test.ts runs this file
 * against the packed package, and checks that the README shows it as is.
 *
 * Run: npx tsx examples/node-echo.ts ws://127.0.0.1:8080/
 */
import { WebSocket } from 'polysocket/node';

const ws = new WebSocket(process.argv[2] ?? 'ws://127.0.0.1:8080/');
ws.onopen = () => ws.send('hello');
ws.onmessage = (event) => {
  console.log('received:', event.data);
  ws.close(1000, 'done');
};
ws.onclose = (event) => console.log('closed:', event.code, event.wasClean);
