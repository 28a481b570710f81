/**
 * The test list of the `websockets/` directory, built as WPT's manifest
 * builds it, then turned into jobs for the worker (worker.ts):
 *
 * - `*.any.js`: the dedicated-worker form wpt serve generates
 *   (`X.any.worker.html` starting a worker on `X.any.worker.js`, which
 *   imports testharness.js, the `// META: script=` files, the test, then
 *   calls `done()`). Node's global scope is a worker's in every way that
 *   matters here: no `document`.
 * - `*.worker.js`: a worker on the file itself (it imports testharness.js).
 * - `*.html` including testharness.js: the page's scripts, in document
 *   order, in a global with `window === self` and no `document`. Pages that
 *   need a DOM (documents, iframes, cookies, XHR, navigation) are listed as
 *   not applicable in the expectations file, with the reason.
 * - `*.window.js`: window-only tests; not applicable (expectations file).
 *
 * Variants come from `// META: variant=` and `<meta name="variant">`, the
 * long timeout from `timeout=long`, the default test names' title from
 * `// META: title=` and `<title>`. Files in `handlers/`, `resources/` and
 * `support/` directories are support files, as in WPT.
 *
 * For a browser (`target` `browser`) the tests are the pages wpt serve
 * offers and a browser loads: `X.any.js` in each of its `// META: global=`
 * scopes (by default a window and a dedicated worker: `X.any.html`,
 * `X.any.worker.html`, `.any.sharedworker.html`, `.any.serviceworker.html`),
 * `X.worker.js` as `X.worker.html`, `X.window.js` as `X.window.html`, and
 * the `.html` pages as they are; the static server makes the wrappers
 * (e2e/wpt/chromium/pages.ts). A job's `url` is then the page to load.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { BROWSER_HOST, type WptConfig } from './resources.js';

/** WPT's timeouts (`testharness` defaults): normal and `timeout=long`. */
export const TIMEOUT_MS = { normal: 10_000, long: 60_000 } as const;

export type JobKind = 'any' | 'worker' | 'html';

/** One script of a job, in execution order: a URL (absolute path) or inline text. */
export type JobScript = { readonly src: string } | { readonly inline: string; readonly name: string };

/** One test file in one variant: what a worker runs. */
export interface WptJob {
  /** The test's WPT id: the URL path of the page a browser would load, with the variant. */
  readonly id: string;
  /** The file in the checkout, e.g. `websockets/Close-1000.any.js`. */
  readonly file: string;
  readonly kind: JobKind;
  /** In Node, `location.href` of the global scope (the worker script's or the page's URL); for a browser, the page to load. */
  readonly url: string;
  readonly timeoutMs: number;
  /** The scripts to run, in order (Node only: a browser loads them from the page). */
  readonly scripts: readonly JobScript[];
  /** `META_TITLE`: what testharness names untitled tests after, as a page's `<title>`. */
  readonly title: string | null;
  /** Call testharness's `done()` after the scripts, as wpt's `.any.worker.js` wrapper does. */
  readonly callDone: boolean;
}

/** Who runs the jobs: Node's worker threads (worker.ts) or a browser loading pages. */
export type ManifestTarget = 'node' | 'browser';

/** A test (file and variant) that is not run, and why. */
export interface SkippedTest {
  readonly id: string;
  readonly reason: string;
}

/** The not-applicable rules of the expectations file. */
export interface SkipRules {
  /**
   * Paths relative to the checkout (`*` matches within a path segment,
   * `**` across). A rule with `unlessGlobal` applies only while the runtime
   * lacks that global (a test that cannot build its input without it).
   */
  readonly notApplicable: readonly {
    readonly pattern: string;
    readonly reason: string;
    readonly unlessGlobal?: string;
  }[];
  /** Variants never run, e.g. `?wpt_flags=h2`. */
  readonly skippedVariants: readonly { readonly variant: string; readonly reason: string }[];
}

export interface Manifest {
  readonly jobs: readonly WptJob[];
  readonly skipped: readonly SkippedTest[];
  /** Rules that matched no file: kept out of the expectations file. */
  readonly unusedRules: readonly string[];
}

