/**
 * The test page's script: exposes polysocket's browser entry (src/index.ts,
 * served by Vite) as `window.polysocket`, and small helpers as `window.e2e`
 * that record a WebSocket's events in a form `page.evaluate()` can return.
 * Also polysocket/proxy (src/transports/proxy.ts) as `window.e2eProxy`.
 */
import * as polysocket from '../../../src/index.js';
import { ProxyError, proxyTransport } from '../../../src/transports/proxy.js';
import type { E2eHelpers, SocketRecord } from '../support/page-api.js';

function record(ws: polysocket.WebSocket): SocketRecord {
  const events: string[] = [];
  const messages: unknown[] = [];
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  ws.addEventListener('open', () => {
    events.push(`open:${ws.readyState}`);
    wake();
  });
  ws.addEventListener('message', (event) => {
    events.push('message');
    messages.push((event as MessageEvent).data);
    wake();
  });
  ws.addEventListener('error', () => {
    events.push(`error:${ws.readyState}`);
    wake();
  });
  const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
    ws.addEventListener('close', (event) => {
      const { code, reason, wasClean } = event as CloseEvent;
      events.push(`close:${ws.readyState}`);
      resolve({ code, reason, wasClean });
      wake();
    });
  });
  const until = (done: () => boolean, what: string, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; events: ${events}`)),
        timeoutMs,
      );
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  return {
    ws,
    events,
    messages,
    closed,
    opened: () => until(() => events.some((e) => e.startsWith('open') || e.startsWith('close')), 'open'),
    message: async (index) => {
      await until(
        () => messages.length > index || events.some((e) => e.startsWith('close')),
        `message ${index}`,
      );
      if (messages.length <= index) throw new Error(`closed before message ${index}; events: ${events}`);
      return messages[index];
    },
  };
}

const helpers: E2eHelpers = {
  transport: (gateway, certificateHash, tls = false) =>
    polysocket.webTransportTransport({
      gateway,
      serverCertificateHashes: [{ algorithm: 'sha-256', value: certificateHash }],
      ...(tls ? { tls: 'gateway' as const } : {}),
    }),
  record,
  connect: (url, gateway, certificateHash, protocols = []) =>
    record(
      new polysocket.WebSocket(url, protocols, { transport: helpers.transport(gateway, certificateHash) }),
    ),
  connectTls: (url, gateway, certificateHash) => {
    const verified: polysocket.GatewayTlsInfo[] = [];
    const transport = polysocket.webTransportTransport({
      gateway,
      serverCertificateHashes: [{ algorithm: 'sha-256', value: certificateHash }],
      tls: 'gateway',
      onTls: (info) => verified.push(info),
    });
    const ws = new polysocket.WebSocket(url, [], { transport });
    let failure: { message: string; kind: string; tlsFailure: string | null } | null = null;
    ws.addEventListener('error', (event) => {
      const { error } = event as polysocket.WebSocketErrorEvent;
      const cause = error.cause;
      failure = {
        message: error.message,
        kind: error.kind,
        tlsFailure: cause instanceof polysocket.GatewayError ? cause.tlsFailure : null,
      };
    });
    return { ...record(ws), verified, failure: () => failure };
  },
  randomBytes: (length) => {
    const bytes = new Uint8Array(length);
    // getRandomValues fills at most 65536 bytes per call.
    for (let offset = 0; offset < length; offset += 65_536) {
      crypto.getRandomValues(bytes.subarray(offset, Math.min(length, offset + 65_536)));
    }
    return bytes;
  },
  sameBytes: (a, b) => {
    const x = new Uint8Array(
      a instanceof ArrayBuffer ? a : a.buffer,
      a instanceof ArrayBuffer ? 0 : a.byteOffset,
      a.byteLength,
    );
    const y = new Uint8Array(
      b instanceof ArrayBuffer ? b : b.buffer,
      b instanceof ArrayBuffer ? 0 : b.byteOffset,
      b.byteLength,
    );
    if (x.byteLength !== y.byteLength) return false;
    for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
    return true;
  },
};

window.polysocket = polysocket;
window.e2e = helpers;
window.e2eProxy = { proxyTransport, ProxyError };
window.e2eReady = true;
