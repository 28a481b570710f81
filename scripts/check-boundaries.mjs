#!/usr/bin/env node
// Enforces the layering rules that the type checker cannot:
// - the Sans-I/O core (src/protocol) imports only from itself (and the
//   audited dependency pako, for synchronous DEFLATE), never node:*,
//   DOM-only modules or other layers;
// - transports (src/transports) know bytes, not WebSocket: they import only
//   eventemitter3 and each other;
// - the WHATWG layer (src/*.ts but the entry points) and the connection
//   driver (src/connection) depend on the core, the Transport contract and
//   each other, never on a concrete transport; the driver never imports a
//   front end (it dispatches no DOM events);
// - only src/node and src/electron/main.ts (Electron's main process) may
//   import node:* (src/testing holds test-only helpers);
// - src/electron: the preload and the renderer transport run in the page's
//   processes and import only each other's message types (messages.ts);
//   the renderer transport also implements the Transport contract; main.ts
//   adds node:net/node:tls and nothing else;
// - the Deno gateway (gateway/) imports from src only the wire format it
//   shares with the client (src/transports/gateway-wire.ts), which imports
//   nothing.
// Test files are exempt.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
/** Entry points: the only modules that choose concrete transports. */
const ENTRY_POINTS = new Set(['src/index.ts', 'src/node.ts', 'src/polyfill.ts']);

const rules = [
  {
    dir: 'src/protocol',
    allow: (spec, file) => spec === 'pako' || isInside(file, spec, 'src/protocol'),
  },
  {
    dir: 'src/transports',
    allow: (spec, file) => spec === 'eventemitter3' || isInside(file, spec, 'src/transports'),
  },
  {
    // The gateway protocol's wire format, which the Deno gateway imports by
    // its path: it must import nothing, or Deno would need to resolve it.
    dir: 'src/transports',
    skip: (file) => relative(root, file) !== 'src/transports/gateway-wire.ts',
    allow: () => false,
  },
  {
    // The Deno gateway: its own modules and the shared wire format only.
    dir: 'gateway',
    allow: (spec, file) =>
      isInside(file, spec, 'gateway') ||
      resolve(file, '..', spec) === join(root, 'src/transports/gateway-wire.ts'),
  },
  {
    dir: 'src',
    shallow: true,
    skip: (file) => ENTRY_POINTS.has(relative(root, file)),
    allow: (spec, file) =>
      isInside(file, spec, 'src/protocol') ||
      isInside(file, spec, 'src', true) ||
      isInside(file, spec, 'src/connection') ||
      resolve(file, '..', spec) === join(root, 'src/transports/transport.js'),
  },
  {
    dir: 'src/connection',
    allow: (spec, file) =>
      isInside(file, spec, 'src/protocol') ||
      isInside(file, spec, 'src/connection') ||
      ['src/failure.js', 'src/message.js', 'src/transports/transport.js'].some(
        (path) => resolve(file, '..', spec) === join(root, path),
      ),
  },
  {
    dir: 'src/electron',
    allow: (spec, file) => {
      const name = relative(root, file);
      if (spec === './messages.js') return true;
      if (name === 'src/electron/main.ts') return spec === 'node:net' || spec === 'node:tls';
      if (name === 'src/electron/renderer.ts') {
        return resolve(file, '..', spec) === join(root, 'src/transports/transport.js');
      }
      return false;
    },
  },
  {
    dir: 'src',
    skip: (file) =>
      ['src/node/', 'src/testing/'].some((dir) => relative(root, file).startsWith(dir)) ||
      relative(root, file) === 'src/electron/main.ts',
    allow: (spec) => !spec.startsWith('node:'),
  },
];

/** Whether relative `spec` in `file` points into `dir` (`shallow`: directly in it). */
function isInside(file, spec, dir, shallow = false) {
  if (!spec.startsWith('.')) return false;
  const path = relative(join(root, dir), resolve(file, '..', spec));
  return !path.startsWith('..') && (!shallow || !path.includes('/'));
}

function* walk(dir, shallow) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!shallow) yield* walk(path, shallow);
    } else if (path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.endsWith('.type-test.ts')) {
      yield path;
    }
  }
}

let failures = 0;
for (const rule of rules) {
  for (const file of walk(join(root, rule.dir), rule.shallow ?? false)) {
    if (rule.skip?.(file)) continue;
    const text = readFileSync(file, 'utf8');
    // Import and export statements (`from '…'` at the end of one), bare
    // imports and dynamic imports; not `from '…'` inside a string.
    const imports =
      /^\s*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]/gm;
    for (const match of text.matchAll(imports)) {
      const spec = match[1] ?? match[2] ?? match[3];
      if (!rule.allow(spec, file)) {
        console.error(`${relative(root, file)}: imports ${spec}, outside what ${rule.dir} may import`);
        failures++;
      }
    }
  }
}
if (failures > 0) process.exit(1);
console.log('check-boundaries: ok');
