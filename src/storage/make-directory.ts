import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Creates a folder and any missing parents, like `mkdir -p`.
 *
 * Node's own `mkdirSync(path, { recursive: true })` never returns when the kernel answers ENOENT
 * for a folder whose parent exists (anywhere under `/proc`, say): it retries the parent forever.
 * This walks up once, then creates each missing folder on the way down, so every failure is
 * an error that names the folder.
 *
 * @param path the folder to create; an existing folder is left as it is
 * @throws the `mkdir` error of the first folder that cannot be made, or ENOTDIR when a file is in the way
 * @example
 * makeDirectory('./data/keys');
 */
export function makeDirectory(path: string): void {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    const kind = kindOf(current);
    if (kind === 'directory') break;
    if (kind === 'other') throw notADirectory(current);
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder);
    } catch (error) {
      // Another process may have made it between the look and the mkdir.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && kindOf(folder) === 'directory') continue;
      throw error;
    }
  }
}

function kindOf(path: string): 'directory' | 'other' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'other';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    throw error;
  }
}

function notADirectory(path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`ENOTDIR: not a directory, mkdir '${path}'`);
  error.code = 'ENOTDIR';
  error.path = path;
  error.syscall = 'mkdir';
  return error;
}
