// Which schema migrations a database still needs; shared by the SQL stores, free of any driver.

import { StorageSchemaTooNewError, type MigrationStep } from './index.js';

/**
 * Picks the migrations not yet applied, in version order.
 *
 * @param known every migration this code has, each version once
 * @param appliedVersions the versions the database records as applied
 * @throws {StorageSchemaTooNewError} when the database has a version this code does not know
 */
export function planMigrations<M extends MigrationStep>(known: readonly M[], appliedVersions: Iterable<number>): M[] {
  const applied = new Set(appliedVersions);
  const knownVersion = Math.max(0, ...known.map((m) => m.version));
  const databaseVersion = Math.max(0, ...applied);
  if (databaseVersion > knownVersion) throw new StorageSchemaTooNewError(databaseVersion, knownVersion);
  return known.filter((m) => !applied.has(m.version)).sort((a, b) => a.version - b.version);
}

/** The schema version a database is at: its highest applied migration, or 0 when it has none. */
export function schemaVersion(appliedVersions: Iterable<number>): number {
  return Math.max(0, ...appliedVersions);
}
