// Applies the SQLite schema migrations, one IMMEDIATE transaction per step.

import type Database from 'better-sqlite3';
import type { MigrationReport, MigrationStep } from '../index.js';
import { planMigrations, schemaVersion } from '../migration-plan.js';
import { sqliteMigrations, type SqliteMigration } from './migrations.js';

/**
 * Brings the schema of an open database up to date. Each step runs in its own `BEGIN IMMEDIATE`
 * transaction that re-reads the applied versions first, so two processes opening the same new file
 * apply every step once.
 *
 * @throws {StorageSchemaTooNewError} when the file was migrated by a newer Tessera
 */
export function applySqliteMigrations(
  db: Database.Database,
  onStep?: (step: MigrationStep) => void,
  migrations: readonly SqliteMigration[] = sqliteMigrations,
): MigrationReport {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
  ) STRICT`);
  const readVersions = db.prepare<[], number>('SELECT version FROM schema_migrations').pluck();
  const record = db.prepare<[number, string]>('INSERT INTO schema_migrations (version, name) VALUES (?, ?)');

  const fromVersion = schemaVersion(readVersions.all());
  const applied: MigrationStep[] = [];
  for (;;) {
    const step = db
      .transaction(() => {
        const next = planMigrations(migrations, readVersions.all())[0];
        if (next === undefined) return undefined;
        db.exec(next.sql);
        record.run(next.version, next.name);
        return { version: next.version, name: next.name };
      })
      .immediate();
    if (step === undefined) break;
    applied.push(step);
    onStep?.(step);
  }
  return { fromVersion, toVersion: schemaVersion(readVersions.all()), applied };
}
