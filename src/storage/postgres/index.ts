// PostgreSQL storage: for more than one instance. A separate entry point, so only its users load pg.

export {
  createPostgresStore,
  type PostgresConnectionOptions,
  type PostgresStorage,
  type PostgresStoreOptions,
} from './postgres-store.js';
export { migratePostgres, type MigratePostgresOptions } from './migrate-postgres.js';
