import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describeStorageContract } from '../../../test/support/storage-contract.js';
import {
  adminQuery,
  dropSchema,
  postgresUrl,
  probePostgres,
  randomSchemaName,
  terminateConnections,
  urlWithApplicationName,
} from '../../../test/storage/postgres-test-database.js';
import {
  StorageConflictError,
  StorageSchemaTooNewError,
  StorageUnavailableError,
  type StorageChange,
} from '../index.js';
import { createPostgresStore, migratePostgres, type PostgresStorage } from './index.js';
import { postgresMigrations } from './migrations.js';
import { advisoryLockKey, changeChannel } from './sql-names.js';

const unavailable = await probePostgres();
const tokenRecord = (signature: string) => ({
  signature,
  format: 'jwt' as const,
  clientId: 'client-a',
  subject: 'client-a',
  scopes: ['read'],
  audience: [],
  issuedAt: 0,
  expiresAt: 3600_000,
});
const latest = postgresMigrations.at(-1)!.version;
/** A key no PostgreSQL B-tree index can hold, so any statement writing it fails as a whole. */
const oversizedKey = randomBytes(3000).toString('base64url');

if (unavailable !== undefined) {
  // Reached only outside CI: with CI=true probePostgres throws instead, so the run fails loudly.
  describe.skip(`PostgreSQL store: ${unavailable}`, () => {
    it('needs PostgreSQL', () => undefined);
  });
} else {
  // One schema for the whole contract run, emptied between tests and dropped at the end.
  const contractSchema = randomSchemaName();
  afterAll(() => dropSchema(contractSchema));

  describeStorageContract('PostgreSQL', () => {
    const schema = contractSchema;
    const opened: PostgresStorage[] = [];
    const open = async (): Promise<PostgresStorage> => {
      const store = createPostgresStore({ connectionString: postgresUrl, schema, maxConnections: 4 });
      opened.push(store);
      await store.ping();
      return store;
    };
    return open().then((store) => ({
      store,
      openPeer: open,
      whenListening: (peer) => (peer as PostgresStorage).whenListening(),
      dispose: async () => {
        for (const each of opened) await each.close();
        await adminQuery(
          `TRUNCATE ${['clients', 'access_tokens', 'revoked_token_ids', 'signing_keys', 'hmac_secrets', 'replay_cache']
            .map((table) => `"${schema}".${table}`)
            .join(', ')} RESTART IDENTITY`,
        );
      },
    }));
  });

  describe('PostgreSQL store', () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    /** A store on a fresh schema, closed and dropped after the test. */
    const openStore = (schema = randomSchemaName(), applicationName?: string): PostgresStorage => {
      const store = createPostgresStore({
        connectionString: applicationName ? urlWithApplicationName(applicationName) : postgresUrl,
        schema,
        maxConnections: 3,
        listenReconnectMaxDelayMs: 200,
      });
      cleanups.push(async () => {
        await store.close();
        await dropSchema(schema);
      });
      return store;
    };

    it('migrates once when two instances start together on a new schema', async () => {
      const schema = randomSchemaName();
      const a = openStore(schema);
      const b = openStore(schema);
      const [reportA, reportB] = await Promise.all([a.migrate(), b.migrate()]);
      expect([reportA.applied.length, reportB.applied.length].sort()).toEqual([0, postgresMigrations.length]);
      const { rows } = await adminQuery<{ version: number }>(
        `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
      );
      expect(rows.map((row) => row.version)).toEqual(postgresMigrations.map((m) => m.version));
      await expect(Promise.all([a.ping(), b.ping()])).resolves.toBeDefined();
    });

    it('migrates on an explicit call, telling each step, and then finds nothing to do', async () => {
      const schema = randomSchemaName();
      cleanups.push(() => dropSchema(schema));
      const steps: unknown[] = [];
      const report = await migratePostgres({
        connectionString: postgresUrl,
        schema,
        onStep: (step) => steps.push(step),
      });
      expect(steps).toEqual(postgresMigrations.map(({ version, name }) => ({ version, name })));
      expect(report).toEqual({ fromVersion: 0, toVersion: latest, applied: steps });
      expect(await migratePostgres({ connectionString: postgresUrl, schema })).toEqual({
        fromVersion: latest,
        toVersion: latest,
        applied: [],
      });
    });

    it('gives up, as unavailable, waiting for a migration lock another session holds past lockTimeoutMs', async () => {
      const schema = randomSchemaName();
      cleanups.push(() => dropSchema(schema));
      const holder = new pg.Client({ connectionString: postgresUrl });
      await holder.connect();
      cleanups.push(() => holder.end());
      // Another migrator that never finishes (stuck, or its host gone without closing its session).
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [advisoryLockKey(`tessera:migrate:${schema}`)]);
      const started = performance.now();
      const waited = migratePostgres({ connectionString: postgresUrl, schema, lockTimeoutMs: 300 });
      await expect(waited).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(waited).rejects.toThrow(/migration lock/);
      expect(performance.now() - started).toBeLessThan(5000);
      // Once the lock is free, the same call migrates.
      await holder.query('SELECT pg_advisory_unlock_all()');
      expect((await migratePostgres({ connectionString: postgresUrl, schema, lockTimeoutMs: 300 })).toVersion).toBe(
        latest,
      );
    });

    it('migrates and serves as a role that owns its schema but may not create schemas in the database', async () => {
      // Least privilege, as managed databases often give: the schema is made for the role beforehand.
      const schema = randomSchemaName();
      const role = `${schema}_role`;
      await adminQuery(`CREATE ROLE "${role}" LOGIN`);
      cleanups.push(() => adminQuery(`DROP ROLE IF EXISTS "${role}"`).then(() => undefined));
      await adminQuery(`CREATE SCHEMA "${schema}" AUTHORIZATION "${role}"`);
      cleanups.push(() => dropSchema(schema));
      const { rows } = await adminQuery<{ allowed: boolean }>(
        "SELECT has_database_privilege($1, current_database(), 'CREATE') AS allowed",
        [role],
      );
      expect(rows[0]?.allowed).toBe(false);
      const url = new URL(postgresUrl);
      url.username = role;
      url.password = '';

      const report = await migratePostgres({ connectionString: url.toString(), schema });
      expect(report.toVersion).toBe(latest);
      const store = createPostgresStore({ connectionString: url.toString(), schema, maxConnections: 2 });
      cleanups.push(() => store.close());
      await store.createClient({ id: 'least-privilege', grantTypes: [], scopes: [], audience: [] });
      expect(await store.getClient('least-privilege')).toBeDefined();
    });

    it('serves as a role that may only read and write the tables of a schema migrated beforehand', async () => {
      // A migration role runs `tessera migrate`; the server runs as a role without DDL rights.
      const schema = randomSchemaName();
      const role = `${schema}_dml`;
      await migratePostgres({ connectionString: postgresUrl, schema });
      cleanups.push(() => dropSchema(schema));
      await adminQuery(`CREATE ROLE "${role}" LOGIN`);
      cleanups.push(async () => {
        await adminQuery(`DROP OWNED BY "${role}"`);
        await adminQuery(`DROP ROLE IF EXISTS "${role}"`);
      });
      await adminQuery(`GRANT USAGE ON SCHEMA "${schema}" TO "${role}"`);
      await adminQuery(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO "${role}"`);
      const url = new URL(postgresUrl);
      url.username = role;
      url.password = '';

      expect(await migratePostgres({ connectionString: url.toString(), schema })).toEqual({
        fromVersion: latest,
        toVersion: latest,
        applied: [],
      });
      const store = createPostgresStore({ connectionString: url.toString(), schema, maxConnections: 2 });
      cleanups.push(() => store.close());
      await store.ping();
      await store.createClient({ id: 'dml-only', grantTypes: [], scopes: [], audience: [] });
      expect(await store.getClient('dml-only')).toBeDefined();
    });

    it('keeps every table in its own schema', async () => {
      const schema = randomSchemaName();
      await openStore(schema).ping();
      const { rows } = await adminQuery<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [schema],
      );
      expect(rows.map((row) => row.table_name)).toEqual([
        'access_tokens',
        'clients',
        'hmac_secrets',
        'replay_cache',
        'revoked_token_ids',
        'schema_migrations',
        'signing_keys',
      ]);
    });

    it('refuses a schema newer than it knows, naming both versions', async () => {
      const schema = randomSchemaName();
      const store = openStore(schema);
      await store.ping();
      await adminQuery(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES (99, 'from the future')`);
      const newer = openStore(schema);
      await expect(newer.ping()).rejects.toBeInstanceOf(StorageSchemaTooNewError);
      await expect(newer.getClient('x')).rejects.toThrow(
        `version 99, but this version of Tessera knows versions up to ${latest}`,
      );
      await expect(migratePostgres({ connectionString: postgresUrl, schema })).rejects.toBeInstanceOf(
        StorageSchemaTooNewError,
      );
    });

    it('answers StorageUnavailableError when nothing listens at the address, and does not crash', async () => {
      const store = createPostgresStore({
        connectionString: 'postgres://postgres@127.0.0.1:1/test',
        connectionTimeoutMs: 2000,
      });
      cleanups.push(() => store.close());
      await expect(store.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(store.getClient('x')).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(store.transaction(() => Promise.resolve())).rejects.toBeInstanceOf(StorageUnavailableError);
    });

    it('serves again after its backend connections were terminated, with no restart', async () => {
      const applicationName = `tessera_term_${randomSchemaName().slice(-12)}`;
      const store = openStore(randomSchemaName(), applicationName);
      await store.createClient({ id: 'survivor', grantTypes: [], scopes: [], audience: [] });
      // Hold some connections open so that idle pool connections are terminated too.
      await Promise.all([store.getClient('survivor'), store.getClient('survivor'), store.listClients()]);
      expect(await terminateConnections(applicationName)).toBeGreaterThan(0);

      const failures: unknown[] = [];
      await vi.waitFor(
        async () => {
          try {
            expect(await store.getClient('survivor')).toBeDefined();
          } catch (error) {
            failures.push(error);
            throw error;
          }
        },
        { timeout: 10_000, interval: 20 },
      );
      for (const failure of failures) expect(failure).toBeInstanceOf(StorageUnavailableError);
      await store.transaction(async (tx) => {
        await tx.updateClient({ id: 'survivor', grantTypes: [], scopes: ['after'], audience: [] });
      });
      expect((await store.getClient('survivor'))?.scopes).toEqual(['after']);
    });

    it('answers a read at once after its pooled connections were terminated, trying it again on a fresh connection', async () => {
      const applicationName = `tessera_read_${randomSchemaName().slice(-12)}`;
      const store = openStore(randomSchemaName(), applicationName);
      await store.createClient({ id: 'reader', grantTypes: [], scopes: [], audience: [] });
      await store.getClient('reader');
      expect(await terminateConnections(applicationName)).toBeGreaterThan(0);
      expect(await store.getClient('reader')).toBeDefined();
    });

    it('signals that anything may have changed when its notification connection comes back, then hears changes again', async () => {
      const schema = randomSchemaName();
      const applicationName = `tessera_listen_${randomSchemaName().slice(-12)}`;
      const listening = openStore(schema, applicationName);
      const writer = openStore(schema);
      await writer.ping();
      const seen: StorageChange[] = [];
      listening.subscribeToChanges((change) => seen.push(change));
      await listening.whenListening();

      expect(await terminateConnections(applicationName)).toBeGreaterThan(0);
      await vi.waitFor(() => expect(seen).toContainEqual({ kind: 'all' }), { timeout: 10_000, interval: 20 });
      await listening.whenListening();

      await writer.createClient({ id: 'after-reconnect', grantTypes: [], scopes: [], audience: [] });
      await vi.waitFor(() => expect(seen).toContainEqual({ kind: 'client', clientId: 'after-reconnect' }), {
        timeout: 10_000,
        interval: 20,
      });
    });

    it('tells { kind: all } for a notification of a kind it does not know, without its key or unreadable, as SQLite does', async () => {
      const schema = randomSchemaName();
      const store = openStore(schema);
      await store.ping();
      const seen: StorageChange[] = [];
      store.subscribeToChanges((change) => seen.push(change));
      await store.whenListening();
      // What a newer instance on the same schema, or a damaged payload, could send.
      for (const change of [
        { kind: 'client-secret', clientId: 'a' },
        { kind: 'client' },
        { kind: 'client', clientId: 7 },
        { kind: 'access-token' },
        { kind: 'client', clientId: 'known' },
      ]) {
        await adminQuery('SELECT pg_notify($1, $2)', [
          changeChannel(schema),
          JSON.stringify({ o: 'other', c: change }),
        ]);
      }
      await adminQuery('SELECT pg_notify($1, $2)', [changeChannel(schema), 'not json']);
      await vi.waitFor(() => expect(seen).toHaveLength(6), { timeout: 10_000, interval: 20 });
      expect(seen).toEqual([
        { kind: 'all' },
        { kind: 'all' },
        { kind: 'all' },
        { kind: 'all' },
        { kind: 'client', clientId: 'known' },
        { kind: 'all' },
      ]);
    });

    it('does not tell its own subscribers a change twice', async () => {
      const schema = randomSchemaName();
      const store = openStore(schema);
      const peer = openStore(schema);
      const seenHere: StorageChange[] = [];
      const seenThere: StorageChange[] = [];
      store.subscribeToChanges((change) => seenHere.push(change));
      peer.subscribeToChanges((change) => seenThere.push(change));
      await Promise.all([store.whenListening(), peer.whenListening()]);
      await store.createClient({ id: 'once', grantTypes: [], scopes: [], audience: [] });
      await vi.waitFor(() => expect(seenThere).toEqual([{ kind: 'client', clientId: 'once' }]), {
        timeout: 10_000,
        interval: 20,
      });
      expect(seenHere).toEqual([{ kind: 'client', clientId: 'once' }]);
    });

    it.each([1, 0, 2.5])(
      'refuses a pool of %s connections, which leaves none for queries beside notifications',
      (maxConnections) => {
        expect(() => createPostgresStore({ connectionString: postgresUrl, maxConnections })).toThrow(TypeError);
      },
    );

    it.each(['', 'x'.repeat(64)])('refuses the schema name %j, which PostgreSQL would not keep as given', (schema) => {
      expect(() => createPostgresStore({ connectionString: postgresUrl, schema })).toThrow(TypeError);
    });

    it('answers each record of a batch on its own when one row fails the whole statement', async () => {
      const store = openStore();
      // A primary-key entry over PostgreSQL's B-tree limit (about 2,700 bytes, random so it does
      // not compress) fails the multi-row INSERT it is part of. (Bad times and text with U+0000
      // no longer would: the store refuses them before any statement.)
      const calls = [
        ...Array.from({ length: 5 }, (_, i) => store.createAccessTokenRecord(tokenRecord(`good-${i}`))),
        store.createAccessTokenRecord(tokenRecord(oversizedKey)),
        store.createAccessTokenRecord(tokenRecord('good-0')),
        ...Array.from({ length: 5 }, (_, i) => store.createAccessTokenRecord(tokenRecord(`good-${i + 5}`))),
      ];
      const outcomes = await Promise.allSettled(calls);
      expect(outcomes[5]).toMatchObject({ status: 'rejected' });
      expect(outcomes[6]).toMatchObject({ status: 'rejected', reason: expect.any(StorageConflictError) });
      expect([...outcomes.slice(0, 5), ...outcomes.slice(7)].every((outcome) => outcome.status === 'fulfilled')).toBe(
        true,
      );
      for (let i = 0; i < 10; i++) expect(await store.getAccessTokenRecord(`good-${i}`)).toBeDefined();
      expect(await store.getAccessTokenRecord(oversizedKey)).toBeUndefined();
    });

    it('writes the good records of a batch that one row fails even when the store is closed meanwhile', async () => {
      const schema = randomSchemaName();
      const store = openStore(schema);
      await store.ping();
      const calls = [
        ...Array.from({ length: 4 }, (_, i) => store.createAccessTokenRecord(tokenRecord(`closing-good-${i}`))),
        store.createAccessTokenRecord(tokenRecord(oversizedKey)),
      ];
      // Watched before close() waits on them, so the refused one is never an unhandled rejection.
      const settled = Promise.allSettled(calls);
      await store.close();
      const outcomes = await settled;
      expect(outcomes.slice(0, 4).map((outcome) => outcome.status)).toStrictEqual(Array(4).fill('fulfilled'));
      expect(outcomes[4]).toMatchObject({ status: 'rejected' });
      const { rows } = await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".access_tokens`);
      expect(Number(rows[0]!.n)).toBe(4);
    });

    it('gathers the records that arrive while a batch is on its way into one next statement', async () => {
      const schema = randomSchemaName();
      const applicationName = `tessera-gather-${schema}`;
      const store = openStore(schema, applicationName);
      await store.ping();
      // Another session holds the table, so the first batch's INSERT waits on the server.
      const holder = new pg.Client({ connectionString: postgresUrl });
      holder.on('error', () => undefined);
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query(`LOCK TABLE "${schema}".access_tokens IN ACCESS EXCLUSIVE MODE`);
        const waitingInserts = async () =>
          Number(
            (
              await adminQuery<{ n: string }>(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'INSERT%' AND wait_event_type = 'Lock'",
                [applicationName],
              )
            ).rows[0]!.n,
          );
        const first = store.createAccessTokenRecord(tokenRecord('gathered-1'));
        await vi.waitFor(async () => expect(await waitingInserts()).toBe(1), { timeout: 10_000, interval: 20 });
        const later = [2, 3].map((n) => store.createAccessTokenRecord(tokenRecord(`gathered-${n}`)));
        for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setTimeout(resolve, 5));
        // The later records wait for the first statement instead of queueing statements of their own.
        expect(await waitingInserts()).toBe(1);
        await holder.query('COMMIT');
        await Promise.all([first, ...later]);
        for (const n of [1, 2, 3]) expect(await store.getAccessTokenRecord(`gathered-${n}`)).toBeDefined();
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
      }
    });

    it('writes token records already accepted when the store is closed, before closing', async () => {
      const schema = randomSchemaName();
      const store = openStore(schema);
      await store.ping();
      const accepted = Array.from({ length: 10 }, (_, i) => store.createAccessTokenRecord(tokenRecord(`closing-${i}`)));
      await store.close();
      await Promise.all(accepted);
      const { rows } = await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".access_tokens`);
      expect(Number(rows[0]!.n)).toBe(10);
    });

    it('works on a pool it was given and leaves that pool open on close', async () => {
      const schema = randomSchemaName();
      const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
      const store = createPostgresStore({ pool, schema });
      await store.createClient({ id: 'pooled', grantTypes: [], scopes: [], audience: [] });
      await store.close();
      const { rows } = await pool.query<{ id: string }>(`SELECT id FROM "${schema}".clients`);
      expect(rows).toEqual([{ id: 'pooled' }]);
      await pool.end();
      await dropSchema(schema);
    });
  });
}
