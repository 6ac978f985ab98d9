// In-memory storage: for tests and the how-to scenario. Everything is lost on exit.

import type { Client } from '../../core/index.js';
import {
  StorageConflictError,
  StorageNotFoundError,
  type AccessTokenRecord,
  type ListClientsOptions,
  type Storage,
  type StorageChange,
  type StoredHmacSecret,
  type StoredSigningKey,
} from '../index.js';

/** Options for {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Clients to start with. */
  readonly clients?: readonly Client[];
}

/**
 * Creates a store that keeps everything in process memory.
 *
 * @example
 * const storage = createMemoryStore({ clients: [{ id: 'test-client', secretHash, grantTypes: ['client_credentials'], scopes: [], audience: [] }] });
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Storage {
  const clients = new Map<string, Client>();
  const accessTokens = new Map<string, AccessTokenRecord>();
  const revokedTokenIds = new Map<string, number>();
  const signingKeys = new Map<string, StoredSigningKey>();
  const hmacSecrets: StoredHmacSecret[] = [];
  const usedJtis = new Map<string, number>();
  const listeners = new Set<(change: StorageChange) => void>();
  let lockChain: Promise<unknown> = Promise.resolve();
  let closed = false;

  for (const client of options.clients ?? []) clients.set(client.id, client);

  const notify = (change: StorageChange): void => {
    for (const listener of listeners) listener(change);
  };

  const store: Storage = {
    getClient: (id) => Promise.resolve(clients.get(id)),
    createClient(client) {
      if (clients.has(client.id)) {
        return Promise.reject(new StorageConflictError(`client "${client.id}" already exists`));
      }
      clients.set(client.id, client);
      return Promise.resolve();
    },
    updateClient(client) {
      if (!clients.has(client.id)) {
        return Promise.reject(new StorageNotFoundError(`client "${client.id}" does not exist`));
      }
      clients.set(client.id, client);
      notify({ kind: 'client', clientId: client.id });
      return Promise.resolve();
    },
    deleteClient(id) {
      const existed = clients.delete(id);
      if (existed) notify({ kind: 'client', clientId: id });
      return Promise.resolve(existed);
    },
    listClients({ after, limit = 100 }: ListClientsOptions = {}) {
      const ids = [...clients.keys()].filter((id) => after === undefined || id > after).sort();
      return Promise.resolve(ids.slice(0, limit).map((id) => clients.get(id)!));
    },

    createAccessTokenRecord(record) {
      if (accessTokens.has(record.signature)) {
        return Promise.reject(new StorageConflictError('access token record already exists'));
      }
      accessTokens.set(record.signature, record);
      return Promise.resolve();
    },
    getAccessTokenRecord: (signature) => Promise.resolve(accessTokens.get(signature)),
    deleteAccessTokenRecord(signature) {
      const existed = accessTokens.delete(signature);
      if (existed) notify({ kind: 'access-token', signature });
      return Promise.resolve(existed);
    },

    revokeTokenId(jti, expiresAt) {
      revokedTokenIds.set(jti, Math.max(expiresAt, revokedTokenIds.get(jti) ?? 0));
      notify({ kind: 'access-token', signature: jti });
      return Promise.resolve();
    },
    isTokenIdRevoked: (jti) => Promise.resolve(revokedTokenIds.has(jti)),

    listSigningKeys: () =>
      Promise.resolve([...signingKeys.values()].sort((a, b) => a.createdAt - b.createdAt)),
    createSigningKey(key) {
      if (signingKeys.has(key.kid)) {
        return Promise.reject(new StorageConflictError(`signing key "${key.kid}" already exists`));
      }
      signingKeys.set(key.kid, key);
      notify({ kind: 'signing-keys' });
      return Promise.resolve();
    },
    updateSigningKey(key) {
      if (!signingKeys.has(key.kid)) {
        return Promise.reject(new StorageNotFoundError(`signing key "${key.kid}" does not exist`));
      }
      signingKeys.set(key.kid, key);
      notify({ kind: 'signing-keys' });
      return Promise.resolve();
    },
    deleteSigningKey(kid) {
      const existed = signingKeys.delete(kid);
      if (existed) notify({ kind: 'signing-keys' });
      return Promise.resolve(existed);
    },

    listHmacSecrets: () =>
      Promise.resolve([...hmacSecrets].sort((a, b) => b.createdAt - a.createdAt)),
    createHmacSecret(secret) {
      if (hmacSecrets.some((existing) => existing.id === secret.id)) {
        return Promise.reject(new StorageConflictError(`HMAC secret "${secret.id}" already exists`));
      }
      hmacSecrets.push(secret);
      notify({ kind: 'hmac-secrets' });
      return Promise.resolve();
    },

    markUsed(jti, expiresAt, now) {
      const known = usedJtis.get(jti);
      // An entry past its expiry may still sit here until the janitor runs; it no longer counts.
      if (known !== undefined && known > now) return Promise.resolve(false);
      usedJtis.set(jti, expiresAt);
      return Promise.resolve(true);
    },

    subscribeToChanges(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    purgeExpired(now, batchSize) {
      let purged = 0;
      for (const table of [accessTokens, revokedTokenIds, usedJtis] as const) {
        let inTable = 0;
        for (const [key, value] of table as Map<string, AccessTokenRecord | number>) {
          if (inTable >= batchSize) break;
          const expiresAt = typeof value === 'number' ? value : value.expiresAt;
          if (expiresAt <= now) {
            table.delete(key);
            inTable++;
          }
        }
        purged += inTable;
      }
      return Promise.resolve(purged);
    },

    ping: () => (closed ? Promise.reject(new Error('store is closed')) : Promise.resolve()),
    close() {
      closed = true;
      listeners.clear();
      return Promise.resolve();
    },

    transaction(work) {
      // One writer at a time is all the isolation a single process needs.
      const run = lockChain.then(() => work(store));
      lockChain = run.catch(() => undefined);
      return run;
    },
  };
  return store;
}
