/**
 * wss: from headless Chromium over WebTransport, with `tls: 'gateway'`: the
 * gateway (gateway/tls.ts) makes the TLS connection to real TLS WebSocket
 * servers (npm `ws` on `https.createServer`, Python `websockets` with
 * `ssl`), verifying their certificates against the test CA it was given
 * with `--ca` (support/tls.ts, global-setup.ts); and refuses, with a reason
 * the page can read, a certificate for another name, an expired one and
 * one from an unknown CA. The callbacks of `page.evaluate()` run in the page.
 */
import { readFileSync } from 'node:fs';
import { expect, test } from './support/fixtures.js';

const servers = [
  { name: 'ws over https', port: (env: { wss: { ws: number } }) => env.wss.ws },
  { name: 'Python websockets with ssl', port: (env: { wss: { python: number } }) => env.wss.python },
] as const;

for (const server of servers) {
  test.describe(`wss: over WebTransport, TLS by the gateway, to ${server.name}`, () => {
    test('echoes text, binary and empty messages; the gateway says it verified the certificate', async ({
      page,
      env,
    }) => {
      const port = server.port(env);
      const result = await page.evaluate(
        async ({ url, gateway, hash }) => {
          const socket = window.e2e.connectTls(url, gateway, hash);
          const { ws } = socket;
          await socket.opened();
          ws.binaryType = 'arraybuffer';
          ws.send('héllo, wörld ✓');
          ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
          ws.send(new Uint8Array([]).buffer);
          ws.send('');
          const text = await socket.message(0);
          const binary = (await socket.message(1)) as ArrayBuffer;
          const empty = (await socket.message(2)) as ArrayBuffer;
          const emptyText = await socket.message(3);
          ws.close(1000, 'done');
          return {
            text,
            binary: [...new Uint8Array(binary)],
            emptyLength: empty.byteLength,
            emptyText,
            close: await socket.closed,
            events: socket.events,
            verified: socket.verified,
            url: ws.url,
          };
        },
        { url: `wss://127.0.0.1:${port}/echo`, gateway: env.gatewayUrl, hash: env.certificateHash },
      );
      expect(result.text).toBe('héllo, wörld ✓');
      expect(result.binary).toEqual([0, 1, 2, 253, 254, 255]);
      expect(result.emptyLength).toBe(0);
      expect(result.emptyText).toBe('');
      expect(result.close).toEqual({ code: 1000, reason: 'done', wasClean: true });
      expect(result.events).toEqual(['open:1', 'message', 'message', 'message', 'message', 'close:3']);
      expect(result.url).toBe(`wss://127.0.0.1:${port}/echo`);
      expect(result.verified).toHaveLength(1);
      expect(result.verified[0]).toMatchObject({
        verifiedBy: env.gatewayUrl,
        target: `127.0.0.1:${port}`,
        serverName: '127.0.0.1',
      });
      await expect
        .poll(() => gatewayLog(env.gatewayLog), { timeout: 45_000 })
        .toMatch(new RegExp(`connect \\S+ 127\\.0\\.0\\.1:${port} tls=127\\.0\\.0\\.1 verified`));
    });

    test('a large message (5 MiB binary, 5 MiB text) is echoed intact', async ({ page, env }) => {
      test.slow(); // 20 MiB cross the gateway, and its TLS, twice on a shared 2-core machine
      const result = await page.evaluate(
        async ({ url, gateway, hash }) => {
          const socket = window.e2e.connectTls(url, gateway, hash);
          const { ws } = socket;
          ws.binaryType = 'arraybuffer';
          await socket.opened();
          // An odd size, so that no chunk or TLS record boundary lines up by chance.
          const payload = window.e2e.randomBytes(5 * 2 ** 20 + 7);
          const text = 'ab€'.repeat(2 ** 20); // 5 bytes per repeat, 5 MiB in UTF-8
          ws.send(payload);
          ws.send(text);
          const echoed = (await socket.message(0)) as ArrayBuffer;
          const echoedText = (await socket.message(1)) as string;
          ws.close(1000);
          return {
            same: window.e2e.sameBytes(payload, echoed),
            length: echoed.byteLength,
            sameText: echoedText === text,
            close: await socket.closed,
          };
        },
        {
          url: `wss://127.0.0.1:${server.port(env)}/echo`,
          gateway: env.gatewayUrl,
          hash: env.certificateHash,
        },
      );
      expect(result.length).toBe(5 * 2 ** 20 + 7);
      expect(result.same).toBe(true);
      expect(result.sameText).toBe(true);
      expect(result.close.wasClean).toBe(true);
    });

    test('close codes and reasons, from the client and from the server', async ({ page, env }) => {
      const port = server.port(env);
      const result = await page.evaluate(
        async ({ echo, closing, gateway, hash }) => {
          const client = window.e2e.connectTls(echo, gateway, hash);
          await client.opened();
          client.ws.close(4000, 'client says bye ✓');
          const byServer = window.e2e.connectTls(closing, gateway, hash);
          return {
            client: await client.closed,
            server: await byServer.closed,
            events: [client.events, byServer.events],
          };
        },
        {
          echo: `wss://127.0.0.1:${port}/echo`,
          closing: `wss://127.0.0.1:${port}/close?code=4001&reason=server+says+bye`,
          gateway: env.gatewayUrl,
          hash: env.certificateHash,
        },
      );
      expect(result.client).toEqual({ code: 4000, reason: 'client says bye ✓', wasClean: true });
      expect(result.server).toEqual({ code: 4001, reason: 'server says bye', wasClean: true });
      expect(result.events).toEqual([
        ['open:1', 'close:3'],
        ['open:1', 'close:3'],
      ]);
    });
  });
}

