#!/usr/bin/env node
// Builds the browser app into web/ui/dist with Vite.
//   node web/ui/build.mjs            build now
//   node web/ui/build.mjs --if-stale build only when dist is missing or older than its sources
// `npm install` (prepare) and `npm start` run it with --if-stale, so a fresh checkout serves the UI.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const uiDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(uiDir, '..', '..');
const distDir = join(uiDir, 'dist');
const stamp = join(distDir, '.build-stamp');
const inputs = [join(uiDir, 'src'), join(uiDir, 'index.html'), join(uiDir, 'vite.config.ts'), join(uiDir, 'build.mjs'), join(repoRoot, 'sandbox', 'dialplan.d.ts'), join(repoRoot, 'sandbox', 'dialplan-lib.ts'), join(repoRoot, 'db', 'protected-provider-headers.ts'), join(repoRoot, 'package-lock.json')];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function isFresh() {
  if (!existsSync(stamp) || !existsSync(join(distDir, 'index.html'))) return false;
  return Math.max(...inputs.map(newestMtime)) <= statSync(stamp).mtimeMs;
}

const ifStale = process.argv.includes('--if-stale');
if (ifStale && isFresh()) process.exit(0);

// Two builders at once (parallel test files, npm start during npm install) would empty each
// other's dist: take a lock directory (mkdir is atomic), then look again.
const lock = join(uiDir, '.build-lock');
const lockDeadline = Date.now() + 180_000;
for (;;) {
  try {
    mkdirSync(lock);
    break;
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
    // A lock older than any build is left over from a killed builder.
    if (Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
    if (Date.now() > lockDeadline) throw new Error(`web/ui: ${lock} held for 3 minutes; remove it if no build is running`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
process.on('exit', () => rmSync(lock, { recursive: true, force: true }));
if (ifStale && isFresh()) process.exit(0);

let vite;
try {
  vite = await import('vite');
} catch {
  // A production install without dev dependencies cannot build; say so instead of failing the install.
  console.warn('web/ui: vite is not installed (npm install without --omit=dev builds the web app); the switch runs without its web UI.');
  process.exit(ifStale ? 0 : 1);
}

console.log('web/ui: building the web app into web/ui/dist …');
// Without NODE_ENV, React's development build would be bundled.
process.env.NODE_ENV = 'production';
await vite.build({ configFile: join(uiDir, 'vite.config.ts'), mode: 'production', logLevel: 'warn' });
writeFileSync(stamp, `${new Date().toISOString()}\n`);
console.log('web/ui: built.');
