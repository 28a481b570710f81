/**
 * A dev-mode Isolated Web App for the Direct Sockets tests
 * (direct-sockets.spec.ts): Direct Sockets (`TCPSocket`) exist only in
 * Isolated Web Apps.
 *
 * - The app's page script (pages/iwa.ts) is bundled by Vite into one module.
 * - A small HTTP server on 127.0.0.1 plays the IWA "dev proxy": it serves the
 *   web app manifest (with the `direct-sockets`, `loopback-network` and
 *   `cross-origin-isolated` permissions policy), an icon, the page and the
 *   bundle. Chromium adds the IWA headers (COOP, COEP, CSP) itself.
 * - Chromium is launched as a persistent context with a fresh user-data
 *   dir of its own (a new temporary directory, deleted on close) (the IWA installs into the default profile, which a
 *   `newContext()` cannot see), with `--install-isolated-web-app-from-url`.
 *   So it is a browser separate from the other specs'.
 * - The app's origin (`isolated-app://<random id>`) is read from
 *   chrome://web-app-internals; local network access is granted without an
 *   origin (opaque origins are refused).
 *
 * Each set-up step is retried within bounds (the install, the origin, the
 * first navigation), with a fresh profile on a failed launch; the tests
 * themselves are not retried.
 *
 * The WPT runner's Direct Sockets mode (e2e/wpt/chromium/iwa.ts) installs
 * its own site as an app the same way: `iwaAppFiles` (manifest and icon)
 * and `launchIwa` (with its own switches and features).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { type BrowserContext, chromium } from '@playwright/test';
import { build } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The page script of the app. */
const ENTRY = fileURLToPath(new URL('../pages/iwa.ts', import.meta.url));

/**
 * Bundle pages/iwa.ts (and polysocket from src/) into one ES module; or
 * another page script, `entry` (bench/browser.bench.ts bundles its page).
 */
export async function bundleIwaPage(entry: string = ENTRY): Promise<string> {
  const result = await build({
    configFile: false,
    root: ROOT,
    logLevel: 'silent',
    // package.json's "sideEffects" marks every module of the package but the
    // polyfill as pure, so pages/main.ts, imported for its side effects only,
    // would be dropped: the pages are marked as having side effects.
    plugins: [
      {
        name: 'e2e-pages-have-side-effects',
        transform: (code: string, id: string) =>
          id.includes('/e2e/browser/pages/') || id === entry ? { code, moduleSideEffects: true } : null,
      },
    ],
    build: {
      write: false,
      minify: false,
      target: 'es2022',
      emptyOutDir: false,
      lib: { entry, formats: ['es'], fileName: 'iwa' },
    },
  });
  for (const output of Array.isArray(result) ? result : [result]) {
    if (!('output' in output)) continue;
    for (const item of output.output) if (item.type === 'chunk' && item.isEntry) return item.code;
  }
  throw new Error('vite build of pages/iwa.ts produced no entry chunk');
}

/** A running dev server of the app. */
export interface IwaDevServer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  close(): Promise<void>;
}

/** Where Chromium asks a dev-mode app's server for the web app manifest. */
export const IWA_MANIFEST_PATH = '/.well-known/manifest.webmanifest';
/** Where {@link iwaAppFiles}'s manifest says the icon is. */
export const IWA_ICON_PATH = '/icon.png';

/** What makes a site an installable Isolated Web App, besides its pages. */
export interface IwaAppFiles {
  /** The web app manifest (`application/manifest+json`), served at {@link IWA_MANIFEST_PATH}. */
  readonly manifest: string;
  /** A PNG, served at {@link IWA_ICON_PATH}. */
  readonly icon: Buffer;
}

/**
 * The manifest, with the permissions policy Direct Sockets to 127.0.0.1
 * needs in Chromium 150 (and `permissions`: more features the app's pages
 * may use; an app's pages get no feature its manifest does not list), and
 * the icon it names.
 */
export function iwaAppFiles(
  name: string,
  shortName: string,
  permissions: Readonly<Record<string, readonly string[]>> = {},
): IwaAppFiles {
  const manifest = JSON.stringify({
    name,
    short_name: shortName,
    version: '1.0.0',
    start_url: '/',
    scope: '/',
    display: 'standalone',
    icons: [{ src: IWA_ICON_PATH, sizes: '256x256', type: 'image/png' }],
    // Chromium 150 refuses TCPSocket to 127.0.0.1 without
    // 'direct-sockets-private' (InvalidAccessError: Access to local network
    // is blocked) and wants 'local-network' with it; later versions ignore it.
    permissions_policy: {
      'cross-origin-isolated': ['self'],
      'direct-sockets': ['self'],
      'direct-sockets-private': ['self'],
      'local-network': ['self'],
      'loopback-network': ['self'],
      ...permissions,
    },
  });
  return { manifest, icon: png(256, 256) };
}

