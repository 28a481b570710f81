/**
 * polysocket's WebSocket in headless Chromium, over WebTransport, through the
 * Deno gateway (gateway/), to real WebSocket servers: npm `ws` and Python
 * `websockets`. The callbacks of `page.evaluate()` run in the page.
 */
import { readFileSync } from 'node:fs';
import { expect, test } from './support/fixtures.js';

const servers = [
  { name: 'ws', port: (env: { wsPort: number }) => env.wsPort },
  { name: 'Python websockets', port: (env: { pythonPort: number }) => env.pythonPort },
] as const;

for (const server of servers) {
  test.describe(`WebSocket over WebTransport to ${server.name}`, () => {
    test('echoes text and binary messages; events in order', async ({ page, env }) => {
      const url = `ws://127.0.0.1:${server.port(env)}/echo`;
      const result = await page.evaluate(
        async ({ url, gateway, hash }) => {
          const socket = window.e2e.connect(url, gateway, hash);
          const { ws } = socket;
          const states = [ws.readyState];
          await socket.opened();
          states.push(ws.readyState);
          ws.binaryType = 'arraybuffer';
          ws.send('héllo, wörld ✓');
          ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
          ws.send(new Uint8Array([]).buffer);
          ws.send('');
          const text = await socket.message(0);
          const binary = (await socket.message(1)) as ArrayBuffer;
          const empty = (await socket.message(2)) as ArrayBuffer;
          const emptyText = await socket.message(3);
          ws.close();
          const close = await socket.closed;
          return {
            states,
            text,
            binary: [...new Uint8Array(binary)],
            emptyLength: empty.byteLength,
            emptyText,
            close,
            events: socket.events,
            bufferedAmount: ws.bufferedAmount,
            protocol: ws.protocol,
            url: ws.url,
          };
        },
        { url, gateway: env.gatewayUrl, hash: env.certificateHash },
      );
      expect(result.states).toEqual([0, 1]);
      expect(result.text).toBe('héllo, wörld ✓');
      expect(result.binary).toEqual([0, 1, 2, 253, 254, 255]);
      expect(result.emptyLength).toBe(0);
      expect(result.emptyText).toBe('');
      expect(result.close).toEqual({ code: 1005, reason: '', wasClean: true });
      expect(result.events).toEqual(['open:1', 'message', 'message', 'message', 'message', 'close:3']);
      expect(result.bufferedAmount).toBe(0);
      expect(result.url).toBe(url);
    });

    test('Blob messages and typed-array views round-trip', async ({ page, env }) => {
      const result = await page.evaluate(
        async ({ url, gateway, hash }) => {
          const socket = window.e2e.connect(url, gateway, hash);
          const { ws } = socket;
          await socket.opened();
          // binaryType 'blob' (the default): binary messages arrive as Blobs.
          ws.send(new Blob(['blob ', new Uint8Array([0x62, 0x79, 0x74, 0x65, 0x73])]));
          const backing = new Float64Array([1.5, -2.25, Math.PI, 42]);
          const view = new Float64Array(backing.buffer, 8, 2); // a view at an offset
          ws.send(view);
          ws.send(new Int16Array([-1, 2, -3]));
          ws.send(new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2));
          const blob = (await socket.message(0)) as Blob;
          const floats = new Float64Array(await ((await socket.message(1)) as Blob).arrayBuffer());
          const shorts = new Int16Array(await ((await socket.message(2)) as Blob).arrayBuffer());
          const dataView = new Uint8Array(await ((await socket.message(3)) as Blob).arrayBuffer());
          ws.close(1000, 'done');
          return {
            isBlob: blob instanceof Blob,
            blobText: await blob.text(),
            floats: [...floats],
            shorts: [...shorts],
            dataView: [...dataView],
            close: await socket.closed,
          };
        },
        {
          url: `ws://127.0.0.1:${server.port(env)}/echo`,
          gateway: env.gatewayUrl,
          hash: env.certificateHash,
        },
      );
      expect(result.isBlob).toBe(true);
      expect(result.blobText).toBe('blob bytes');
      expect(result.floats).toEqual([-2.25, Math.PI]);
      expect(result.shorts).toEqual([-1, 2, -3]);
      expect(result.dataView).toEqual([8, 7]);
      expect(result.close).toEqual({ code: 1000, reason: 'done', wasClean: true });
    });

    test('a large message (5 MiB binary, 3 MiB text) is echoed intact', async ({ page, env }) => {
      test.slow(); // 16 MiB cross the gateway twice on a shared 2-core machine
      const result = await page.evaluate(
        async ({ url, gateway, hash }) => {
          const socket = window.e2e.connect(url, gateway, hash);
          const { ws } = socket;
          ws.binaryType = 'arraybuffer';
          await socket.opened();
          // An odd size, so that no chunk boundary lines up by chance.
          const payload = window.e2e.randomBytes(5 * 2 ** 20 + 7);
          const text = 'ab€'.repeat(2 ** 20); // 5 bytes per repeat, 5 MiB in UTF-8
          const started = performance.now();
          ws.send(payload);
          const bufferedWhileSending = ws.bufferedAmount;
          ws.send(text);
          const echoed = (await socket.message(0)) as ArrayBuffer;
          const echoedText = (await socket.message(1)) as string;
          const ms = performance.now() - started;
          ws.close(1000);
          return {
            bufferedWhileSending,
            same: window.e2e.sameBytes(payload, echoed),
            length: echoed.byteLength,
            sameText: echoedText === text,
            bufferedAfter: ws.bufferedAmount,
            close: await socket.closed,
            ms,
          };
        },
        {
          url: `ws://127.0.0.1:${server.port(env)}/echo`,
          gateway: env.gatewayUrl,
          hash: env.certificateHash,
        },
      );
      expect(result.bufferedWhileSending).toBe(5 * 2 ** 20 + 7);
      expect(result.length).toBe(5 * 2 ** 20 + 7);
      expect(result.same).toBe(true);
      expect(result.sameText).toBe(true);
      expect(result.bufferedAfter).toBe(0);
      expect(result.close.wasClean).toBe(true);
    });

    test('the client closes with a code and reason', async ({ page, env }) => {
      const result = await page.evaluate(
        async ({ url, gateway, hash }) => {
          const socket = window.e2e.connect(url, gateway, hash);
          await socket.opened();
          socket.ws.close(4000, 'client says bye ✓');
          const closing = socket.ws.readyState;
          return { closing, close: await socket.closed, events: socket.events };
        },
        {
          url: `ws://127.0.0.1:${server.port(env)}/echo`,
          gateway: env.gatewayUrl,
          hash: env.certificateHash,
        },
      );
      expect(result.closing).toBe(2);
      expect(result.close).toEqual({ code: 4000, reason: 'client says bye ✓', wasClean: true });
      expect(result.events).toEqual(['open:1', 'close:3']);
    });

    test('the server closes with a code and reason', async ({ page, env }) => {
      const result = await page.evaluate(
        async ({ url, gateway, hash }) => {
          const socket = window.e2e.connect(url, gateway, hash);
          return { close: await socket.closed, events: socket.events };
        },
        {
          url: `ws://127.0.0.1:${server.port(env)}/close?code=4001&reason=server+says+bye`,
          gateway: env.gatewayUrl,
          hash: env.certificateHash,
        },
      );
      expect(result.close).toEqual({ code: 4001, reason: 'server says bye', wasClean: true });
      expect(result.events).toEqual(['open:1', 'close:3']);
    });
  });
}

