import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { describeStorageContract } from '../../../test/support/storage-contract.js';
import {
  StorageConflictError,
  StorageSchemaTooNewError,
  StorageUnavailableError,
  type Storage,
  type StorageChange,
} from '../index.js';
import { createSqliteStore, migrateSqlite } from './index.js';
import { sqliteMigrations } from './migrations.js';

const folder = mkdtempSync(join(tmpdir(), 'tessera-sqlite-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
let files = 0;
const newFile = () => join(folder, `store-${++files}.db`);
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

describeStorageContract('SQLite', () => {
  const filename = newFile();
  const opened: Storage[] = [createSqliteStore({ filename, changePollIntervalMs: 10 })];
  return Promise.resolve({
    store: opened[0]!,
    openPeer: () => {
      const peer = createSqliteStore({ filename, changePollIntervalMs: 10 });
      opened.push(peer);
      return Promise.resolve(peer);
    },
    dispose: async () => {
      for (const store of opened) await store.close();
    },
  });
});

describe('SQLite store', () => {
  const open: Storage[] = [];
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });

  it('reports a new database as migrated from version 0, and an existing one as up to date', async () => {
    const filename = newFile();
    const first = createSqliteStore({ filename });
    open.push(first);
    expect(first.migration).toEqual({
      fromVersion: 0,
      toVersion: sqliteMigrations.at(-1)!.version,
      applied: sqliteMigrations.map(({ version, name }) => ({ version, name })),
    });
    await first.close();
    const again = createSqliteStore({ filename });
    open.push(again);
    const latest = sqliteMigrations.at(-1)!.version;
    expect(again.migration).toEqual({ fromVersion: latest, toVersion: latest, applied: [] });
  });

  it('migrates on an explicit call, telling each step once', async () => {
    const filename = newFile();
    const steps: unknown[] = [];
    const report = await migrateSqlite({ filename, onStep: (step) => steps.push(step) });
    const latest = sqliteMigrations.at(-1)!.version;
    expect(steps).toEqual(sqliteMigrations.map(({ version, name }) => ({ version, name })));
    expect(report).toMatchObject({ fromVersion: 0, toVersion: latest });
    expect(await migrateSqlite({ filename })).toEqual({ fromVersion: latest, toVersion: latest, applied: [] });
  });

  it('refuses a database whose schema is newer than it knows, naming both versions', async () => {
    const filename = newFile();
    await migrateSqlite({ filename });
    const raw = new Database(filename);
    raw.prepare("INSERT INTO schema_migrations (version, name) VALUES (99, 'from the future')").run();
    raw.close();
    expect(() => createSqliteStore({ filename })).toThrow(StorageSchemaTooNewError);
    expect(() => createSqliteStore({ filename })).toThrow(
      new RegExp(`version 99.*up to ${sqliteMigrations.at(-1)!.version}`),
    );
    await expect(migrateSqlite({ filename })).rejects.toBeInstanceOf(StorageSchemaTooNewError);
  });

  it('keeps everything across a reopen', async () => {
    const filename = newFile();
    const first = createSqliteStore({ filename });
    await first.createClient({ id: 'kept', grantTypes: ['client_credentials'], scopes: ['a'], audience: [] });
    await first.createSigningKey({
      kid: 'k',
      alg: 'ES256',
      state: 'active',
      publicJwk: { kty: 'EC' },
      sealedPrivateKey: 'sealed',
      createdAt: 1,
    });
    await first.close();
    const second = createSqliteStore({ filename });
    open.push(second);
    expect(await second.getClient('kept')).toEqual({
      id: 'kept',
      grantTypes: ['client_credentials'],
      scopes: ['a'],
      audience: [],
    });
    expect(await second.listSigningKeys()).toHaveLength(1);
  });

  it('opens the file in WAL mode', () => {
    const filename = newFile();
    open.push(createSqliteStore({ filename }));
    const raw = new Database(filename, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });

  it('creates the folder of a new file', async () => {
    const filename = join(folder, 'nested', 'deeper', 'tessera.db');
    const store = createSqliteStore({ filename });
    open.push(store);
    await expect(store.ping()).resolves.toBeUndefined();
  });

  describe('change log shared by the processes on one file', () => {
    const client = (id: string, scopes: string[] = []) => ({
      id,
      grantTypes: ['client_credentials'],
      scopes,
      audience: [],
    });
    const signingKey = (kid: string) => ({
      kid,
      alg: 'ES256' as const,
      state: 'active' as const,
      publicJwk: { kty: 'EC' },
      sealedPrivateKey: 'sealed',
      createdAt: 1,
    });
    /** Two stores on one new file, as two workers would hold it; the second one listens. */
    const openPair = (options: { changeLogRetention?: number } = {}) => {
      const filename = newFile();
      const writer = createSqliteStore({ filename, changePollIntervalMs: 5, ...options });
      const listener = createSqliteStore({ filename, changePollIntervalMs: 5, ...options });
      open.push(writer, listener);
      const heard: StorageChange[] = [];
      listener.subscribeToChanges((change) => heard.push(change));
      return { filename, writer, listener, heard };
    };
    const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 5000, interval: 10 });

    it('tells another process exactly which client, key set, HMAC secret or token changed, in order', async () => {
      const { writer, heard } = openPair();
      await writer.createAccessTokenRecord(tokenRecord('sig-deleted'));
      await writer.createClient(client('c1'));
      await writer.updateClient(client('c1', ['read']));
      await writer.revokeTokenId('jti-1', 3600_000);
      await writer.deleteAccessTokenRecord('sig-deleted');
      await writer.createSigningKey(signingKey('k1'));
      await writer.createHmacSecret({ id: 'h1', sealedSecret: 'sealed', createdAt: 1 });
      await writer.deleteClient('c1');
      await waitFor(() =>
        expect(heard).toEqual([
          { kind: 'client', clientId: 'c1' },
          { kind: 'client', clientId: 'c1' },
          { kind: 'access-token', signature: 'jti-1' },
          { kind: 'access-token', signature: 'sig-deleted' },
          { kind: 'signing-keys' },
          { kind: 'hmac-secrets' },
          { kind: 'client', clientId: 'c1' },
        ]),
      );
    });

    it("does not make another process drop its caches for the token records a process writes (the workers' hot path)", async () => {
      const { writer, heard } = openPair();
      await Promise.all(Array.from({ length: 50 }, (_, i) => writer.createAccessTokenRecord(tokenRecord(`sig-${i}`))));
      await writer.createClient(client('after-the-tokens'));
      await waitFor(() => expect(heard).toEqual([{ kind: 'client', clientId: 'after-the-tokens' }]));
    });

    it('tells its own subscribers each of its changes once, not again when it reads the log for another process', async () => {
      const { writer, listener, heard } = openPair();
      const heardByWriter: StorageChange[] = [];
      writer.subscribeToChanges((change) => heardByWriter.push(change));
      await writer.createClient(client('from-writer'));
      await listener.createAccessTokenRecord(tokenRecord('moves-the-data-version'));
      await listener.createClient(client('from-listener'));
      await waitFor(() =>
        expect(heardByWriter).toEqual([
          { kind: 'client', clientId: 'from-writer' },
          { kind: 'client', clientId: 'from-listener' },
        ]),
      );
      // The listener tells its own change at once and the writer's at its next check: either may come first.
      await waitFor(() =>
        expect([...heard].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual([
          { kind: 'client', clientId: 'from-listener' },
          { kind: 'client', clientId: 'from-writer' },
        ]),
      );
    });

    it("logs a transaction's changes only when it commits, and a refused write not at all", async () => {
      const { writer, heard, filename } = openPair();
      await writer.createClient(client('exists'));
      await expect(writer.createClient(client('exists'))).rejects.toThrow(/already exists/);
      await expect(
        writer.transaction(async (tx) => {
          await tx.createClient(client('rolled-back'));
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      await writer.transaction(async (tx) => {
        await tx.createClient(client('committed'));
        await tx
          .transaction(async (inner) => {
            await inner.createSigningKey(signingKey('savepoint-rolled-back'));
            throw new Error('not this part');
          })
          .catch(() => undefined);
      });
      await waitFor(() =>
        expect(heard).toEqual([
          { kind: 'client', clientId: 'exists' },
          { kind: 'client', clientId: 'committed' },
        ]),
      );
      const raw = new Database(filename, { readonly: true });
      expect(raw.prepare('SELECT kind, key FROM change_log ORDER BY seq').all()).toEqual([
        { kind: 'client', key: 'exists' },
        { kind: 'client', key: 'committed' },
      ]);
      raw.close();
    });

    it('keeps only the newest rows up to the retention', async () => {
      const { writer, filename } = openPair({ changeLogRetention: 3 });
      for (let i = 0; i < 10; i++) await writer.createClient(client(`c${i}`));
      const raw = new Database(filename, { readonly: true });
      expect(raw.prepare('SELECT key FROM change_log ORDER BY seq').pluck().all()).toEqual(['c7', 'c8', 'c9']);
      raw.close();
    });

    it('tells { kind: "all" } when rows it had not read yet were pruned, then exact changes again', async () => {
      const { writer, heard } = openPair({ changeLogRetention: 2 });
      // Written within one turn of the event loop, before the listener's next check.
      const writes = [
        writer.createClient(client('p1')),
        writer.createClient(client('p2')),
        writer.createClient(client('p3')),
      ];
      await Promise.all(writes);
      await waitFor(() => expect(heard).toEqual([{ kind: 'all' }]));
      await writer.createClient(client('p4'));
      await waitFor(() => expect(heard).toEqual([{ kind: 'all' }, { kind: 'client', clientId: 'p4' }]));
    });

    it('tells { kind: "all" } for a logged change of a kind it does not know (written by a newer version)', async () => {
      const { filename, heard } = openPair();
      const raw = new Database(filename);
      raw.prepare("INSERT INTO change_log (writer, kind, key) VALUES ('newer', 'refresh-token', 'x')").run();
      raw.close();
      await waitFor(() => expect(heard).toEqual([{ kind: 'all' }]));
    });

    it('tells { kind: "all" } instead of replaying more than a thousand unread changes one by one', async () => {
      const { filename, heard } = openPair();
      const raw = new Database(filename);
      const log = raw.prepare("INSERT INTO change_log (writer, kind, key) VALUES ('other', 'client', ?)");
      raw.transaction(() => {
        for (let i = 0; i < 1001; i++) log.run(`bulk-${i}`);
      })();
      raw.close();
      await waitFor(() => expect(heard).toEqual([{ kind: 'all' }]));
    });

    it('tells { kind: "all" } when the log went back (the file was replaced), then exact changes again', async () => {
      const { filename, writer, heard } = openPair();
      await writer.createClient(client('before'));
      await writer.createClient(client('before-2'));
      await waitFor(() => expect(heard).toHaveLength(2));
      const raw = new Database(filename);
      raw.exec("DELETE FROM change_log; UPDATE sqlite_sequence SET seq = 0 WHERE name = 'change_log'");
      raw.prepare("INSERT INTO change_log (writer, kind, key) VALUES ('other', 'client', 'after')").run();
      raw.close();
      await waitFor(() => expect(heard.slice(2)).toEqual([{ kind: 'all' }]));
      await writer.createClient(client('next'));
      await waitFor(() => expect(heard.slice(2)).toEqual([{ kind: 'all' }, { kind: 'client', clientId: 'next' }]));
    });

    it('does not tell an edit made by hand with SQL, which writes no log row', async () => {
      const { filename, writer, heard } = openPair();
      const raw = new Database(filename);
      raw.prepare("INSERT INTO revoked_token_ids (jti, expires_at) VALUES ('by-hand', 1)").run();
      raw.close();
      await writer.createClient(client('logged'));
      await waitFor(() => expect(heard).toEqual([{ kind: 'client', clientId: 'logged' }]));
      expect(await writer.isTokenIdRevoked('by-hand')).toBe(true);
    });
  });

  it('refuses a call to the outer store from inside its own transaction instead of waiting forever', async () => {
    const store = createSqliteStore({ filename: newFile() });
    open.push(store);
    await expect(store.transaction(() => store.getClient('x'))).rejects.toThrow(
      /use the store passed to the work function/,
    );
    await expect(store.getClient('x')).resolves.toBeUndefined();
  });

  it('waits for a write lock another connection holds, without blocking, and then writes', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename });
    open.push(store);
    const other = new Database(filename);
    other.exec('BEGIN IMMEDIATE');
    const write = store.revokeTokenId('waited', 10);
    let settled = false;
    void write.finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    other.exec('COMMIT');
    other.close();
    await write;
    expect(await store.isTokenIdRevoked('waited')).toBe(true);
  });

  it('answers StorageUnavailableError when another connection holds the write lock past the timeout', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename, busyTimeoutMs: 30 });
    open.push(store);
    const other = new Database(filename);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(
        store.createClient({ id: 'blocked', grantTypes: [], scopes: [], audience: [] }),
      ).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(store.transaction(() => Promise.resolve())).rejects.toBeInstanceOf(StorageUnavailableError);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await expect(
      store.createClient({ id: 'blocked', grantTypes: [], scopes: [], audience: [] }),
    ).resolves.toBeUndefined();
  });

  it("gives up on each of many writes queued behind another connection's lock within its own timeout, not one after another", async () => {
    const filename = newFile();
    const busyTimeoutMs = 300;
    const store = createSqliteStore({ filename, busyTimeoutMs });
    open.push(store);
    const other = new Database(filename);
    other.exec('BEGIN IMMEDIATE');
    // Released after about three timeouts: waits that added up would reach it from the third write on.
    const released = new Promise<void>((resolve) =>
      setTimeout(() => {
        other.exec('ROLLBACK');
        other.close();
        resolve();
      }, 3 * busyTimeoutMs),
    );
    const writes = [
      ...Array.from({ length: 4 }, (_, i) => store.revokeTokenId(`queued-${i}`, 10)),
      store.createAccessTokenRecord(tokenRecord('queued-record')),
      store.transaction((tx) => tx.revokeTokenId('queued-in-tx', 10)),
    ];
    const outcomes = await Promise.allSettled(writes);
    await released;
    for (const outcome of outcomes)
      expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(StorageUnavailableError) });
    expect(await store.getAccessTokenRecord('queued-record')).toBeUndefined();
  });

  it('refuses a token record created on the outer store from inside its own transaction instead of waiting forever', async () => {
    const store = createSqliteStore({ filename: newFile() });
    open.push(store);
    await expect(store.transaction(() => store.createAccessTokenRecord(tokenRecord('misplaced')))).rejects.toThrow(
      /use the store passed to the work function/,
    );
    expect(await store.getAccessTokenRecord('misplaced')).toBeUndefined();
  });

  it('writes a batch of token records waiting behind a transaction once it commits', async () => {
    const store = createSqliteStore({ filename: newFile() });
    open.push(store);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    const running = store.transaction(async (tx) => {
      await tx.createAccessTokenRecord(tokenRecord('in-tx'));
      inside();
      await held;
    });
    await entered;
    const waiting = Array.from({ length: 10 }, (_, i) => store.createAccessTokenRecord(tokenRecord(`after-${i}`)));
    release();
    await running;
    await Promise.all(waiting);
    for (const signature of ['in-tx', ...Array.from({ length: 10 }, (_, i) => `after-${i}`)]) {
      expect(await store.getAccessTokenRecord(signature)).toBeDefined();
    }
  });

  it('rejects every token record of a batch with StorageUnavailableError when another connection holds the write lock past the timeout, keeping none', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename, busyTimeoutMs: 30 });
    open.push(store);
    const other = new Database(filename);
    other.exec('BEGIN IMMEDIATE');
    let outcomes: PromiseSettledResult<void>[];
    try {
      outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => store.createAccessTokenRecord(tokenRecord(`blocked-${i}`))),
      );
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    for (const outcome of outcomes)
      expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(StorageUnavailableError) });
    for (let i = 0; i < 10; i++) expect(await store.getAccessTokenRecord(`blocked-${i}`)).toBeUndefined();
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.createAccessTokenRecord(tokenRecord(`blocked-${i}`))));
    expect(await store.getAccessTokenRecord('blocked-9')).toBeDefined();
  });

  it('writes token records already accepted when the store is closed, before closing', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename });
    const accepted = Array.from({ length: 10 }, (_, i) => store.createAccessTokenRecord(tokenRecord(`closing-${i}`)));
    await store.close();
    await Promise.all(accepted);
    const reopened = createSqliteStore({ filename });
    open.push(reopened);
    for (let i = 0; i < 10; i++) expect(await reopened.getAccessTokenRecord(`closing-${i}`)).toBeDefined();
  });

  // SQLite applies a `PRAGMA synchronous` statement when it is prepared: the store's prepared
  // switches once left a `normal` store syncing every commit on the event loop.
  it.each(['full', 'normal'] as const)('keeps the connection at synchronous=%s between writes', async (synchronous) => {
    const store = createSqliteStore({ filename: newFile(), synchronous });
    open.push(store);
    expect(store.synchronous).toBe(synchronous);
    await Promise.all([1, 2, 3].map((n) => store.createAccessTokenRecord(tokenRecord(`level-${n}`))));
    await store.createAccessTokenRecord(tokenRecord('level-4'));
    expect(store.synchronous).toBe(synchronous);
  });

  it.each([
    ['full', 'only after syncing the write-ahead log to disk, off the event loop', true],
    ['normal', 'at commit, without syncing the write-ahead log', false],
  ] as const)('with synchronous=%s acknowledges a token record %s', (synchronous, _how, syncs) =>
    withHeldSyncs(synchronous, async (store, synced, letSync) => {
      let acknowledged = false;
      const created = store.createAccessTokenRecord(tokenRecord('durable-1')).then(() => (acknowledged = true));
      // Either the record is acknowledged or its sync has begun (and is being held).
      await waitFor(() => acknowledged || synced.mock.calls.length > 0);
      await settle();
      // Committed either way: a reader sees it.
      expect(await store.getAccessTokenRecord('durable-1')).toBeDefined();
      expect(acknowledged).toBe(!syncs);
      expect(synced.mock.calls.length > 0).toBe(syncs);
      letSync();
      await created;
      expect(acknowledged).toBe(true);
    }),
  );

  it('gathers the records that arrive while a batch is being synced into the next batch', () =>
    withHeldSyncs('full', async (store, synced, letSync) => {
      const first = store.createAccessTokenRecord(tokenRecord('gathered-1'));
      await waitFor(() => synced.mock.calls.length > 0);
      const later = [2, 3].map((n) => store.createAccessTokenRecord(tokenRecord(`gathered-${n}`)));
      await settle();
      // The first batch is committed and syncing; the others wait for it instead of committing alone.
      expect(await store.getAccessTokenRecord('gathered-1')).toBeDefined();
      expect(await store.getAccessTokenRecord('gathered-2')).toBeUndefined();
      letSync();
      await Promise.all([first, ...later]);
      for (const n of [2, 3]) expect(await store.getAccessTokenRecord(`gathered-${n}`)).toBeDefined();
    }));

  /** A fresh store whose WAL syncs are held until `letSync` is called; restored afterwards. */
  async function withHeldSyncs(
    synchronous: 'full' | 'normal',
    work: (
      store: Storage,
      synced: Awaited<ReturnType<typeof holdFileSyncs>>['synced'],
      letSync: () => void,
    ) => Promise<void>,
  ): Promise<void> {
    const filename = newFile();
    const store = createSqliteStore({ filename, synchronous });
    open.push(store);
    const { synced, letSync } = await holdFileSyncs(filename);
    try {
      await work(store, synced, letSync);
    } finally {
      letSync();
      synced.mockRestore();
    }
  }

  it('with synchronous=full acknowledges token records on a database opened through a symbolic link, whose write-ahead log lies beside the file it points to', async () => {
    const target = newFile();
    const link = newFile();
    await createSqliteStore({ filename: target }).close();
    symlinkSync(target, link);
    const store = createSqliteStore({ filename: link, synchronous: 'full' });
    try {
      await store.createAccessTokenRecord(tokenRecord('through-link'));
      expect(await store.getAccessTokenRecord('through-link')).toMatchObject({ signature: 'through-link' });
      // A taken signature is a conflict, not an outage.
      await expect(store.createAccessTokenRecord(tokenRecord('through-link'))).rejects.toBeInstanceOf(
        StorageConflictError,
      );
    } finally {
      await store.close();
    }
    expect(existsSync(`${link}-wal`)).toBe(false);
  });

  it.each([
    ['busyTimeoutMs', Number.NaN],
    ['busyTimeoutMs', -1],
    ['busyTimeoutMs', Number.POSITIVE_INFINITY],
    ['changePollIntervalMs', 0],
    ['changePollIntervalMs', 2 ** 31],
    ['changeLogRetention', Number.NaN],
    ['changeLogRetention', 0],
  ] as const)('refuses %s of %s with a TypeError, before opening anything', (name, value) => {
    const filename = newFile();
    expect(() => createSqliteStore({ filename, [name]: value })).toThrow(new RegExp(`^${name} must be`));
    expect(existsSync(filename)).toBe(false);
  });

  it('with synchronous=full rejects the records of a batch whose write-ahead log cannot be synced, and syncs again for the next', async () => {
    const filename = newFile();
    const store = createSqliteStore({ filename, synchronous: 'full' });
    open.push(store);
    const { synced, letSync } = await holdFileSyncs(filename);
    letSync();
    synced.mockRejectedValueOnce(Object.assign(new Error('I/O error'), { code: 'EIO' }));
    try {
      // Not acknowledged: the client is never told a token exists that a power cut could lose.
      await expect(store.createAccessTokenRecord(tokenRecord('unsynced'))).rejects.toBeInstanceOf(
        StorageUnavailableError,
      );
      await expect(store.createAccessTokenRecord(tokenRecord('synced'))).resolves.toBeUndefined();
      expect(synced.mock.calls.length).toBe(2);
    } finally {
      synced.mockRestore();
    }
  });

  it('still refuses a call to the outer store from inside a transaction after earlier transactions ended', async () => {
    const store = createSqliteStore({ filename: newFile() });
    open.push(store);
    await store.transaction((tx) => tx.getClient('first'));
    await store.transaction((tx) => tx.getClient('second'));
    await expect(store.transaction(() => store.getClient('misplaced'))).rejects.toThrow(/inside transaction\(\)/);
    // And outside any transaction the outer store is usable again.
    await expect(store.getClient('after')).resolves.toBeUndefined();
  });

  it('answers StorageUnavailableError once closed', async () => {
    const store = createSqliteStore({ filename: newFile() });
    await store.close();
    await expect(store.getClient('x')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(store.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
  });
});

/**
 * Makes every FileHandle sync wait until `letSync()`, as a slow disk would; the real sync runs
 * then. The FileHandle class is not exported: its prototype is reached through a handle on `path`.
 */
/** Polls `condition` each millisecond, for at most two seconds. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 2000 && !condition(); turn++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Lets twenty turns of the event loop pass, so anything already scheduled has run. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
}

async function holdFileSyncs(path: string) {
  const probe = await openFile(path, 'r');
  const prototype = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const realSync = prototype.datasync;
  let letSync: () => void = () => undefined;
  const syncAllowed = new Promise<void>((resolve) => (letSync = resolve));
  const synced = vi.spyOn(prototype, 'datasync').mockImplementation(async function (this: unknown) {
    await syncAllowed;
    return realSync.call(this);
  });
  return { synced, letSync };
}
