/**
 * A popular third-party library written against the browser `WebSocket`
 * API, run unchanged over `polysocket/polyfill`: graphql-ws's client, which
 * picks up `globalThis.WebSocket` when no `webSocketImpl` is given, against
 * graphql-ws's own server (`graphql-ws/use/ws` on a `ws` WebSocketServer)
 * on 127.0.0.1.
 *
 * The polyfill is loaded in `beforeAll` (after removing any native
 * `WebSocket`, as Node.js 22 has one), and the globals are restored in
 * `afterAll`, so nothing leaks into other test files even if a worker were
 * reused.
 */
import type { AddressInfo } from 'node:net';
import {
  type GraphQLFormattedError,
  GraphQLInt,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  // graphql-ws, loaded by Node itself, gets graphql's CommonJS build; a bare
  // 'graphql' here would be resolved by Vite to the ESM build, a second copy
  // whose GraphQLSchema graphql-js rejects ("from another module or realm").
} from 'graphql/index.js';
import { type Client, type ClientOptions, createClient, type FormattedExecutionResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { CloseEvent as PolyCloseEvent, WebSocket as PolyWebSocket } from '../../src/node.js';

/** Bound for every wait in this file (the machine is shared: generous). */
const TIMEOUT = 10_000;
/** Values streamed by the `count` subscription. */
const N = 200;

// ---------------------------------------------------------------------------
// The schema: a query, a mutation and subscriptions.

let counter = 0;

async function* countTo(to: number): AsyncGenerator<{ count: number }> {
  for (let i = 1; i <= Math.min(to, 10_000); i++) yield { count: i };
}

async function* failAfter(values: number): AsyncGenerator<{ failing: number }> {
  for (let i = 1; i <= values; i++) yield { failing: i };
  throw new Error('the stream failed on the server');
}

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      hello: {
        type: new GraphQLNonNull(GraphQLString),
        args: { name: { type: GraphQLString } },
        resolve: (_root, args: { name?: string | null }) => `Hello, ${args.name ?? 'world'}!`,
      },
      echo: {
        type: new GraphQLNonNull(GraphQLString),
        args: { text: { type: new GraphQLNonNull(GraphQLString) } },
        resolve: (_root, args: { text: string }) => args.text,
      },
      boom: {
        type: GraphQLString,
        resolve: () => {
          throw new Error('boom from a resolver');
        },
      },
    },
  }),
  mutation: new GraphQLObjectType({
    name: 'Mutation',
    fields: {
      increment: {
        type: new GraphQLNonNull(GraphQLInt),
        args: { by: { type: new GraphQLNonNull(GraphQLInt) } },
        resolve: (_root, args: { by: number }) => {
          counter += args.by;
          return counter;
        },
      },
    },
  }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: {
      count: {
        type: new GraphQLNonNull(GraphQLInt),
        args: { to: { type: new GraphQLNonNull(GraphQLInt) } },
        subscribe: (_root, args: { to: number }) => countTo(args.to),
      },
      failing: {
        type: new GraphQLNonNull(GraphQLInt),
        args: { after: { type: new GraphQLNonNull(GraphQLInt) } },
        subscribe: (_root, args: { after: number }) => failAfter(Math.min(args.after, 100)),
      },
    },
  }),
});

// ---------------------------------------------------------------------------
// Helpers

interface Outcome {
  readonly results: FormattedExecutionResult<Record<string, unknown>, unknown>[];
  readonly error: unknown;
  readonly completed: boolean;
}

/** Run one operation to its end (complete or error) with a sink, bounded in time. */
function run(client: Client, query: string, variables?: Record<string, unknown>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const results: FormattedExecutionResult<Record<string, unknown>, unknown>[] = [];
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`operation did not end: ${query}`));
    }, TIMEOUT);
    const unsubscribe = client.subscribe(variables === undefined ? { query } : { query, variables }, {
      next: (result) => results.push(result),
      error: (error) => {
        clearTimeout(timer);
        resolve({ results, error, completed: false });
      },
      complete: () => {
        clearTimeout(timer);
        resolve({ results, error: null, completed: true });
      },
    });
  });
}

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------

