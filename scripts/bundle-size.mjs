/**
 * Bundle sizes of polysocket's browser entry points, as a user's bundler
 * would ship them: each entry bundled with its dependencies (eventemitter3,
 * pako) by esbuild (the one Vite uses), minified, ES2022, for
 * the browser; then gzipped with zlib at level 9. Also each entry's own code
 * with the dependencies left external, and a metafile breakdown of what is
 * heavy.
 *
 * Run with `npm run size` (i.e. `node scripts/bundle-size.mjs`). Builds go
 * to a temporary directory that is removed afterwards. Results go to
 * bench/results/size.{json,md}.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', 'results');
/** Target of issue 4 for the browser entry without permessage-deflate, min+gz. */
const TARGET_BYTES = 12 * 1000;
const DEPENDENCIES = ['eventemitter3', 'pako'];

/**
 * What is measured. `lite` is the browser entry without permessage-deflate
 * (`polysocket/lite`); `.` offers permessage-deflate by default. Where an
 * entry file doesn't exist (older trees), it is skipped and said so.
 */
const ENTRIES = [
  {
    name: 'browser, without permessage-deflate (`polysocket/lite`, src/lite.ts)',
    key: 'lite',
    file: 'src/lite.ts',
    target: true,
  },
  {
    name: 'browser, with permessage-deflate (`polysocket`, src/index.ts)',
    key: 'index',
    file: 'src/index.ts',
  },
  {
    name: 'Sans-I/O core, every export (`polysocket/protocol`, src/protocol/index.ts)',
    key: 'protocol',
    file: 'src/protocol/index.ts',
  },
  {
    name: 'Sans-I/O core, `ClientProtocol` alone (tree-shaken from `polysocket/protocol`)',
    key: 'protocol-client',
    contents: "export { ClientProtocol } from './src/protocol/index.ts';",
  },
  {
    name: 'WebTransport transport (`polysocket/webtransport`, src/transports/webtransport.ts)',
    key: 'webtransport',
    file: 'src/transports/webtransport.ts',
  },
  {
    name: 'proxy tunnels, HTTP CONNECT and SOCKS5 (`polysocket/proxy`, src/transports/proxy.ts)',
    key: 'proxy',
    file: 'src/transports/proxy.ts',
  },
  {
    name: 'streams transport (`polysocket/streams`, src/transports/streams.ts)',
    key: 'streams',
    file: 'src/transports/streams.ts',
  },
  {
    // What an application that uses only the WebSocket class bundles: the
    // WebSocketStream class beside it in the entry is left out.
    name: '`WebSocket` alone (tree-shaken from `polysocket/lite`)',
    key: 'lite-websocket',
    contents: "export { WebSocket } from './src/lite.ts';",
  },
  {
    name: '`WebSocketStream` alone (tree-shaken from `polysocket/lite`)',
    key: 'lite-websocket-stream',
    contents: "export { WebSocketStream } from './src/lite.ts';",
  },
  {
    // The entry's top-level calls are marked pure, so the WebSocket class
    // and permessage-deflate are left out: about the size of the subpath.
    name: '`webTransportTransport` alone (tree-shaken from `polysocket`)',
    key: 'index-webtransport',
    contents: "export { webTransportTransport } from './src/index.ts';",
  },
];

function gzipSize(bytes) {
  return gzipSync(bytes, { level: 9 }).byteLength;
}

/** Group a metafile input path: a package name, or the source file. */
function owner(path) {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  return match === null ? path : match[1];
}

async function measure(entry, outdir, external) {
  const options = {
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir,
    entryNames: `${entry.key}${external ? '.own' : ''}`,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    absWorkingDir: ROOT,
    external: external ? DEPENDENCIES.flatMap((name) => [name, `${name}/*`]) : [],
  };
  const result =
    entry.contents === undefined
      ? await build({ ...options, entryPoints: [join(ROOT, entry.file)] })
      : await build({
          ...options,
          stdin: { contents: entry.contents, resolveDir: ROOT, loader: 'ts', sourcefile: `${entry.key}.ts` },
        });
  const [outputPath, output] = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith('.js'));
  const bytes = readFileSync(join(ROOT, outputPath));
  const byOwner = new Map();
  for (const [path, input] of Object.entries(output.inputs)) {
    const key = owner(path);
    byOwner.set(key, (byOwner.get(key) ?? 0) + input.bytesInOutput);
  }
  const heaviest = [...byOwner]
    .sort((a, b) => b[1] - a[1])
    .map(([input, minifiedBytes]) => ({ input, minifiedBytes }));
  return { minifiedBytes: bytes.byteLength, gzipBytes: gzipSize(bytes), heaviest };
}

