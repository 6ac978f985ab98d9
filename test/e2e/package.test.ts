// The package as it is installed: what `npm pack` puts in it, and that its command and modules
// run from the compiled files alone, without the sources.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { default: string; types: string }>;
  bin: Record<string, string>;
};

describe('the packed package', () => {
  let dir: string;
  let files: string[];
  let unpacked: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-pack-'));
    // prepack builds dist/ first.
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    files = packed!.files.map((file) => file.path);
    await run('tar', ['xzf', join(dir, packed!.filename), '-C', dir]);
    unpacked = join(dir, 'package');
    // Stands in for the dependencies an install would bring.
    symlinkSync(join(root, 'node_modules'), join(unpacked, 'node_modules'), 'dir');
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds the compiled files, the command and the README, and no sources or tests', () => {
    for (const file of files) expect(file).toMatch(/^(dist\/|bin\/|README\.md$|package\.json$)/);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    for (const path of Object.values(manifest.bin)) expect(files).toContain(path);
    expect(files.some((file) => file.endsWith('.test.js'))).toBe(false);
  });

  it('has a file behind every export', () => {
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      const paths = typeof target === 'string' ? [target] : [target.default, target.types];
      for (const path of paths) expect(files, subpath).toContain(path.replace(/^\.\//, ''));
    }
  });

  it('runs the tessera command from dist/', async () => {
    const { stdout } = await run(process.execPath, [join(unpacked, 'bin', 'tessera.js'), 'clients', '--help'], {
      cwd: dir,
    });
    expect(stdout).toContain('create');
  });

  it('serves the library from dist/', async () => {
    const library = (await import(pathToFileURL(join(unpacked, 'dist', 'index.js')).href)) as Record<string, unknown>;
    expect(typeof library.compose).toBe('function');
    expect(typeof library.createRouter).toBe('function');
  });
});
