// SQLite storage: the embedded default. A separate entry point, so only its users load better-sqlite3.

export { createSqliteStore, type SqliteStorage, type SqliteStoreOptions } from './sqlite-store.js';
export { migrateSqlite, type MigrateSqliteOptions } from './migrate-sqlite.js';