describe('graphql-ws over polysocket/polyfill', () => {
  let wss: WebSocketServer;
  let disposeServer: () => void | Promise<void>;
  let url: string;
  const saved = new Map<string, PropertyDescriptor | undefined>();
  /** Close codes the server saw, one per connection. */
  const serverCloses: Array<{ code: number; reason: string }> = [];
  let connections = 0;
  const clients: Client[] = [];
  let before: Record<string, number>;

  function client(options: Partial<ClientOptions> = {}): Client {
    // No webSocketImpl: graphql-ws must find globalThis.WebSocket.
    const created = createClient({ url, retryAttempts: 0, ...options });
    clients.push(created);
    return created;
  }

  beforeAll(async () => {
    for (const name of ['WebSocket', 'CloseEvent']) {
      saved.set(name, Object.getOwnPropertyDescriptor(globalThis, name));
      delete (globalThis as Record<string, unknown>)[name];
    }
    await import('../../src/polyfill.js');

    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/graphql`;
    wss.on('connection', (socket: WsSocket) => {
      connections++;
      socket.once('close', (code, reason) => serverCloses.push({ code, reason: reason.toString() }));
    });
    const server = useServer(
      {
        schema,
        // connectionParams.mode picks a server-side behaviour for one connection.
        onConnect: async (ctx) => {
          const mode = ctx.connectionParams?.['mode'];
          if (mode === 'forbidden') return false; // 4403
          if (mode === 'slow') await sleep(500); // longer than the client waits for the ack
          return true;
        },
        // A payload the server refuses to parse: it closes with 4400.
        jsonMessageReviver: (key, value) => {
          if (key === 'poison') throw new Error('poisoned message');
          return value;
        },
      },
      wss,
    );
    disposeServer = server.dispose;
  });

  afterAll(async () => {
    for (const created of clients) await created.dispose();
    for (const socket of wss.clients) socket.terminate();
    await disposeServer();
    for (const [name, descriptor] of saved) {
      delete (globalThis as Record<string, unknown>)[name];
      if (descriptor !== undefined) Object.defineProperty(globalThis, name, descriptor);
    }
  });

  beforeEach(() => {
    serverCloses.length = 0;
    connections = 0;
    before = resources();
  });

  afterEach(async () => {
    for (const created of clients.splice(0)) await created.dispose();
    // Every connection closes; no socket or timer outlives it.
    const deadline = Date.now() + TIMEOUT;
    for (;;) {
      const after = resources();
      const settled =
        wss.clients.size === 0 &&
        (after['TCPSocketWrap'] ?? 0) <= (before['TCPSocketWrap'] ?? 0) &&
        (after['Timeout'] ?? 0) <= (before['Timeout'] ?? 0);
      if (settled) break;
      if (Date.now() > deadline) {
        expect({ clients: wss.clients.size, after }).toEqual({ clients: 0, after: before });
      }
      await sleep(10);
    }
  });

  test('globalThis.WebSocket is polysocket, and graphql-ws connects with it', async () => {
    expect(globalThis.WebSocket).toBe(PolyWebSocket);
    expect(globalThis.CloseEvent).toBe(PolyCloseEvent);
    let socket: unknown = null;
    const c = client({ on: { connected: (connected) => (socket = connected) } });
    const outcome = await run(c, '{ hello }');
    expect(outcome).toEqual({
      results: [{ data: { hello: 'Hello, world!' } }],
      error: null,
      completed: true,
    });
    expect(socket).toBeInstanceOf(PolyWebSocket);
    expect((socket as PolyWebSocket).protocol).toBe('graphql-transport-ws');
    expect((socket as PolyWebSocket).extensions).toBe('');
  });

  test('query and mutation, with variables and multi-byte text', async () => {
    const c = client();
    expect((await run(c, 'query ($n: String) { hello(name: $n) }', { n: 'Zoë 🌍' })).results).toEqual([
      { data: { hello: 'Hello, Zoë 🌍!' } },
    ]);
    const big = 'ünïcødé ✓ 𝄞 '.repeat(20_000); // ~400 KB of JSON: fragmented by the kernel
    expect((await run(c, 'query ($t: String!) { echo(text: $t) }', { t: big })).results).toEqual([
      { data: { echo: big } },
    ]);
    const start = counter;
    const mutation = 'mutation ($by: Int!) { increment(by: $by) }';
    expect((await run(c, mutation, { by: 2 })).results).toEqual([{ data: { increment: start + 2 } }]);
    expect((await run(c, mutation, { by: 3 })).results).toEqual([{ data: { increment: start + 5 } }]);
  });

  test(`a subscription receives all ${N} values in order`, async () => {
    const outcome = await run(client(), 'subscription ($to: Int!) { count(to: $to) }', { to: N });
    expect(outcome.error).toBeNull();
    expect(outcome.completed).toBe(true);
    expect(outcome.results).toEqual(Array.from({ length: N }, (_, i) => ({ data: { count: i + 1 } })));
  });

  test('concurrent subscriptions and queries share one connection, each in order', async () => {
    const c = client();
    const sizes = [N, 150, 100, 50, 1];
    const outcomes = await Promise.all([
      ...sizes.map((to) => run(c, 'subscription ($to: Int!) { count(to: $to) }', { to })),
      run(c, '{ hello }'),
      run(c, 'subscription ($to: Int!) { count(to: $to) }', { to: 10 }),
    ]);
    sizes.forEach((to, i) => {
      expect(outcomes[i]?.completed).toBe(true);
      expect(outcomes[i]?.results).toEqual(
        Array.from({ length: to }, (_, j) => ({ data: { count: j + 1 } })),
      );
    });
    expect(outcomes[sizes.length]?.results).toEqual([{ data: { hello: 'Hello, world!' } }]);
    expect(outcomes[sizes.length + 1]?.results).toHaveLength(10);
    expect(connections).toBe(1);
  });

  test('dispose closes the connection cleanly with 1000', async () => {
    let closeEvent: unknown = null;
    const closed = new Promise<void>((resolve) => {
      const c = client({
        lazy: false,
        on: {
          closed: (event) => {
            closeEvent = event;
            resolve();
          },
        },
      });
      void run(c, '{ hello }').then(() => c.dispose());
    });
    await closed;
    expect(closeEvent).toBeInstanceOf(PolyCloseEvent);
    const event = closeEvent as PolyCloseEvent;
    expect([event.code, event.reason, event.wasClean]).toEqual([1000, 'Normal Closure', true]);
    await waitFor(() => serverCloses.length === 1);
    expect(serverCloses).toEqual([{ code: 1000, reason: 'Normal Closure' }]);
  });

  test('server errors reach the client: resolver error, validation error, failing stream', async () => {
    // Not lazy: one connection for the whole test, not one per operation.
    const c = client({ lazy: false });
    // An execution error: data with errors, then complete.
    const boom = await run(c, '{ boom hello }');
    expect(boom.completed).toBe(true);
    expect(boom.results).toHaveLength(1);
    expect(boom.results[0]?.data).toEqual({ boom: null, hello: 'Hello, world!' });
    expect(boom.results[0]?.errors?.map((e) => e.message)).toEqual(['boom from a resolver']);
    // A validation error: the operation errors (the connection stays up).
    const invalid = await run(c, '{ nope }');
    expect(invalid.completed).toBe(false);
    expect((invalid.error as GraphQLFormattedError[]).map((e) => e.message)).toEqual([
      'Cannot query field "nope" on type "Query".',
    ]);
    // A stream that throws after three values.
    const failing = await run(c, 'subscription { failing(after: 3) }');
    expect(failing.results).toEqual([1, 2, 3].map((failing) => ({ data: { failing } })));
    expect((failing.error as GraphQLFormattedError[]).map((e) => e.message)).toEqual([
      'the stream failed on the server',
    ]);
    // Still usable afterwards, on the same connection.
    expect((await run(c, '{ hello }')).results).toEqual([{ data: { hello: 'Hello, world!' } }]);
    expect(connections).toBe(1);
  });

  test('the server closes with 4403 Forbidden: the sink gets our CloseEvent', async () => {
    const outcome = await run(client({ connectionParams: { mode: 'forbidden' } }), '{ hello }');
    expect(outcome.error).toBeInstanceOf(PolyCloseEvent);
    const event = outcome.error as PolyCloseEvent;
    expect([event.code, event.reason, event.wasClean]).toEqual([4403, 'Forbidden', true]);
    await waitFor(() => serverCloses.length === 1);
    expect(serverCloses).toEqual([{ code: 4403, reason: 'Forbidden' }]);
  });

  test('the server closes with 4400 Bad Request on a message it cannot parse', async () => {
    const c = client();
    const healthy = run(c, 'subscription ($to: Int!) { count(to: $to) }', { to: 5 });
    const poisoned = await run(c, 'query ($p: Int) { hello }', { poison: 1 });
    expect(poisoned.error).toBeInstanceOf(PolyCloseEvent);
    const event = poisoned.error as PolyCloseEvent;
    expect([event.code, event.reason, event.wasClean]).toEqual([4400, 'Invalid message received', true]);
    // The other operation on that connection either finished first or saw the same close.
    const other = await healthy;
    if (!other.completed) expect((other.error as PolyCloseEvent).code).toBe(4400);
    await waitFor(() => serverCloses.length === 1);
    expect(serverCloses).toEqual([{ code: 4400, reason: 'Invalid message received' }]);
  });

  test('the client closes with 4504 when the ack is late: close() with an application code', async () => {
    const outcome = await run(
      client({ connectionParams: { mode: 'slow' }, connectionAckWaitTimeout: 100 }),
      '{ hello }',
    );
    expect(outcome.error).toBeInstanceOf(PolyCloseEvent);
    const event = outcome.error as PolyCloseEvent;
    expect([event.code, event.reason, event.wasClean]).toEqual([
      4504,
      'Connection acknowledgement timeout',
      true,
    ]);
    await waitFor(() => serverCloses.length === 1);
    expect(serverCloses).toEqual([{ code: 4504, reason: 'Connection acknowledgement timeout' }]);
    // Let the server's delayed onConnect finish before counting timers.
    await sleep(600);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + TIMEOUT;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}
