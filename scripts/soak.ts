/**
 * Load and soak: `npx tsx scripts/soak.ts [--connections N] [--seconds S]`
 * (`npm run soak`). Defaults: 1,000 connections for 60 s. Writes
 * results/soak.json and results/soak.md; exits non-zero if a message was
 * lost or corrupted, a connection failed to open or close cleanly, or the
 * heap did not plateau. Needs an open-file soft limit above the number of
 * connections (`ulimit -n`); the echo server's is raised by the script.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runSoak, soakMarkdown } from '../e2e/soak/soak.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '60' },
    'max-size': { type: 'string', default: String(64 * 1024) },
    seed: { type: 'string', default: '20261126' },
    out: { type: 'string', default: 'results' },
  },
});

const result = await runSoak({
  connections: Number(values.connections),
  seconds: Number(values.seconds),
  maxSize: Number(values['max-size']),
  seed: Number(values.seed),
  log: (line) => console.log(line),
});
const dir = resolve(import.meta.dirname, '..', values.out);
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(dir, 'soak.md'), soakMarkdown(result));
console.log(soakMarkdown(result));
const ok =
  result.messagesLost === 0 &&
  result.corrupt === 0 &&
  result.opened === result.connections &&
  result.cleanCloses === result.connections &&
  result.heapPlateau;
console.log(ok ? 'soak: OK' : 'soak: FAILED');
process.exit(ok ? 0 : 1);