function globToRegExp(pattern: string): RegExp {
  const source = pattern
    .split(/(\*\*|\*)/)
    .map((part) =>
      part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`);
}

/** Every file under `dir` (relative, POSIX separators), support directories left out. */
function listFiles(root: string, dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!['handlers', 'resources', 'support', 'tools'].includes(entry.name))
        files.push(...listFiles(root, path));
    } else {
      files.push(path);
    }
  }
  return files;
}

/** `// META: key=value` lines of a `.any.js` / `.worker.js` / `.window.js` file. */
export function metaLines(source: string): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  for (const line of source.split('\n')) {
    const match = /^\/\/\s*META:\s*(\w+)=(.*)$/.exec(line.trim());
    if (match) lines.push([match[1]!, match[2]!.trim()]);
  }
  return lines;
}

/** The attributes of an HTML start tag's text (`name=value`, quoted or not). */
function attributes(tag: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const match of tag.matchAll(/([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    result.set(match[1]!.toLowerCase(), match[2] ?? match[3] ?? match[4] ?? '');
  }
  return result;
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return String.fromCodePoint(code);
    }
    return named[name.toLowerCase()] ?? whole;
  });
}

/**
 * A page's text in its declared encoding (`<meta charset>`), as a browser
 * decodes it: a windows-1252 page's inline scripts hold windows-1252 text.
 */
function decodePage(bytes: Uint8Array): string {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 1024));
  const charset = /<meta[^>]+charset\s*=\s*["']?([\w-]+)/i.exec(head)?.[1] ?? 'utf-8';
  return new TextDecoder(charset).decode(bytes);
}

/** A page's scripts, variants, timeout and title. */
function parsePage(html: string, pagePath: string) {
  const text = html.replace(/<!--[\s\S]*?-->/g, '');
  const scripts: JobScript[] = [];
  let index = 0;
  for (const match of text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
    const attrs = attributes(match[1]!);
    const type = attrs.get('type');
    if (type !== undefined && !/^(text|application)\/(java|ecma)script$/i.test(type)) {
      throw new Error(`${pagePath}: <script type="${type}"> is not a classic script`);
    }
    const src = attrs.get('src');
    if (src !== undefined) scripts.push({ src: new URL(src, `http://host${pagePath}`).pathname });
    else scripts.push({ inline: match[2]!, name: `${pagePath}#script${++index}` });
  }
  const variants: string[] = [];
  let long = false;
  for (const match of text.matchAll(/<meta\b([^>]*)>/gi)) {
    const attrs = attributes(match[1]!);
    if (attrs.get('name') === 'variant') variants.push(attrs.get('content') ?? '');
    if (attrs.get('name') === 'timeout' && attrs.get('content') === 'long') long = true;
  }
  const title = /<title>([\s\S]*?)<\/title>/i.exec(text);
  return { scripts, variants, long, title: title ? decodeEntities(title[1]!) : null };
}

/**
 * The origin a test is served from: HTTPS for `.https.` files and
 * `wpt_flags=https` variants, as wpt serve does, and for service worker
 * scopes, which exist only in secure contexts.
 */
function originFor(file: string, config: WptConfig, variant: string, https = false): string {
  const secure =
    https ||
    file.split('/').pop()!.includes('.https.') ||
    new URLSearchParams(variant).getAll('wpt_flags').includes('https');
  const port = secure ? config.ports.https[0] : config.ports.http[0];
  return `${secure ? 'https' : 'http'}://${BROWSER_HOST}:${port}`;
}

/** The page of each scope an `.any.js` file runs in, in a browser (wpt serve's wrappers). */
const ANY_SCOPES: Readonly<Record<string, readonly string[]>> = {
  window: ['.any.html'],
  dedicatedworker: ['.any.worker.html'],
  sharedworker: ['.any.sharedworker.html'],
  serviceworker: ['.any.serviceworker.html'],
  worker: ['.any.worker.html', '.any.sharedworker.html', '.any.serviceworker.html'],
};

/** The pages of an `.any.js` file's `// META: global=` list (default: window and dedicated worker). */
function anyPages(globals: readonly string[]): string[] {
  const names = (globals.length === 0 ? ['window,dedicatedworker'] : globals).flatMap((value) =>
    value.split(',').map((name) => name.trim()),
  );
  const pages = new Set<string>();
  for (const name of names)
    if (!name.startsWith('!')) for (const page of ANY_SCOPES[name] ?? []) pages.add(page);
  for (const name of names)
    if (name.startsWith('!')) for (const page of ANY_SCOPES[name.slice(1)] ?? []) pages.delete(page);
  return [...pages];
}

/** One page (or worker) of a test file before its variants: what the job list is built from. */
interface TestPage {
  readonly kind: JobKind;
  /** The id without the variant. */
  readonly id: string;
  readonly url: string;
  readonly scripts: JobScript[];
  /** Served over HTTPS whatever the file name says (service worker scopes). */
  readonly https: boolean;
}

/**
 * Build the jobs for `dir` (relative to the checkout, e.g. `websockets`),
 * leaving out what `rules` declare not applicable; the WPT timeouts are
 * multiplied by `timeoutMultiplier`, as wptrunner's --timeout-multiplier.
 * `target` says who runs them (see the top of this file).
 */
