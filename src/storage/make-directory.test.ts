import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeDirectory } from './make-directory.js';

describe('makeDirectory', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tessera-mkdir-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates a folder and every missing parent', () => {
    const target = join(root, 'a', 'b', 'c');
    makeDirectory(target);
    expect(statSync(target).isDirectory()).toBe(true);
  });

  it('leaves an existing folder as it is', () => {
    makeDirectory(root);
    makeDirectory(join(root, '.'));
    expect(statSync(root).isDirectory()).toBe(true);
  });

  it('fails with ENOTDIR when a file stands where a folder must go', () => {
    writeFileSync(join(root, 'file'), 'x');
    expect(() => makeDirectory(join(root, 'file'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    expect(() => makeDirectory(join(root, 'file', 'below'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });

  it.runIf(process.platform === 'linux')(
    'fails at once where the kernel refuses to make a folder (under /proc)',
    () => {
      // node's recursive mkdirSync loops forever here; this must return an error.
      expect(() => makeDirectory('/proc/tessera-no-such/deeper')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    },
  );
});
