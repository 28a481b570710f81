/**
 * The browser runner's modes (runner.ts): what each serves, how its browser
 * is launched and how its pages are run.
 *
 * - `chromium-native`: the browser's own `WebSocket`, the reference;
 * - `chromium-webtransport`: polysocket's `WebSocket` (the browser entry,
 *   src/index.ts, bundled by Vite) over WebTransport through the
 *   repository's gateway, installed as the `WebSocket` global of every page
 *   and worker before the test's scripts run (pages.ts, install.ts);
 * - `chromium-direct-sockets`: polysocket's `WebSocket` over Direct Sockets
 *   (`TCPSocket`) straight to pywebsocket3, installed the same way
 *   (install-direct-sockets.ts), with the pages loaded inside a dev-mode
 *   Isolated Web App whose dev server is the mode's site (iwa.ts).
 * - `chromium-chrome-sockets`: polysocket's `WebSocket` over
 *   chrome.sockets.tcp, the pages running in a Chrome App
 *   (mode-chrome-app.ts).
 *
 * A mode is a {@link ModeDefinition}: the runner starts the servers (one
 * site per mode) while each mode prepares, then the gateway, then launches
 * every mode with a {@link ModeSetup}.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { build } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../browser/support/chromium.js';
import type { RunningGateway } from '../../browser/support/gateway.js';
import { WPT_HOST_NAMES, type WptConfig } from '../resources.js';
import type { StaticSite } from '../servers.js';
import type { InstallConfig } from './install.js';
import type { DirectSocketsInstallConfig } from './install-direct-sockets.js';
import { iwaResponder, launchIwaHost, TRUSTED_TYPES_PRELUDE } from './iwa.js';
import { contextPages, type ModeHost, PageLane } from './lanes.js';
import { chromeAppMode } from './mode-chrome-app.js';
import { browserResponder } from './pages.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const CHROMIUM_MODES = [
  'chromium-native',
  'chromium-webtransport',
  'chromium-direct-sockets',
  'chromium-chrome-sockets',
] as const;
export type ChromiumMode = (typeof CHROMIUM_MODES)[number];

/** The address the WPT host names stand for. */
export const ADDRESS = '127.0.0.1';

/** What a mode's launch gets from the run. */
export interface ModeSetup {
  /** The mode's own site (its http and https ports; ws and wss are shared). */
  readonly config: WptConfig;
  /** base64 SHA-256 of the run's leaf certificate's SubjectPublicKeyInfo (wss:, https:). */
  readonly spki: string;
  /** The run's gateway, which reaches pywebsocket3 and the sites of the modes that ask for it. */
  readonly gateway: RunningGateway;
  /** A temporary directory of the run's, removed at its end. */
  readonly dir: string;
}

/** A mode of the browser runner. */
export interface ModeDefinition {
  /** What it tests, for the report. */
  readonly label: string;
  /** Whether the gateway must reach the mode's site and pywebsocket3. */
  readonly viaGateway: boolean;
  /** The responder of the mode's site; it may serve what `prepare` and `launch` make. */
  readonly respond: NonNullable<StaticSite['respond']>;
  /** Work done while the servers start (bundling), in the run's temporary directory. */
  prepare(dir: string): Promise<void>;
  /** Launch the mode's browser, once the servers and the gateway run. */
  launch(setup: ModeSetup): Promise<ModeHost>;
}

/** What the modes are built from. */
export interface ModeOptions {
  /** testharness's `timeout_multiplier`. */
  readonly timeoutMultiplier: number;
}

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo, for --ignore-certificate-errors-spki-list. */
export function spkiHash(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * Chromium's switches for a WPT run: the WPT host names map to `ADDRESS`
 * in its resolver (every other name still fails), and the run's leaf
 * certificate is trusted by its SPKI hash (TCP TLS: wss:, https: pages).
 * Playwright's own switches keep timers of background pages unthrottled.
 */
export function wptChromiumArgs(spki: string): string[] {
  const maps = [...WPT_HOST_NAMES].map((host) => `MAP ${host} ${ADDRESS}`).join(', ');
  const args = CHROMIUM_ARGS.map((arg) =>
    // The WPT names first: the first rule that matches a name applies, and
    // the existing rules send every other name nowhere.
    arg.startsWith('--host-resolver-rules=')
      ? `--host-resolver-rules=${maps}, ${arg.slice('--host-resolver-rules='.length)}`
      : arg,
  );
  args.push(`--ignore-certificate-errors-spki-list=${spki}`);
  return args;
}

/** Bundle a script of this directory as one classic script (pages load it with `<script>`, workers with importScripts). */
export async function bundleClassicScript(entry: string, dir: string, name: string): Promise<string> {
  await build({
    configFile: false,
    root: ROOT,
    logLevel: 'silent',
    build: {
      outDir: dir,
      emptyOutDir: false,
      minify: false,
      target: 'es2022',
      lib: { entry, formats: ['iife'], name, fileName: () => `${name}.js` },
    },
  });
  return readFileSync(join(dir, `${name}.js`), 'utf8');
}

/** A browser launched by Playwright, a context per page. */
async function launchPlain(mode: ChromiumMode, args: string[], native: boolean): Promise<ModeHost> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args,
    timeout: 60_000,
  });
  return {
    version: browser.version(),
    lane: () =>
      new PageLane(
        mode,
        contextPages(() => browser.newContext()),
        (job) => job.url,
        native,
      ),
    close: () => browser.close(),
  };
}

