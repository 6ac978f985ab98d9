import { afterEach, describe, expect, it, vi } from 'vitest';
import { cachedClientStore } from '../../src/protection/cached-client-store.js';
import { StorageUnavailableError, type StorageChange } from '../../src/storage/index.js';
import { createPostgresStore, migratePostgres, type PostgresStorage } from '../../src/storage/postgres/index.js';
import { dropSchema, postgresUrl, probePostgres, randomSchemaName } from './postgres-test-database.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const unavailable = await probePostgres();
const target = new URL(postgresUrl);

const client = (id: string) => ({ id, grantTypes: ['client_credentials'], scopes: ['read'], audience: [] });
const record = (signature: string) => ({
  signature,
  format: 'jwt' as const,
  clientId: 'during',
  subject: 'during',
  scopes: [],
  audience: [],
  issuedAt: 0,
  expiresAt: 1,
});

describe.skipIf(unavailable !== undefined)(`PostgreSQL outage${unavailable ? `: ${unavailable}` : ''}`, () => {
  let proxy: TcpProxy;
  let store: PostgresStorage;
  let schema: string;

  const openThroughProxy = async (
    timeouts: { connectionTimeoutMs: number; queryTimeoutMs: number; listenHeartbeatMs?: number } = {
      connectionTimeoutMs: 1000,
      queryTimeoutMs: 1000,
    },
  ) => {
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const url = new URL(postgresUrl);
    url.port = String(proxy.port);
    schema = randomSchemaName();
    store = createPostgresStore({
      connectionString: url.toString(),
      schema,
      listenReconnectMaxDelayMs: 200,
      ...timeouts,
    });
    await store.ping();
  };

  afterEach(async () => {
    await proxy.open();
    await store.close();
    await proxy.close();
    await dropSchema(schema);
  });

  it('answers StorageUnavailableError while the database is cut off, and serves again when it returns, with no restart', async () => {
    await openThroughProxy();
    await store.createClient(client('before'));
    const seen: StorageChange[] = [];
    store.subscribeToChanges((change) => seen.push(change));
    await store.whenListening();

    await proxy.close();
    for (const call of [
      () => store.getClient('before'),
      () => store.createAccessTokenRecord(record('during')),
      () => store.revokeTokenId('during', 1),
      () => store.transaction((tx) => tx.createClient(client('during'))),
      () => store.ping(),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(StorageUnavailableError);
    }

    await proxy.open();
    await vi.waitFor(() => expect(store.ping()).resolves.toBeUndefined(), { timeout: 10_000, interval: 50 });
    expect(await store.getClient('before')).toEqual(client('before'));
    await store.createClient(client('after'));
    expect(await store.getClient('after')).toBeDefined();
    // Nothing written during the outage was half-kept.
    expect(await store.getClient('during')).toBeUndefined();
    // Notifications may have been missed while cut off: subscribers are told to forget everything.
    await vi.waitFor(() => expect(seen).toContainEqual({ kind: 'all' }), { timeout: 10_000, interval: 50 });
  });

  it('rejects every record of a batch with StorageUnavailableError while cut off, keeping none, and writes batches again when it returns', async () => {
    await openThroughProxy();
    await proxy.close();
    const during = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.createAccessTokenRecord(record(`batch-${i}`))),
    );
    for (const outcome of during)
      expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(StorageUnavailableError) });

    await proxy.open();
    await vi.waitFor(() => expect(store.ping()).resolves.toBeUndefined(), { timeout: 10_000, interval: 50 });
    for (let i = 0; i < 20; i++) expect(await store.getAccessTokenRecord(`batch-${i}`)).toBeUndefined();
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.createAccessTokenRecord(record(`batch-${i}`))));
    for (let i = 0; i < 20; i++) expect(await store.getAccessTokenRecord(`batch-${i}`)).toBeDefined();
  });

  it('answers StorageUnavailableError, not a hang, when the network swallows everything', async () => {
    await openThroughProxy({ connectionTimeoutMs: 300, queryTimeoutMs: 300 });
    proxy.blackhole();
    await expect(store.getClient('x')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(store.transaction(() => Promise.resolve())).rejects.toBeInstanceOf(StorageUnavailableError);
    const swallowed = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => store.createAccessTokenRecord(record(`swallowed-${i}`))),
    );
    for (const outcome of swallowed)
      expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(StorageUnavailableError) });
    await proxy.open();
    await vi.waitFor(() => expect(store.getClient('x')).resolves.toBeUndefined(), { timeout: 10_000, interval: 50 });
  });

  it('replaces a notification connection that silently stops answering, and tells { kind: all } once listening again', async () => {
    // The network drops the established connections without a reset: no error ever reaches the
    // socket, so only a check that expects an answer notices.
    await openThroughProxy({ connectionTimeoutMs: 1000, queryTimeoutMs: 5000, listenHeartbeatMs: 200 });
    const seen: StorageChange[] = [];
    store.subscribeToChanges((change) => seen.push(change));
    await store.whenListening();
    proxy.freeze();
    const peer = createPostgresStore({ connectionString: postgresUrl, schema });
    try {
      await peer.createClient(client('changed-while-frozen'));
    } finally {
      await peer.close();
    }
    await vi.waitFor(() => expect(seen).toContainEqual({ kind: 'all' }), { timeout: 5_000, interval: 50 });
    // Listening again on a fresh connection: the next change is heard as it is made.
    await store.whenListening();
    seen.length = 0;
    const next = createPostgresStore({ connectionString: postgresUrl, schema });
    try {
      await next.deleteClient('changed-while-frozen');
    } finally {
      await next.close();
    }
    await vi.waitFor(() => expect(seen).toContainEqual({ kind: 'client', clientId: 'changed-while-frozen' }), {
      timeout: 5_000,
      interval: 20,
    });
  });

  it('drops what caches read before the first LISTEN took effect: a change made meanwhile was never notified', async () => {
    await openThroughProxy();
    await store.createClient({ ...client('early'), scopes: ['old'] });
    // The LISTEN statement reaches the database late (a slow network, a busy pool).
    proxy.holdSent('LISTEN');
    const cache = cachedClientStore(store);
    try {
      expect((await cache.getClient('early'))?.scopes).toEqual(['old']);
      // Another instance changes the client before this one listens: the notification goes nowhere.
      const peer = createPostgresStore({ connectionString: postgresUrl, schema });
      try {
        await peer.updateClient({ ...client('early'), scopes: ['new'] });
      } finally {
        await peer.close();
      }
      proxy.release();
      await store.whenListening();
      await vi.waitFor(async () => expect((await cache.getClient('early'))?.scopes).toEqual(['new']), {
        timeout: 3_000,
        interval: 50,
      });
    } finally {
      cache.closeClientCache();
    }
  });
});

describe.skipIf(unavailable !== undefined)(
  `tessera migrate on a network that stops carrying a statement${unavailable ? `: ${unavailable}` : ''}`,
  () => {
    it('fails as unavailable once a statement has waited queryTimeoutMs, instead of waiting forever', async () => {
      const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
      const schema = randomSchemaName();
      try {
        const url = new URL(postgresUrl);
        url.port = String(proxy.port);
        // The lock statement leaves, and its answer never comes: no error reaches the socket.
        proxy.holdSent('pg_try_advisory_lock');
        const migrating = migratePostgres({ connectionString: url.toString(), schema, queryTimeoutMs: 300 });
        await expect(migrating).rejects.toBeInstanceOf(StorageUnavailableError);
        proxy.release();
      } finally {
        await proxy.close();
        await dropSchema(schema);
      }
    });

    it('refuses a queryTimeoutMs that cannot work', async () => {
      await expect(migratePostgres({ connectionString: postgresUrl, queryTimeoutMs: 0 })).rejects.toThrow(TypeError);
    });
  },
);
