#!/usr/bin/env node
// npm's `prepare` hook: builds dist/ (`npm run build`). npm runs it after
// `npm install`/`npm ci` in this repository, before `npm pack`/`npm publish`,
// and when polysocket is installed from git (`npm i git+https://…`), in a
// clone where it has installed the devDependencies first. Without it, a git
// install has no dist/ and every import fails with ERR_MODULE_NOT_FOUND.
//
// A folder install (`npm i ../polysocket`) links the folder and runs this
// there without installing its devDependencies: say what to do rather than
// fail with "vite: not found".
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function canResolve(name) {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
}

if (!canResolve('vite') || !canResolve('typescript')) {
  console.error(
    `polysocket: building dist/ needs the devDependencies, which are not installed in ${root}.\n` +
      `Run \`npm install\` there first, or install from git instead: npm i git+file://${root}`,
  );
  process.exit(1);
}

const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
process.exit(build.status ?? 1);
