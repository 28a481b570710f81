#!/usr/bin/env node
// Enforces the layering rules of GUIDE.md §7 that the type checker cannot:
// the Sans-I/O core (src/protocol) imports only from itself (and the one
// audited dependency, @noble/hashes, for synchronous SHA-1), never node:*,
// DOM-only modules or other layers. Test files are exempt.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const rules = [
  {
    dir: 'src/protocol',
    allow: (spec, file) => spec.startsWith('@noble/hashes/') || isInside(file, spec, 'src/protocol'),
  },
];

function isInside(file, spec, dir) {
  if (!spec.startsWith('.')) return false;
  const target = resolve(file, '..', spec);
  return !relative(join(root, dir), target).startsWith('..');
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) yield path;
  }
}

let failures = 0;
for (const rule of rules) {
  for (const file of walk(join(root, rule.dir))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const spec = match[1];
      if (!rule.allow(spec, file)) {
        console.error(`${relative(root, file)}: imports ${spec}, outside what ${rule.dir} may import`);
        failures++;
      }
    }
  }
}
if (failures > 0) process.exit(1);
console.log('check-boundaries: ok');