export function buildManifest(
  config: WptConfig,
  dir: string,
  rules: SkipRules,
  timeoutMultiplier = 1,
  target: ManifestTarget = 'node',
): Manifest {
  const notApplicable = rules.notApplicable
    .filter((rule) => rule.unlessGlobal === undefined || !(rule.unlessGlobal in globalThis))
    .map((rule) => ({ ...rule, regexp: globToRegExp(rule.pattern) }));
  const used = new Set<string>();
  const jobs: WptJob[] = [];
  const skipped: SkippedTest[] = [];
  const browser = target === 'browser';

  for (const file of listFiles(config.wptDir, dir).sort()) {
    const path = `/${file}`;
    const source = () => readFileSync(join(config.wptDir, file), 'utf8');
    let pages: TestPage[];
    let variants: string[];
    let long: boolean;
    let title: string | null;
    if (file.endsWith('.any.js') || file.endsWith('.worker.js') || file.endsWith('.window.js')) {
      const meta = metaLines(source());
      const values = (key: string) => meta.filter(([name]) => name === key).map(([, value]) => value);
      variants = values('variant');
      long = values('timeout').includes('long');
      title = values('title')[0] ?? null;
      const base = path.replace(/\.js$/, '');
      if (file.endsWith('.any.js') && browser) {
        pages = anyPages(values('global')).map((suffix) => ({
          kind: 'any',
          id: base.replace(/\.any$/, suffix),
          url: base.replace(/\.any$/, suffix),
          scripts: [],
          https: suffix === '.any.serviceworker.html',
        }));
      } else if (file.endsWith('.any.js')) {
        const scripts: JobScript[] = [
          { src: '/resources/testharness.js' },
          ...values('script').map((script) => ({ src: new URL(script, `http://host${path}`).pathname })),
          { src: path },
        ];
        pages = [{ kind: 'any', id: `${base}.worker.html`, url: `${base}.worker.js`, scripts, https: false }];
      } else if (file.endsWith('.worker.js')) {
        const scripts = browser ? [] : [{ src: path }];
        pages = [
          { kind: 'worker', id: `${base}.html`, url: browser ? `${base}.html` : path, scripts, https: false },
        ];
      } else {
        // Window-only: not runnable in Node, but listed so a rule must name it.
        pages = [{ kind: 'html', id: `${base}.html`, url: `${base}.html`, scripts: [], https: false }];
      }
    } else if (file.endsWith('.html')) {
      const html = decodePage(readFileSync(join(config.wptDir, file)));
      if (!/<script[^>]*src=["']?\/resources\/testharness\.js/i.test(html)) continue; // a support page
      const page = parsePage(html, path);
      pages = [{ kind: 'html', id: path, url: path, scripts: browser ? [] : page.scripts, https: false }];
      ({ variants, long, title } = page);
    } else {
      continue;
    }

    for (const page of pages) {
      for (const variant of variants.length === 0 ? [''] : variants) {
        const testId = page.id + variant;
        const rule = notApplicable.find((candidate) => candidate.regexp.test(file));
        const skippedVariant = rules.skippedVariants.find((candidate) => candidate.variant === variant);
        if (rule !== undefined) {
          used.add(rule.pattern);
          skipped.push({ id: testId, reason: rule.reason });
        } else if (skippedVariant !== undefined) {
          used.add(skippedVariant.variant);
          skipped.push({ id: testId, reason: skippedVariant.reason });
        } else if (file.endsWith('.window.js') && !browser) {
          throw new Error(`${file} is window-only: list it under notApplicable`);
        } else {
          jobs.push({
            id: testId,
            file,
            kind: page.kind,
            url: `${originFor(file, config, variant, page.https)}${page.url}${variant}`,
            timeoutMs: (long ? TIMEOUT_MS.long : TIMEOUT_MS.normal) * timeoutMultiplier,
            scripts: page.scripts,
            title,
            callDone: page.kind === 'any' && !browser,
          });
        }
      }
    }
  }
  const unusedRules = [
    ...notApplicable.map((rule) => rule.pattern),
    ...rules.skippedVariants.map((rule) => rule.variant),
  ].filter((name) => !used.has(name));
  return { jobs, skipped, unusedRules };
}

/** Whether a job or skipped test matches `WPT_FILTER` (comma-separated substrings of the id). */
export function matchesFilter(id: string, filter: string | undefined): boolean {
  if (filter === undefined || filter.trim() === '') return true;
  return filter
    .split(',')
    .map((part) => part.trim())
    .some((part) => part !== '' && id.includes(part));
}