/**
 * Serve the app: manifest, icon, the page and the bundled script `/iwa.js`,
 * each with `headers` besides its content type (Chromium adds the app's own
 * headers to what it serves as the app; `headers` matter where the same
 * server is opened as an ordinary site).
 */
export async function startIwaDevServer(
  script: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<IwaDevServer> {
  const { manifest, icon } = iwaAppFiles('polysocket e2e', 'polysocket');
  const html =
    '<!doctype html><meta charset="utf-8"><title>polysocket e2e (Direct Sockets)</title>' +
    '<script type="module" src="/iwa.js"></script>';
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    if (path === IWA_MANIFEST_PATH) {
      response.writeHead(200, { ...headers, 'content-type': 'application/manifest+json' }).end(manifest);
    } else if (path === IWA_ICON_PATH) {
      response.writeHead(200, { ...headers, 'content-type': 'image/png' }).end(icon);
    } else if (path === '/' || path === '/index.html') {
      response.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(html);
    } else if (path === '/iwa.js') {
      response.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(script);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Chromium with the app installed. */
export interface RunningIwa {
  readonly context: BrowserContext;
  /** `isolated-app://<id>` */
  readonly origin: string;
  close(): Promise<void>;
}

/** Options of {@link launchIwa}. */
export interface LaunchIwaOptions {
  /** Launches with a fresh profile, when the app doesn't show up. @defaultValue `3` */
  readonly attempts?: number;
  /** How long to wait for the app in chrome://web-app-internals, per launch. @defaultValue `30000` */
  readonly installTimeoutMs?: number;
  /**
   * Chromium's switches, to which the app's are added.
   * @defaultValue `CHROMIUM_ARGS`
   */
  readonly args?: readonly string[];
  /**
   * Chromium features to enable besides the app's: they share its one
   * `--enable-features` switch (of several, Chromium takes the last).
   */
  readonly features?: readonly string[];
}

/** Launch Chromium, install the app from `devServerUrl`, and grant local network access. */
export async function launchIwa(devServerUrl: string, options: LaunchIwaOptions = {}): Promise<RunningIwa> {
  const attempts = options.attempts ?? 3;
  const errors: string[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const profile = mkdtempSync(join(tmpdir(), 'polysocket-iwa-'));
    let context: BrowserContext | undefined;
    const close = async () => {
      await context?.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
    };
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM_PATH,
        headless: true,
        timeout: 60_000,
        args: [
          ...(options.args ?? CHROMIUM_ARGS),
          `--enable-features=${['IsolatedWebApps', 'IsolatedWebAppDevMode', ...(options.features ?? [])].join(',')}`,
          `--install-isolated-web-app-from-url=${devServerUrl}`,
        ],
      });
      const origin = await findIwaOrigin(context, options.installTimeoutMs ?? 30_000);
      // Without an origin: isolated-app:// origins are refused as opaque.
      await context.grantPermissions(['local-network-access']);
      return { context, origin, close };
    } catch (error) {
      errors.push(`attempt ${attempt}: ${error instanceof Error ? error.message : String(error)}`);
      await close();
    }
  }
  throw new Error(`the Isolated Web App could not be installed:\n${errors.join('\n')}`);
}

/**
 * The text of chrome://web-app-internals, where an installed app's origin
 * shows up: an expression (a string, not a function, so that drivers
 * without Playwright can evaluate it too) that walks the page's shadow DOM.
 */
export const IWA_INTERNALS_TEXT = `(() => {
  const walk = (node) => {
    let out = node.shadowRoot ? walk(node.shadowRoot) : '';
    for (const child of node.childNodes) out += child.nodeType === 3 ? child.textContent : walk(child);
    return out;
  };
  return walk(document.documentElement);
})()`;

/** An Isolated Web App's origin (its id is random per install). */
export const IWA_ORIGIN_PATTERN = /isolated-app:\/\/[a-z0-9]{56}/;

/** The app's origin, read from chrome://web-app-internals (it is random per install). */
async function findIwaOrigin(context: BrowserContext, timeoutMs: number): Promise<string> {
  const page = await context.newPage();
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      await page.goto('chrome://web-app-internals/', { timeout: 15_000 }).catch(() => {});
      const text = await page.evaluate<string>(IWA_INTERNALS_TEXT).catch(() => '');
      const match = IWA_ORIGIN_PATTERN.exec(text);
      if (match !== null) return match[0];
      await page.waitForTimeout(500);
    }
    throw new Error(`the app did not show up in chrome://web-app-internals within ${timeoutMs} ms`);
  } finally {
    await page.close().catch(() => {});
  }
}

/** A plain RGB PNG (the manifest needs an icon). */
function png(width: number, height: number): Buffer {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer): number => {
    let c = 0xffffffff;
    for (const byte of bytes) c = table[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([length, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const row = Buffer.alloc(1 + width * 3, 0x40);
  row[0] = 0; // filter: none
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: height }, () => row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
