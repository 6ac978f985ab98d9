// The explicit migration call behind `tessera migrate` for a SQLite file.

import Database from 'better-sqlite3';
import { makeDirectory } from '../make-directory.js';
import { dirname } from 'node:path';
import type { MigrationReport, MigrationStep } from '../index.js';
import { applySqliteMigrations } from './migrate.js';
import { toStorageError } from './sqlite-errors.js';

/** Options for {@link migrateSqlite}. */
export interface MigrateSqliteOptions {
  readonly filename: string;
  /** Told of each step as it is applied, e.g. to print a line per step. */
  readonly onStep?: (step: MigrationStep) => void;
}

/**
 * Opens the file (creating it when new), applies every pending migration and closes it.
 * `createSqliteStore` does the same on open; this is for doing it on purpose, step by step.
 *
 * @returns the version before and after, and each step applied
 * @throws {StorageSchemaTooNewError} when the file was migrated by a newer Tessera
 * @example
 * const report = await migrateSqlite({ filename: './data/tessera.db', onStep: (s) => console.log(`applied ${s.version} ${s.name}`) });
 */
export function migrateSqlite(options: MigrateSqliteOptions): Promise<MigrationReport> {
  try {
    if (options.filename !== ':memory:' && !options.filename.startsWith('file:')) {
      makeDirectory(dirname(options.filename));
    }
    const db = new Database(options.filename);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      return Promise.resolve(applySqliteMigrations(db, options.onStep));
    } finally {
      db.close();
    }
  } catch (error) {
    return Promise.reject(toStorageError(error));
  }
}