test.describe('wss: over WebTransport: the server name is the URL host', () => {
  test('a DNS name in the URL is verified as such, wherever the gateway is sent', async ({ page, env }) => {
    const result = await page.evaluate(
      async ({ port, gateway, hash }) => {
        const verified: unknown[] = [];
        const factory = window.polysocket.webTransportTransport({
          gateway,
          serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }],
          tls: 'gateway',
          onTls: (info) => verified.push(info),
        });
        // As a page whose names the gateway cannot resolve would do (the
        // WPT run does): send the gateway to the address, keep the name.
        const socket = window.e2e.record(
          new window.polysocket.WebSocket(`wss://localhost:${port}/echo`, [], {
            transport: (target) => factory({ ...target, host: '127.0.0.1' }),
          }),
        );
        await socket.opened();
        socket.ws.send('by name');
        const echoed = await socket.message(0);
        socket.ws.close();
        await socket.closed;
        return { echoed, verified };
      },
      { port: env.wss.ws, gateway: env.gatewayUrl, hash: env.certificateHash },
    );
    expect(result.echoed).toBe('by name');
    expect(result.verified).toEqual([
      expect.objectContaining({ serverName: 'localhost', target: `127.0.0.1:${env.wss.ws}` }),
    ]);
  });
});

test.describe('wss: over WebTransport: refusals, each with its reason, then close 1006', () => {
  const refused = async (
    page: import('@playwright/test').Page,
    env: import('./support/env.js').E2eEnv,
    url: string,
    host = '127.0.0.1',
  ) =>
    page.evaluate(
      async ({ url, host, gateway, hash }) => {
        const factory = window.polysocket.webTransportTransport({
          gateway,
          serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }],
          tls: 'gateway',
        });
        const ws = new window.polysocket.WebSocket(url, [], {
          transport: (target) => factory({ ...target, host }),
        });
        const socket = window.e2e.record(ws);
        let message = '';
        ws.addEventListener('error', (event) => {
          message = (event as Event & { message: string }).message;
        });
        const close = await socket.closed;
        const cause = ws.failure?.cause;
        return {
          events: socket.events,
          close,
          message,
          kind: ws.failure?.kind,
          tlsFailure: cause instanceof window.polysocket.GatewayError ? cause.tlsFailure : null,
          status: cause instanceof window.polysocket.GatewayError ? cause.status : null,
        };
      },
      { url, host, gateway: env.gatewayUrl, hash: env.certificateHash },
    );
  const expectRefused = (result: Awaited<ReturnType<typeof refused>>, tlsFailure: string, words: string) => {
    expect(result.events).toEqual(['error:3', 'close:3']);
    expect(result.close).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(result.kind).toBe('transport');
    expect(result.status).toBe(502);
    expect(result.tlsFailure).toBe(tlsFailure);
    expect(result.message).toContain(words);
  };

  test('a wrong host name: the URL names a host the certificate is not for', async ({ page, env }) => {
    const result = await refused(page, env, `wss://wrong.test:${env.wss.ws}/echo`);
    expectRefused(
      result,
      'certificate-host-mismatch',
      "the server's certificate is not valid for wrong.test",
    );
    expect(result.message).toMatch(
      /^WebSocket connection to 'wss:\/\/wrong\.test:\d+\/echo' failed: gateway /,
    );
    // A certificate for another name, with the address in the URL.
    expectRefused(
      await refused(page, env, `wss://127.0.0.1:${env.wss.otherName}/echo`),
      'certificate-host-mismatch',
      "the server's certificate is not valid for 127.0.0.1",
    );
  });

  test('an expired certificate', async ({ page, env }) => {
    const result = await refused(page, env, `wss://127.0.0.1:${env.wss.expired}/echo`);
    expectRefused(result, 'certificate-expired', "the server's certificate has expired");
    await expect
      .poll(() => gatewayLog(env.gatewayLog), { timeout: 45_000 })
      .toMatch(
        new RegExp(
          `refuse \\S+ 127\\.0\\.0\\.1:${env.wss.expired} tls=127\\.0\\.0\\.1 502 certificate-expired: `,
        ),
      );
  });

  test('a certificate from a CA the gateway does not trust', async ({ page, env }) => {
    expectRefused(
      await refused(page, env, `wss://127.0.0.1:${env.wss.unknownCa}/echo`),
      'certificate-unknown-issuer',
      "the server's certificate is not from a CA the gateway trusts",
    );
  });

  test('a server that does not speak TLS', async ({ page, env }) => {
    expectRefused(
      await refused(page, env, `wss://127.0.0.1:${env.wsPort}/echo`),
      'tls-handshake-failed',
      'the TLS handshake with the server failed',
    );
  });
});

/** The gateway's log so far (it logs one line per connect, refuse and close). */
function gatewayLog(file: string): string {
  return readFileSync(file, 'utf8');
}