test.describe('one WebTransport session, several WebSockets', () => {
  test('concurrent WebSockets to both servers share the session and all echo', async ({ page, env }) => {
    const result = await page.evaluate(
      async ({ urls, gateway, hash }) => {
        const transport = window.e2e.transport(gateway, hash);
        const sockets = urls.map((url) =>
          window.e2e.record(new window.polysocket.WebSocket(url, [], { transport })),
        );
        await Promise.all(sockets.map((socket) => socket.opened()));
        for (const [i, socket] of sockets.entries()) socket.ws.send(`message ${i}`);
        const echoed = await Promise.all(sockets.map((socket) => socket.message(0)));
        for (const socket of sockets) socket.ws.close(1000);
        const closes = await Promise.all(sockets.map((socket) => socket.closed));
        return { echoed, clean: closes.every((close) => close.wasClean) };
      },
      {
        urls: [0, 1, 2, 3].map((i) => `ws://127.0.0.1:${i % 2 === 0 ? env.wsPort : env.pythonPort}/echo`),
        gateway: env.gatewayUrl,
        hash: env.certificateHash,
      },
    );
    expect(result.echoed).toEqual(['message 0', 'message 1', 'message 2', 'message 3']);
    expect(result.clean).toBe(true);
  });
});

test.describe('the transport itself, below WebSocket', () => {
  test('half-closes both ways: our end() reaches the server as a FIN, its FIN comes back as end', async ({
    page,
    env,
  }) => {
    const result = await page.evaluate(
      async ({ port, gateway, hash }) => {
        const factory = window.e2e.transport(gateway, hash);
        const transport = factory({ url: `ws://127.0.0.1:${port}/`, host: '127.0.0.1', port, secure: false });
        const events: string[] = [];
        let response = '';
        const decoder = new TextDecoder();
        transport.on('open', () => events.push('open'));
        transport.on('data', (chunk) => {
          response += decoder.decode(chunk, { stream: true });
        });
        const ended = new Promise<void>((resolve) =>
          transport.on('end', () => {
            events.push('end');
            resolve();
          }),
        );
        const closed = new Promise<string>((resolve) =>
          transport.on('close', (error) => {
            events.push('close');
            resolve(error === undefined ? 'clean' : error.message);
          }),
        );
        await new Promise<void>((resolve) => transport.once('open', () => resolve()));
        // A plain HTTP/1.1 exchange with the ws server's HTTP side: the
        // request, then our FIN at once; Node's HTTP server answers a
        // half-closed connection, then closes its side.
        await transport.write(
          new TextEncoder().encode(`GET /plain HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`),
        );
        await transport.end();
        events.push('ended');
        await ended;
        return {
          status: response.split('\r\n')[0],
          body: response.split('\r\n\r\n')[1],
          events,
          close: await closed,
        };
      },
      { port: env.wsPort, gateway: env.gatewayUrl, hash: env.certificateHash },
    );
    expect(result.status).toBe('HTTP/1.1 200 OK');
    expect(result.body).toContain('a WebSocket server');
    // (Chromium may resolve writer.close() only once the peer acknowledged
    // the FIN, after its own FIN arrived: 'ended' can come anywhere.)
    expect(result.events.filter((event) => event !== 'ended')).toEqual(['open', 'end', 'close']);
    expect(result.events).toContain('ended');
    expect(result.close).toBe('clean');
  });
});

