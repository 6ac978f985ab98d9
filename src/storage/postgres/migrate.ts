// Applies the PostgreSQL schema migrations under an advisory lock, one transaction per step.

import type pg from 'pg';
import { StorageUnavailableError, type MigrationReport, type MigrationStep } from '../index.js';
import { planMigrations, schemaVersion } from '../migration-plan.js';
import { postgresMigrations, type PostgresMigration } from './migrations.js';
import { toStorageError } from './postgres-errors.js';
import { advisoryLockKey, quoteIdentifier } from './sql-names.js';

/** Longest wait for another session's migration lock, by default. */
export const defaultMigrationLockTimeoutMs = 30_000;

/**
 * Brings a schema up to date. A session-level advisory lock makes instances that start together
 * take turns: the first applies each step, the others then find nothing left to do. The lock is
 * waited for at most `lockTimeoutMs`: a session that holds it and never lets go (a stuck
 * migrator, or one whose host vanished without closing its connection) must not hang every
 * later start.
 *
 * @throws {StorageSchemaTooNewError} when the schema was migrated by a newer Tessera
 * @throws {StorageUnavailableError} when the database cannot be reached, or the lock stayed held
 */
export async function applyPostgresMigrations(
  pool: pg.Pool,
  schema: string,
  onStep?: (step: MigrationStep) => void,
  migrations: readonly PostgresMigration[] = postgresMigrations,
  lockTimeoutMs: number = defaultMigrationLockTimeoutMs,
): Promise<MigrationReport> {
  const s = quoteIdentifier(schema);
  const lockKey = advisoryLockKey(`tessera:migrate:${schema}`);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toStorageError(error);
  }
  let broken: unknown;
  const onError = (error: unknown): void => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await takeLock(client, lockKey, schema, lockTimeoutMs);
    try {
      // CREATE SCHEMA needs the CREATE privilege on the database even when the schema exists: a
      // role given only its own schema (least privilege) must not need it.
      const { rowCount: schemas } = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [
        schema,
      ]);
      if (!schemas) await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      // Likewise CREATE TABLE needs the CREATE privilege on the schema even when the table exists:
      // a role that may only read and write a schema migrated beforehand must not need it.
      const { rowCount: migrationTables } = await client.query(
        "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = 'schema_migrations'",
        [schema],
      );
      if (!migrationTables) {
        await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
      }
      const readVersions = async (): Promise<number[]> =>
        (await client.query<{ version: number }>(`SELECT version FROM ${s}.schema_migrations`)).rows.map(
          (row) => row.version,
        );
      const before = await readVersions();
      const applied: MigrationStep[] = [];
      for (const migration of planMigrations(migrations, before)) {
        await client.query('BEGIN');
        try {
          await client.query(migration.sql(s));
          await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [
            migration.version,
            migration.name,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
        const step = { version: migration.version, name: migration.name };
        applied.push(step);
        onStep?.(step);
      }
      return { fromVersion: schemaVersion(before), toVersion: schemaVersion(await readVersions()), applied };
    } finally {
      // A lost connection releases the lock by itself.
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [lockKey]).catch(() => undefined);
    }
  } catch (error) {
    broken ??= error;
    throw toStorageError(error);
  } finally {
    client.off('error', onError);
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/**
 * Takes the session advisory lock, trying again with short pauses while another session holds
 * it; each try is a statement that answers at once, so no wait is longer than `timeoutMs`.
 */
async function takeLock(client: pg.PoolClient, lockKey: string, schema: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let pause = 10; ; pause = Math.min(pause * 2, 250)) {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
      lockKey,
    ]);
    if (rows[0]?.locked === true) return;
    const left = deadline - performance.now();
    if (left <= 0) {
      throw new StorageUnavailableError(
        `another session has held the migration lock of schema "${schema}" for more than ${timeoutMs} ms; try again once its migration has finished`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
  }
}