function kb(bytes) {
  return (bytes / 1000).toFixed(1);
}

async function main() {
  const outdir = mkdtempSync(join(os.tmpdir(), 'polysocket-size-'));
  const esbuildVersion = JSON.parse(
    readFileSync(join(ROOT, 'node_modules', 'esbuild', 'package.json'), 'utf8'),
  ).version;
  const rows = [];
  const skipped = [];
  try {
    for (const entry of ENTRIES) {
      if (entry.file !== undefined && !existsSync(join(ROOT, entry.file))) {
        skipped.push(`${entry.name}: ${entry.file} does not exist`);
        continue;
      }
      const bundled = await measure(entry, outdir, false);
      const own = await measure(entry, outdir, true);
      rows.push({
        entry: entry.name,
        key: entry.key,
        minifiedBytes: bundled.minifiedBytes,
        gzipBytes: bundled.gzipBytes,
        ownMinifiedBytes: own.minifiedBytes,
        ownGzipBytes: own.gzipBytes,
        targetBytes: entry.target === true ? TARGET_BYTES : null,
        heaviest: bundled.heaviest,
      });
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }

  const environment = { date: new Date().toISOString(), node: process.version, esbuild: esbuildVersion };
  for (const row of rows) {
    const target = row.targetBytes === null ? '' : ` (target ≤ ${kb(row.targetBytes)} KB)`;
    console.log(
      `${row.entry}: ${kb(row.minifiedBytes)} KB min, ${kb(row.gzipBytes)} KB min+gz${target}; own code ${kb(row.ownMinifiedBytes)} / ${kb(row.ownGzipBytes)} KB`,
    );
  }
  for (const line of skipped) console.log(`skipped: ${line}`);

  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'size.json'), `${JSON.stringify({ environment, rows, skipped }, null, 2)}\n`);
  writeFileSync(join(RESULTS, 'size.md'), markdown(environment, rows, skipped));
  console.log(`wrote ${relative(ROOT, join(RESULTS, 'size.{json,md}'))}`);
}

function markdown(environment, rows, skipped) {
  const lines = [
    '# Bundle size',
    '',
    `Generated by \`npm run size\` (\`node scripts/bundle-size.mjs\`) on ${environment.date}.`,
    '',
    `- esbuild ${environment.esbuild} (the bundler Vite uses), \`bundle\`, \`minify\`, ES module, \`platform: 'browser'\`, target ES2022; gzip = zlib level 9. 1 KB = 1000 bytes.`,
    `- "bundled": the entry with its dependencies (${DEPENDENCIES.join(', ')}), as it lands in an application bundle. "own code": the dependencies left external.`,
    `- Target (issue 4): the browser entry without permessage-deflate ≤ ${kb(TARGET_BYTES)} KB min+gz.`,
    '',
    '| entry | bundled min | bundled min+gz | own code min | own code min+gz | target |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const row of rows) {
    const target =
      row.targetBytes === null
        ? ''
        : `≤ ${kb(row.targetBytes)} KB: ${row.gzipBytes <= row.targetBytes ? 'met' : 'missed'}`;
    lines.push(
      `| ${row.entry} | ${kb(row.minifiedBytes)} KB | ${kb(row.gzipBytes)} KB | ${kb(row.ownMinifiedBytes)} KB | ${kb(row.ownGzipBytes)} KB | ${target} |`,
    );
  }
  for (const line of skipped) lines.push('', `Skipped: ${line}.`);
  lines.push(
    '',
    '## What is heavy',
    '',
    'Minified bytes in the bundled output per source file or package (esbuild metafile, `bytesInOutput`; before gzip).',
    '',
  );
  for (const row of rows) {
    lines.push(`### ${row.entry}`, '', '| input | minified | share |', '| --- | ---: | ---: |');
    const total = row.heaviest.reduce((sum, item) => sum + item.minifiedBytes, 0);
    for (const item of row.heaviest.slice(0, 12)) {
      lines.push(
        `| ${item.input} | ${kb(item.minifiedBytes)} KB | ${((100 * item.minifiedBytes) / total).toFixed(1)} % |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

await main();
