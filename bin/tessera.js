#!/usr/bin/env node
// The `tessera` command. An installed package runs the compiled files in dist/. In a source
// checkout it runs src/cli/main.ts: compiled once into node_modules/.cache with esbuild (the
// compiler tsx uses) and recompiled whenever a source file is newer, or through tsx when
// esbuild is not at hand.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'src', 'cli', 'main.ts');
const compiled = join(root, 'dist', 'cli', 'main.js');

if (!existsSync(source)) {
  await import(pathToFileURL(compiled).href);
} else {
  // One bundle per checkout: checkouts that share one node_modules (a symlink) must not run each other's code.
  const checkout = createHash('sha256').update(root).digest('hex').slice(0, 16);
  const bundle = join(root, 'node_modules', '.cache', 'tessera-cli', checkout, 'main.mjs');
  let entry;
  try {
    entry = await freshBundle(bundle);
  } catch {
    entry = undefined;
  }
  if (entry) {
    await import(pathToFileURL(entry).href);
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    await import(pathToFileURL(source).href);
  }
}

/** The newest modification time of `dir` and anything under it (a deleted file changes its folder's). */
function newestMtime(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Returns the bundle, rebuilding it first when any source is newer. */
async function freshBundle(bundle) {
  const newest = Math.max(newestMtime(join(root, 'src')), statSync(new URL(import.meta.url)).mtimeMs);
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= newest) return bundle;
  const { build } = await import('esbuild');
  mkdirSync(join(bundle, '..'), { recursive: true });
  // Written aside and renamed, so a process starting meanwhile never loads half a file.
  const partial = `${bundle}.${process.pid}.tmp.mjs`;
  await build({
    entryPoints: [source],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: partial,
    logLevel: 'silent',
  });
  renameSync(partial, bundle);
  return bundle;
}
