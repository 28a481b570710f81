/**
 * A mode's site written out as files, for a mode whose pages come from a
 * package rather than from a server (a Chrome App's): every file a test
 * page of the suite can load, as the mode's responder serves it, so that
 * the pages are exactly what the other modes get.
 *
 * - The checkout's files under the directories the suite's pages load from
 *   (`websockets/`, `resources/`, `common/`, `interfaces/`), `.sub` files
 *   substituted with the site's ports (resources.ts), wpt serve's aliases.
 * - The wrappers pages.ts makes for each `.any.js`, `.worker.js` and
 *   `.window.js` file, testharnessreport.js, the install script.
 * - Whatever a written page loads with `<script src>` from its own origin
 *   that is none of the above (scripts the responder makes from a page).
 *
 * A package answers no query: a file is the same whatever the query, which
 * still reaches the page's `location.search` (the wrappers read the
 * variant from there). Python handlers (`*.py`) cannot run from a package
 * and are left out, as are `.headers` files (a package sends no headers),
 * and `.sub` files whose templates the run does not support (none of the
 * suite's).
 */
import { type Dirent, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { ALIASES, readResource, type WptConfig, type WptResource } from '../resources.js';

/** The top directories of the checkout the suite's pages load files from. */
export const SITE_DIRS = ['websockets', 'resources', 'common', 'interfaces'] as const;

/** The pages a responder makes for a test script (pages.ts), by the script's suffix. */
const WRAPPERS: readonly { readonly script: string; readonly pages: readonly string[] }[] = [
  {
    script: '.any.js',
    pages: [
      '.any.html',
      '.any.worker.html',
      '.any.sharedworker.html',
      '.any.serviceworker.html',
      '.any.worker.js',
    ],
  },
  { script: '.worker.js', pages: ['.worker.html'] },
  { script: '.window.js', pages: ['.window.html'] },
];

/** Every file under `dir` of the checkout, as URL paths. */
function listPaths(wptDir: string, dir: string): string[] {
  const paths: string[] = [];
  let entries: Dirent[];
  try {
    entries = readdirSync(join(wptDir, dir), { withFileTypes: true });
  } catch {
    return paths;
  }
  for (const entry of entries) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) paths.push(...listPaths(wptDir, path));
    else if (entry.isFile() && !entry.name.endsWith('.py') && !entry.name.endsWith('.headers'))
      paths.push(`/${path}`);
  }
  return paths;
}

/** The same-origin `<script src>` paths of an HTML page at `path`. */
function scriptPaths(html: string, path: string): string[] {
  const found: string[] = [];
  for (const match of html
    .replace(/<!--[\s\S]*?-->/g, '')
    .matchAll(/<script\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)/gi)) {
    const url = new URL(match[1]!, `http://site${path}`);
    if (url.origin === 'http://site') found.push(decodeURIComponent(url.pathname));
  }
  return found;
}

/** What was written, and what was not and why. */
export interface SiteFiles {
  readonly written: number;
  /** Paths not written (not 200, or the substitution failed), with the reason. */
  readonly skipped: ReadonlyMap<string, string>;
}

/**
 * Write the site `respond` (a `StaticSite.respond`, undefined: the file as
 * the static server reads it) serves for `config` into `outDir`, plus the
 * paths of `extraPaths` (e.g. the install script).
 */
export function writeSiteFiles(
  respond: (url: URL, config: WptConfig) => WptResource | undefined,
  config: WptConfig,
  outDir: string,
  extraPaths: readonly string[] = [],
): SiteFiles {
  const done = new Set<string>();
  const skipped = new Map<string, string>();
  const queue: string[] = [];
  for (const dir of SITE_DIRS) {
    for (const path of listPaths(config.wptDir, dir)) {
      queue.push(path);
      for (const { script, pages } of WRAPPERS) {
        if (path.endsWith(script)) for (const page of pages) queue.push(path.slice(0, -script.length) + page);
      }
    }
  }
  queue.push('/resources/testharnessreport.js', ...Object.keys(ALIASES), ...extraPaths);
  let written = 0;
  while (queue.length > 0) {
    const path = queue.shift()!;
    if (done.has(path)) continue;
    done.add(path);
    const url = new URL(path, 'http://site/');
    let resource: WptResource;
    try {
      resource = respond(url, config) ?? readResource(url, config);
    } catch (error) {
      skipped.set(path, String(error));
      continue;
    }
    if (resource.status !== 200) {
      skipped.set(path, `status ${resource.status}`);
      continue;
    }
    const file = join(outDir, ...path.split('/').filter((part) => part !== ''));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, resource.body);
    written++;
    if (path.endsWith('.html')) {
      // As latin1 whatever the page's encoding: the paths looked for are ASCII.
      queue.push(...scriptPaths(Buffer.from(resource.body).toString('latin1'), path));
    }
  }
  return { written, skipped };
}
