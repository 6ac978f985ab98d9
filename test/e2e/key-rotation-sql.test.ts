// The rotating key set on SQLite and PostgreSQL: two instances on one database act as one key set.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createKeySealer,
  createManualClock,
  createRotatingKeySet,
  generateKeyEncryptionKey,
  type RotatingKeySetOptions,
  type Storage,
} from '../../src/index.js';
import { createSqliteStore } from '../../src/storage/sqlite/index.js';
import { createPostgresStore } from '../../src/storage/postgres/index.js';
import {
  adminQuery,
  dropSchema,
  postgresUrl,
  probePostgres,
  randomSchemaName,
} from '../storage/postgres-test-database.js';

interface TestDatabase {
  /** Opens another store on the same database, as another instance would. */
  open(): Storage;
  /** The sealed private keys exactly as the database holds them. */
  rawSealedKeys(): Promise<string[]>;
  dispose(): Promise<void>;
}

const engines: Record<string, () => TestDatabase> = {
  SQLite: () => {
    const folder = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
    const filename = join(folder, 'tessera.db');
    const stores: Storage[] = [];
    return {
      open: () => {
        const store = createSqliteStore({ filename, changePollIntervalMs: 50 });
        stores.push(store);
        return store;
      },
      rawSealedKeys: () => {
        const db = new Database(filename, { readonly: true });
        try {
          const columns = (db.prepare('PRAGMA table_info(signing_keys)').all() as { name: string }[]).map(
            (c) => c.name,
          );
          const column = columns.find((name) => name.includes('sealed'))!;
          return Promise.resolve(
            (db.prepare(`SELECT ${column} AS sealed FROM signing_keys`).all() as { sealed: string }[]).map(
              (row) => row.sealed,
            ),
          );
        } finally {
          db.close();
        }
      },
      dispose: async () => {
        for (const store of stores) await store.close();
        rmSync(folder, { recursive: true, force: true });
      },
    };
  },
  PostgreSQL: () => {
    const schema = randomSchemaName();
    const stores: Storage[] = [];
    return {
      open: () => {
        const store = createPostgresStore({ connectionString: postgresUrl, schema, maxConnections: 3 });
        stores.push(store);
        return store;
      },
      rawSealedKeys: async () => {
        const { rows: columns } = await adminQuery<{ column_name: string }>(
          "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'signing_keys'",
          [schema],
        );
        const column = columns.map((row) => row.column_name).find((name) => name.includes('sealed'))!;
        const { rows } = await adminQuery<{ sealed: string }>(
          `SELECT ${column} AS sealed FROM "${schema}".signing_keys`,
        );
        return rows.map((row) => row.sealed);
      },
      dispose: async () => {
        for (const store of stores) await store.close();
        await dropSchema(schema);
      },
    };
  },
};

const postgresUnavailable = await probePostgres();

describe.each(Object.keys(engines))('rotating key set on %s', (engine) => {
  if (engine === 'PostgreSQL' && postgresUnavailable !== undefined) {
    // Reached only outside CI: with CI=true probePostgres throws instead, so the run fails loudly.
    it.skip(`needs PostgreSQL: ${postgresUnavailable}`, () => undefined);
    return;
  }
  let database: TestDatabase;
  afterEach(() => database?.dispose());

  const sealer = createKeySealer(generateKeyEncryptionKey());
  const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
  const options = (store: Storage): RotatingKeySetOptions => ({
    store,
    sealer,
    clock,
    algorithm: 'ES256',
    jwksMaxAge: 300,
    refreshInterval: 60,
    maxTokenLifetime: 600,
    rotationPeriod: Infinity,
  });

  it('two instances starting on an empty database create exactly one active and one next key', async () => {
    database = engines[engine]!();
    const [first, second] = await Promise.all([
      createRotatingKeySet(options(database.open())),
      createRotatingKeySet(options(database.open())),
    ]);
    const states = (await database.open().listSigningKeys()).map((key) => key.state).sort();
    expect(states).toEqual(['active', 'next']);
    expect((await first.getSigningKey()).kid).toBe((await second.getSigningKey()).kid);
    first.close();
    second.close();
  });

  it('two instances rotating at once leave exactly one active key, and both then sign with it', async () => {
    database = engines[engine]!();
    const first = await createRotatingKeySet(options(database.open()));
    const second = await createRotatingKeySet(options(database.open()));
    clock.advance(6 * 60_000);
    const results = await Promise.all([first.rotate(), second.rotate()]);
    expect(results.filter((result) => result.rotated)).toHaveLength(1);
    const stored = await database.open().listSigningKeys();
    expect(stored.filter((key) => key.state === 'active')).toHaveLength(1);
    expect(stored.filter((key) => key.state === 'next')).toHaveLength(1);
    expect(stored.filter((key) => key.state === 'retired')).toHaveLength(1);
    // Within the refresh interval at the latest, every instance signs with the one active key.
    clock.advance(60_000);
    const active = stored.find((key) => key.state === 'active')!.kid;
    expect((await first.getSigningKey()).kid).toBe(active);
    expect((await second.getSigningKey()).kid).toBe(active);
    expect((await first.getPublicJwks()).keys.map((key) => key.kid).sort()).toEqual(
      (await second.getPublicJwks()).keys.map((key) => key.kid).sort(),
    );
    first.close();
    second.close();
  });

  it('keeps the keys across a restart, with private keys stored only sealed', async () => {
    database = engines[engine]!();
    const store = database.open();
    const before = await createRotatingKeySet(options(store));
    const kid = (await before.getSigningKey()).kid;
    before.close();
    await store.close();
    const raw = await database.rawSealedKeys();
    expect(raw).toHaveLength(2);
    for (const sealed of raw) {
      expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      expect(sealed).not.toContain('PRIVATE KEY');
    }
    const after = await createRotatingKeySet(options(database.open()));
    expect((await after.getSigningKey()).kid).toBe(kid);
    after.close();
  });
});
