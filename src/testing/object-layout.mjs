// Run by src/bind-options.test.ts as
// `node --allow-natives-syntax --import tsx src/testing/object-layout.mjs`:
// whether two instances of each of the library's interface objects share one
// V8 map (object layout). Prints one JSON line.
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)');
const { WebSocket, WebSocketStream, bindOptions } = await import('../node.ts');
const { memoryServer } = await import('./memory-server.ts');
const server = memoryServer();
const Bound = bindOptions(WebSocket, { transport: server.factory });
const BoundStream = bindOptions(WebSocketStream, { transport: server.factory });
const results = {};
for (const [name, make] of [
  ['WebSocket', () => new WebSocket('ws://example.com/', [], { transport: server.factory })],
  ['bindOptions(WebSocket)', () => new Bound('ws://example.com/')],
  ['WebSocketStream', () => new WebSocketStream('ws://example.com/', {}, { transport: server.factory })],
  ['bindOptions(WebSocketStream)', () => new BoundStream('ws://example.com/')],
]) {
  results[name] = sameMap(make(), make());
}
console.log(JSON.stringify(results));
process.exit(0);
