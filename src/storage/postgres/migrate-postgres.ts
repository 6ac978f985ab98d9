// The explicit migration call behind `tessera migrate` for PostgreSQL.

import pg from 'pg';
import type { MigrationReport, MigrationStep } from '../index.js';
import { applyPostgresMigrations } from './migrate.js';
import { checkSchemaName } from './sql-names.js';

/** Options for {@link migratePostgres}: a connection string or your pool, and the schema. */
export type MigratePostgresOptions = (
  | { readonly connectionString: string; readonly pool?: undefined }
  | { readonly pool: pg.Pool; readonly connectionString?: undefined }
) & {
  /** Default `public`. */
  readonly schema?: string;
  /** Told of each step as it is applied, e.g. to print a line per step. */
  readonly onStep?: (step: MigrationStep) => void;
  /**
   * Longest wait for another session's migration of the same schema to let go of its lock, after
   * which the call fails with {@link StorageUnavailableError}. Default 30000 ms.
   */
  readonly lockTimeoutMs?: number;
  /**
   * Longest wait for the answer to any one statement on the pool this call makes (not on your
   * pool), after which the call fails with {@link StorageUnavailableError}: a connection the
   * network silently dropped mid-migration must not hang it. Default 300000 ms, room for a long
   * step on a large table.
   */
  readonly queryTimeoutMs?: number;
};

/** Five minutes: a step may rewrite a large table, but a dead connection must not wait forever. */
const defaultMigrationQueryTimeoutMs = 300_000;

/**
 * Applies every pending migration under an advisory lock, so that instances starting at the same
 * time cannot race, and reports each step. `createPostgresStore` does the same on first use.
 *
 * @returns the version before and after, and each step this call applied
 * @throws {StorageSchemaTooNewError} when the schema was migrated by a newer Tessera
 * @throws {StorageUnavailableError} when the database cannot be reached
 * @example
 * await migratePostgres({ connectionString: process.env.DATABASE_URL!, onStep: (s) => console.log(`applied ${s.version} ${s.name}`) });
 */
export async function migratePostgres(options: MigratePostgresOptions): Promise<MigrationReport> {
  const schema = checkSchemaName(options.schema ?? 'public');
  if (options.lockTimeoutMs !== undefined && !(Number.isFinite(options.lockTimeoutMs) && options.lockTimeoutMs >= 0)) {
    throw new TypeError(`lockTimeoutMs must be a number of milliseconds, got ${String(options.lockTimeoutMs)}`);
  }
  const queryTimeoutMs = options.queryTimeoutMs ?? defaultMigrationQueryTimeoutMs;
  if (!(Number.isFinite(queryTimeoutMs) && queryTimeoutMs >= 1)) {
    throw new TypeError(`queryTimeoutMs must be a number of milliseconds of at least 1, got ${String(queryTimeoutMs)}`);
  }
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString,
      max: 1,
      connectionTimeoutMillis: 5000,
      query_timeout: queryTimeoutMs,
      keepAlive: true,
      application_name: 'tessera migrate',
    });
  const onError = (): void => undefined;
  pool.on('error', onError);
  try {
    return await applyPostgresMigrations(pool, schema, options.onStep, undefined, options.lockTimeoutMs);
  } finally {
    pool.off('error', onError);
    if (options.pool === undefined) await pool.end();
  }
}
