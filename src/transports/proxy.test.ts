/**
 * ProxyTransport's contract over an in-memory transport (the proxy is a
 * scripted peer): event order, the first tunnel bytes, and failures. The
 * real proxies are in e2e/proxies.
 */
import { describe, expect, test } from 'vitest';

import { type MemoryTransport, memoryTransportFactory, recordEvents } from '../testing/memory-transport.js';
import { ProxyError, proxyTransport } from './proxy.js';
import type { TransportTarget } from './transport.js';

const target = (secure = false): TransportTarget => ({
  url: `${secure ? 'wss' : 'ws'}://example.com/`,
  host: 'example.com',
  port: secure ? 443 : 80,
  secure,
});
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const ascii = (value: string) => new TextEncoder().encode(value);
const closed = (log: string[]) =>
  new Promise<void>((resolve) => {
    const check = () => (log.at(-1)?.startsWith('close') ? resolve() : setTimeout(check, 1));
    check();
  });

/** A factory whose proxy end runs `script` with what the client sent. */
function scripted(script: (proxy: MemoryTransport, received: Uint8Array[], hop: TransportTarget) => void) {
  return memoryTransportFactory((proxy, hop) => {
    const received: Uint8Array[] = [];
    proxy.on('data', (chunk) => {
      received.push(chunk);
      script(proxy, received, hop);
    });
  });
}

describe('ProxyTransport', () => {
  test('connects to the proxy, opens after its 200, and hands on the bytes that came with the answer', async () => {
    let hopSeen: TransportTarget | undefined;
    const connect = scripted((proxy, received, hop) => {
      hopSeen = hop;
      if (received.length === 1) {
        expect(text(received[0]!)).toBe('CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n');
        void proxy.write(ascii('HTTP/1.1 200 OK\r\n\r\nfirst bytes'));
      } else {
        void proxy.write(received.at(-1)!); // echo, once the tunnel is open
      }
    });
    const transport = proxyTransport({ proxy: 'http://proxy.test:3128', connect })(target());
    const log = recordEvents(transport);
    await new Promise<void>((resolve) => transport.once('open', resolve));
    expect(hopSeen).toEqual({ url: 'http://proxy.test:3128', host: 'proxy.test', port: 3128, secure: false });
    expect(transport.secure).toBe(false);
    const echoed = new Promise<void>((resolve) => transport.once('data', () => resolve()));
    await transport.write(ascii('ping'));
    await echoed;
    expect(log).toEqual(['open', 'data:first bytes', 'data:ping']);
    transport.destroy();
    await closed(log);
  });

  test('an https: proxy is reached with secure: true (TLS to the proxy)', () => {
    const hops: TransportTarget[] = [];
    const transport = proxyTransport({
      proxy: 'https://proxy.test',
      connect: memoryTransportFactory((_proxy, hop) => hops.push(hop)),
    })(target());
    expect(hops[0]).toMatchObject({ host: 'proxy.test', port: 443, secure: true });
    transport.destroy();
  });

  test('a refusal closes with the ProxyError and no open', async () => {
    const connect = scripted((proxy) => void proxy.write(ascii('HTTP/1.1 403 Forbidden\r\n\r\n')));
    const transport = proxyTransport({ proxy: 'http://p:1', connect })(target());
    const log = recordEvents(transport);
    const error = await new Promise<Error | undefined>((resolve) => transport.once('close', resolve));
    expect(error).toBeInstanceOf(ProxyError);
    expect((error as ProxyError).code).toBe('refused');
    expect(log).toEqual([`close:${error!.message}`]);
  });

  test('the proxy closing during the handshake is a protocol error', async () => {
    const connect = scripted((proxy) => void proxy.end());
    const transport = proxyTransport({ proxy: 'socks5h://p', connect })(target());
    const error = await new Promise<Error | undefined>((resolve) => transport.once('close', resolve));
    expect((error as ProxyError).code).toBe('protocol');
  });

  test('wss: without a TLS layer fails before connecting, saying why', async () => {
    let connected = false;
    const transport = proxyTransport({
      proxy: 'http://p:1',
      connect: memoryTransportFactory(() => {
        connected = true;
      }),
    })(target(true));
    const error = await new Promise<Error | undefined>((resolve) => transport.once('close', resolve));
    expect(connected).toBe(false);
    expect((error as ProxyError).code).toBe('unsupported');
    expect(error!.message).toMatch(/wss: through a proxy needs TLS/);
  });

  test('the TLS layer is put on the tunnel for wss:', () => {
    const layered: TransportTarget[] = [];
    proxyTransport({
      proxy: 'http://p:1',
      connect: memoryTransportFactory(() => {}),
      tls: (tunnel, secureTarget) => {
        layered.push(secureTarget);
        return tunnel;
      },
    })(target(true)).destroy();
    expect(layered).toEqual([target(true)]);
  });

  test('socks5: with a host name and no resolver fails with unsupported; with one, the proxy gets the address', async () => {
    const noResolver = proxyTransport({ proxy: 'socks5://p', connect: scripted(() => {}) })(target());
    const error = await new Promise<Error | undefined>((resolve) => noResolver.once('close', resolve));
    expect((error as ProxyError).code).toBe('unsupported');

    const requests: number[][] = [];
    const connect = scripted((proxy, received) => {
      if (received.length === 1) void proxy.write(Uint8Array.from([5, 0]));
      else {
        requests.push([...received.at(-1)!]);
        void proxy.write(Uint8Array.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      }
    });
    const resolved = proxyTransport({ proxy: 'socks5://p', connect, resolve: async () => '192.0.2.1' })(
      target(),
    );
    await new Promise<void>((resolve) => resolved.once('open', resolve));
    expect(requests).toEqual([[5, 1, 0, 1, 192, 0, 2, 1, 0, 80]]);
    resolved.destroy();
  });

  test('write before the tunnel is open rejects', async () => {
    const transport = proxyTransport({ proxy: 'http://p:1', connect: scripted(() => {}) })(target());
    await expect(transport.write(ascii('x'))).rejects.toThrow(/before the proxy opened the tunnel/);
    transport.destroy();
  });

  test('an unparsable proxy URL is a TypeError at once', () => {
    expect(() => proxyTransport({ proxy: 'ftp://p', connect: scripted(() => {}) })).toThrow(TypeError);
  });
});