function nativeMode(options: ModeOptions): ModeDefinition {
  return {
    label: "Chromium's own `WebSocket` (the reference)",
    viaGateway: false,
    respond: browserResponder({ timeoutMultiplier: options.timeoutMultiplier, install: null }),
    prepare: async () => {},
    launch: (setup) => launchPlain('chromium-native', wptChromiumArgs(setup.spki), true),
  };
}

function webTransportMode(options: ModeOptions): ModeDefinition {
  let bundle: string | undefined;
  // Known once the gateway runs; the server reads it per request.
  let installScript: string | undefined;
  return {
    label: "polysocket's `WebSocket` over WebTransport through the gateway",
    viaGateway: true,
    respond: browserResponder({
      timeoutMultiplier: options.timeoutMultiplier,
      install: () => {
        if (installScript === undefined) throw new Error('install script requested before the gateway ran');
        return installScript;
      },
    }),
    prepare: async (dir) => {
      bundle = await bundleClassicScript(join(ROOT, 'e2e/wpt/chromium/install.ts'), dir, 'install');
    },
    launch: (setup) => {
      if (bundle === undefined) throw new Error('launch before prepare');
      const install: InstallConfig = {
        gateway: setup.gateway.url,
        certificateHash: setup.gateway.certificateHash,
        hosts: [...WPT_HOST_NAMES],
        address: ADDRESS,
        tls: 'gateway', // wss: through the gateway's TLS (the runner gives it the run's CA)
      };
      installScript = `self.__polysocketWpt = ${JSON.stringify(install)};\n${bundle}`;
      // WebTransport exists only in secure contexts: the pages' http: origins count as secure.
      const origins = [...WPT_HOST_NAMES].map((host) => `http://${host}:${setup.config.ports.http[0]}`);
      const args = [
        ...wptChromiumArgs(setup.spki),
        `--unsafely-treat-insecure-origin-as-secure=${origins.join(',')}`,
      ];
      return launchPlain('chromium-webtransport', args, false);
    },
  };
}

function directSocketsMode(options: ModeOptions): ModeDefinition {
  let installScript: string | undefined;
  return {
    label: "polysocket's `WebSocket` over Direct Sockets in an Isolated Web App",
    viaGateway: false,
    respond: iwaResponder(
      browserResponder({
        timeoutMultiplier: options.timeoutMultiplier,
        install: () => {
          if (installScript === undefined) throw new Error('install script requested before it was bundled');
          return installScript;
        },
        workerPrelude: TRUSTED_TYPES_PRELUDE,
        serviceWorkers: {
          // One origin (the app's) and one profile for every lane's pages.
          scopePerPage: true,
          // In the app, Chromium 150 now and then aborts the fetch of a
          // service worker's script that the server answered in full
          // ('An unknown error occurred when fetching the script'); the
          // next register() fetches it again.
          registerAttempts: 3,
        },
      }),
    ),
    prepare: async (dir) => {
      const entry = join(ROOT, 'e2e/wpt/chromium/install-direct-sockets.ts');
      const bundle = await bundleClassicScript(entry, dir, 'installDirectSockets');
      const install: DirectSocketsInstallConfig = { hosts: [...WPT_HOST_NAMES], address: ADDRESS };
      installScript = `${TRUSTED_TYPES_PRELUDE}self.__polysocketWpt = ${JSON.stringify(install)};\n${bundle}`;
    },
    // The app's dev server is the mode's own site; its pages reach
    // pywebsocket3 through TCPSocket, which the resolver rules also map.
    launch: (setup) =>
      launchIwaHost(
        'chromium-direct-sockets',
        `http://${ADDRESS}:${setup.config.ports.http[0]}/`,
        wptChromiumArgs(setup.spki),
        false,
      ),
  };
}

/** Every mode, in `CHROMIUM_MODES` order. */
export function modeDefinitions(options: ModeOptions): Readonly<Record<ChromiumMode, ModeDefinition>> {
  return {
    'chromium-native': nativeMode(options),
    'chromium-webtransport': webTransportMode(options),
    'chromium-direct-sockets': directSocketsMode(options),
    'chromium-chrome-sockets': chromeAppMode(options),
  };
}

/** The report's label of each mode. */
export const MODE_LABELS: Readonly<Record<ChromiumMode, string>> = Object.fromEntries(
  Object.entries(modeDefinitions({ timeoutMultiplier: 1 })).map(([mode, definition]) => [
    mode,
    definition.label,
  ]),
) as Record<ChromiumMode, string>;
