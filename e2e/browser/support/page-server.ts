/** The Vite dev server of the test pages (e2e/browser/vite.config.ts), on 127.0.0.1. */
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

/** A running page server. */
export interface PageServer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  stop(): Promise<void>;
}

/** Start Vite on a free port and load the main page once, so that the first test doesn't wait for transforms. */
export async function startPageServer(): Promise<PageServer> {
  const port = await freeTcpPort();
  const server = await createServer({
    configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
    server: { port },
  });
  await server.listen();
  const url = `http://127.0.0.1:${port}/`;
  const warm = await fetch(url);
  if (!warm.ok) throw new Error(`page server: GET / gave ${warm.status}`);
  await server.warmupRequest('/main.ts');
  return { url, stop: () => server.close() };
}

/** A TCP port free on 127.0.0.1 a moment ago. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