test.describe('failures: error, then close 1006 with wasClean false', () => {
  const failure = async (
    page: import('@playwright/test').Page,
    url: string,
    gateway: string,
    hash: string,
  ): Promise<{ events: string[]; close: { code: number; reason: string; wasClean: boolean } }> =>
    page.evaluate(
      async ({ url, gateway, hash }) => {
        const socket = window.e2e.connect(url, gateway, hash);
        const close = await socket.closed;
        return { events: socket.events, close };
      },
      { url, gateway, hash },
    );
  const expectFailed = (result: Awaited<ReturnType<typeof failure>>) => {
    expect(result.events).toEqual(['error:3', 'close:3']);
    expect(result.close).toEqual({ code: 1006, reason: '', wasClean: false });
  };

  test('the gateway is down', async ({ page, env }) => {
    const result = await failure(
      page,
      `ws://127.0.0.1:${env.wsPort}/echo`,
      `https://127.0.0.1:${env.downPort}/`,
      env.certificateHash,
    );
    expectFailed(result);
  });

  test('the target refuses the connection (the gateway cannot connect)', async ({ page, env }) => {
    expectFailed(
      await failure(page, `ws://127.0.0.1:${env.refusedPort}/`, env.gatewayUrl, env.certificateHash),
    );
    // The log reaches the file through the setup process: poll, allowing
    // for a loaded 2-core machine (seen ~25 s late under load average 7).
    await expect
      .poll(() => gatewayLog(env.gatewayLog), { timeout: 45_000 })
      .toMatch(new RegExp(`refuse \\S+ 127\\.0\\.0\\.1:${env.refusedPort} 502 `));
  });

  test('the target is not allow-listed', async ({ page, env }) => {
    expectFailed(
      await failure(page, `ws://127.0.0.1:${env.notAllowedPort}/`, env.gatewayUrl, env.certificateHash),
    );
    // The log reaches the file through the setup process: poll, allowing
    // for a loaded 2-core machine (seen ~25 s late under load average 7).
    await expect
      .poll(() => gatewayLog(env.gatewayLog), { timeout: 45_000 })
      .toMatch(new RegExp(`refuse \\S+ 127\\.0\\.0\\.1:${env.notAllowedPort} 403 target not allowed`));
  });

  test('the certificate hash is wrong', async ({ page, env }) => {
    // Another valid-looking SHA-256: 32 bytes, base64.
    const wrong = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
    expectFailed(await failure(page, `ws://127.0.0.1:${env.wsPort}/echo`, env.gatewayUrl, wrong));
  });

  test("a wss: URL without tls: 'gateway' is refused (webtransport-tls.spec.ts has it with)", async ({
    page,
    env,
  }) => {
    expectFailed(
      await failure(page, `wss://127.0.0.1:${env.wss.ws}/echo`, env.gatewayUrl, env.certificateHash),
    );
    expect(
      await page.evaluate(
        async ({ url, gateway, hash }) => {
          const socket = window.e2e.connect(url, gateway, hash);
          await socket.closed;
          return socket.ws.failure?.message;
        },
        { url: `wss://127.0.0.1:${env.wss.ws}/echo`, gateway: env.gatewayUrl, hash: env.certificateHash },
      ),
    ).toContain("needs webTransportTransport({ ..., tls: 'gateway' })");
  });
});

test.describe('the gateway', () => {
  test('closes the sessions whose clients closed them (QUIC idle timeout; Deno misses the close)', async ({
    page,
    env,
  }) => {
    await page.evaluate(
      async ({ url, gateway, hash }) => {
        const socket = window.e2e.connect(url, gateway, hash);
        await socket.opened();
        socket.ws.close(1000);
        await socket.closed;
      },
      { url: `ws://127.0.0.1:${env.wsPort}/echo`, gateway: env.gatewayUrl, hash: env.certificateHash },
    );
    // Every session opened so far (earlier tests' too) gets its "closed" line
    // once the idle timeout (6 s in the global setup) passed.
    await expect
      .poll(
        () => {
          const log = gatewayLog(env.gatewayLog);
          const opened = [...log.matchAll(/session (s\d+) open /g)].map((match) => match[1]);
          return opened.filter((id) => !log.includes(`session ${id} closed`));
        },
        { timeout: 30_000, intervals: [1000] },
      )
      .toEqual([]);
  });
});

/** The gateway's log so far (it logs one line per connect, refuse and close). */
function gatewayLog(file: string): string {
  return readFileSync(file, 'utf8');
}
