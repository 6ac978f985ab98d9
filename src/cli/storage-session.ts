// Opening the configured store for one command and always closing it again.

import { existsSync } from 'node:fs';
import { openStorage, resolveDatabaseUrl, type ServerConfig } from '../server/index.js';
import type { Storage } from '../storage/index.js';
import { CliError, exitCodes } from './exit-codes.js';

/** How a command opens the store. */
export interface StorageSessionOptions {
  /**
   * Only reads: a SQLite file that does not exist is reported instead of created, so a mistyped
   * path does not leave folders and an empty database behind.
   */
  readonly readOnly?: boolean;
}

/** Runs `work` with the configured store (migrated on open) and closes the store afterwards. */
export async function withStorage<T>(
  config: ServerConfig,
  work: (storage: Storage) => Promise<T>,
  options: StorageSessionOptions = {},
): Promise<T> {
  if (options.readOnly === true) requireExistingDatabase(config);
  const opened = await openStorage(config);
  try {
    return await work(opened.storage);
  } finally {
    await opened.storage.close();
  }
}

function requireExistingDatabase(config: ServerConfig): void {
  const url = resolveDatabaseUrl(config);
  if (!url.startsWith('sqlite:')) return;
  // The path as the store reads it: `sqlite:///abs/path` and `sqlite:path` alike.
  const filename = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  if (filename === '' || existsSync(filename)) return;
  throw new CliError(
    `there is no SQLite database at ${filename}: check --database-url, --data-dir or the configuration, or create it with \`tessera migrate\``,
    exitCodes.usage,
    'no_database',
  );
}
