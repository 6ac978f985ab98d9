// PostgreSQL for tests: where it is, whether it answers, and a schema of one's own that is dropped afterwards.

import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The test database: trust auth on this machine, database `test`. */
export const postgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Checks that PostgreSQL answers. Returns why not, or undefined when it does. With `CI=true` an
 * unreachable database throws, so the run fails instead of skipping.
 */
export async function probePostgres(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    const reason = `PostgreSQL at ${postgresUrl.replace(/\/\/[^@]*@/, '//')} is unreachable (${(error as Error).message || String(error)})`;
    if (process.env.CI === 'true') throw new Error(`${reason}; CI needs it`, { cause: error });
    console.warn(`${reason}; skipping its tests (CI=true makes this a failure)`);
    return `${reason}; skipped outside CI`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A random schema name for one test or run. */
export function randomSchemaName(): string {
  return `tessera_test_${randomBytes(6).toString('hex')}`;
}

/** The connection string with an application name, so a test can find (and terminate) its store's connections. */
export function urlWithApplicationName(applicationName: string): string {
  const url = new URL(postgresUrl);
  url.searchParams.set('application_name', applicationName);
  return url.toString();
}

/** Runs one statement on a short-lived connection. */
export async function adminQuery<R extends pg.QueryResultRow = Record<string, unknown>>(
  text: string,
  values?: unknown[],
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: postgresUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.query<R>(text, values);
  } finally {
    await client.end();
  }
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema.replaceAll('"', '""')}" CASCADE`);
}

/** Ends every backend connection opened under the application name, as a database restart would. */
export async function terminateConnections(applicationName: string): Promise<number> {
  const result = await adminQuery<{ terminated: boolean }>(
    'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
    [applicationName],
  );
  return result.rows.filter((row) => row.terminated).length;
}
