// In-memory storage: for tests and the how-to scenario. Everything is lost on exit.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { Client } from '../../core/index.js';
import {
  StorageConflictError,
  StorageNotFoundError,
  StorageUnavailableError,
  type ListClientsOptions,
  type Storage,
  type StorageChange,
  type StoredHmacSecret,
  type StoredSigningKey,
} from '../index.js';
import { checkStorableText, isStorableText, withLoneSurrogatesReplaced } from '../storable-text.js';
import { checkStorableTimes, comparisonInstant, replayEntryExpiry, rowLimit } from '../storable-time.js';
import { encodeAccessTokenRecord, PackedRecordTable } from './packed-records.js';

/** What `restore` needs of a table: a Map, or the packed record table. */
interface KeyedTable<V> {
  set(key: string, value: V): unknown;
  delete(key: string): unknown;
}

/** Options for {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Clients to start with. */
  readonly clients?: readonly Client[];
}

/** How the operations record what they did: at once outside a transaction, undoably inside one. */
interface Journal {
  /** Remembers how to take a write back, should the transaction fail. */
  undo(step: () => void): void;
  notify(change: StorageChange): void;
}

/**
 * Creates a store that keeps everything in process memory.
 *
 * @example
 * const storage = createMemoryStore({ clients: [{ id: 'test-client', secretHash, grantTypes: ['client_credentials'], scopes: [], audience: [] }] });
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Storage {
  const clients = new Map<string, Client>();
  // Outside the heap: a busy server keeps millions of these (see packed-records.ts).
  const accessTokens = new PackedRecordTable();
  const revokedTokenIds = new Map<string, number>();
  const signingKeys = new Map<string, StoredSigningKey>();
  const hmacSecrets: StoredHmacSecret[] = [];
  const usedJtis = new Map<string, number>();
  const listeners = new Set<(change: StorageChange) => void>();
  let lockChain: Promise<unknown> = Promise.resolve();
  /** Transactions running or waiting their turn. */
  let transactions = 0;
  /**
   * Set inside a transaction's work, whose calls to the outer store must not wait for it; `open`
   * until the work has ended (its changes are then told to listeners, which may start another).
   */
  const insideTransaction = new AsyncLocalStorage<{ open: boolean }>();
  let closed = false;

  for (const client of options.clients ?? []) {
    checkStorableText(client, 'client');
    checkStorableTimes(client, 'client');
    clients.set(client.id, keptCopy(client));
  }

  const deliver = (change: StorageChange): void => {
    for (const listener of listeners) {
      // A listener's failure must not turn a completed write into a rejected one.
      try {
        listener(change);
      } catch {
        // ignored: listeners are caches and must not throw
      }
    }
  };

  /** Puts back (or removes) one map entry as it was before a write. */
  const restore = <V>(map: KeyedTable<V>, key: string, previous: V | undefined): (() => void) =>
    previous === undefined ? () => map.delete(key) : () => map.set(key, previous);

  const operationsFor = (journal: Journal): Omit<Storage, 'transaction' | 'subscribeToChanges' | 'ping' | 'close'> => ({
    getClient: (id) => Promise.resolve(clients.get(id)),
    createClient(client) {
      // As the SQL stores, which would change such text on the way in: refused, whatever the store.
      const refusal = storableRefusal(client, 'client');
      if (refusal) return refusal;
      if (clients.has(client.id)) {
        return Promise.reject(new StorageConflictError(`client "${client.id}" already exists`));
      }
      clients.set(client.id, keptCopy(client));
      journal.undo(restore(clients, client.id, undefined));
      // A cache may remember that the id was unknown.
      journal.notify({ kind: 'client', clientId: client.id });
      return Promise.resolve();
    },
    updateClient(client) {
      const previous = clients.get(client.id);
      if (previous === undefined) {
        return Promise.reject(new StorageNotFoundError(`client "${client.id}" does not exist`));
      }
      const refusal = storableRefusal(client, 'client');
      if (refusal) return refusal;
      clients.set(client.id, keptCopy(client));
      journal.undo(restore(clients, client.id, previous));
      journal.notify({ kind: 'client', clientId: client.id });
      return Promise.resolve();
    },
    deleteClient(id) {
      const previous = clients.get(id);
      if (previous === undefined) return Promise.resolve(false);
      clients.delete(id);
      journal.undo(restore(clients, id, previous));
      journal.notify({ kind: 'client', clientId: id });
      return Promise.resolve(true);
    },
    listClients({ after, limit = 100 }: ListClientsOptions = {}) {
      // By code point, as the SQL stores sort: JavaScript's own comparison goes by UTF-16 unit.
      const bound = after === undefined ? undefined : withLoneSurrogatesReplaced(after);
      const ids = [...clients.keys()]
        .filter((id) => bound === undefined || compareCodePoints(id, bound) > 0)
        .sort(compareCodePoints);
      let count: number;
      try {
        count = rowLimit(limit, 'limit');
      } catch (error) {
        return Promise.reject(error as Error);
      }
      return Promise.resolve(ids.slice(0, count).map((id) => clients.get(id)!));
    },

    createAccessTokenRecord(record) {
      let json: string;
      try {
        json = encodeAccessTokenRecord(record);
      } catch (error) {
        // As the SQL stores: claims that JSON cannot carry (a BigInt, a cycle) are refused.
        return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
      }
      // JSON.stringify writes U+0000 and a lone surrogate as a \u escape: JSON without one holds
      // neither, so the full walk runs only for the rare record whose JSON has an escape, or
      // extra claims (where a number JSON cannot carry may hide).
      const refusal = storableRefusal(
        record,
        'access token record',
        !json.includes('\\u') && isStorableText(record.signature) && record.extraClaims === undefined,
      );
      if (refusal) return refusal;
      if (!accessTokens.addEncoded(record.signature, record.expiresAt, json)) {
        return Promise.reject(new StorageConflictError('access token record already exists'));
      }
      journal.undo(restore(accessTokens, record.signature, undefined));
      return Promise.resolve();
    },
    getAccessTokenRecord: (signature) => Promise.resolve(accessTokens.get(signature)),
    deleteAccessTokenRecord(signature) {
      const previous = accessTokens.get(signature);
      if (previous === undefined) return Promise.resolve(false);
      accessTokens.delete(signature);
      journal.undo(restore(accessTokens, signature, previous));
      journal.notify({ kind: 'access-token', signature });
      return Promise.resolve(true);
    },

    revokeTokenId(jti, expiresAt) {
      const refusal = storableRefusal({ jti, expiresAt }, 'revoked token id');
      if (refusal) return refusal;
      const previous = revokedTokenIds.get(jti);
      revokedTokenIds.set(jti, previous === undefined ? expiresAt : Math.max(expiresAt, previous));
      journal.undo(restore(revokedTokenIds, jti, previous));
      journal.notify({ kind: 'access-token', signature: jti });
      return Promise.resolve();
    },
    isTokenIdRevoked: (jti) => Promise.resolve(revokedTokenIds.has(jti)),

    listSigningKeys: () => Promise.resolve([...signingKeys.values()].sort((a, b) => a.createdAt - b.createdAt)),
    createSigningKey(key) {
      const refusal = storableRefusal(key, 'signing key');
      if (refusal) return refusal;
      if (signingKeys.has(key.kid)) {
        return Promise.reject(new StorageConflictError(`signing key "${key.kid}" already exists`));
      }
      signingKeys.set(key.kid, keptCopy(key));
      journal.undo(restore(signingKeys, key.kid, undefined));
      journal.notify({ kind: 'signing-keys' });
      return Promise.resolve();
    },
    updateSigningKey(key) {
      const previous = signingKeys.get(key.kid);
      if (previous === undefined) {
        return Promise.reject(new StorageNotFoundError(`signing key "${key.kid}" does not exist`));
      }
      const refusal = storableRefusal(key, 'signing key');
      if (refusal) return refusal;
      signingKeys.set(key.kid, keptCopy(key));
      journal.undo(restore(signingKeys, key.kid, previous));
      journal.notify({ kind: 'signing-keys' });
      return Promise.resolve();
    },
    deleteSigningKey(kid) {
      const previous = signingKeys.get(kid);
      if (previous === undefined) return Promise.resolve(false);
      // Map order is insertion order, which breaks ties in listSigningKeys: undo restores it whole.
      const before = [...signingKeys.entries()];
      signingKeys.delete(kid);
      journal.undo(() => {
        signingKeys.clear();
        for (const [id, key] of before) signingKeys.set(id, key);
      });
      journal.notify({ kind: 'signing-keys' });
      return Promise.resolve(true);
    },

    listHmacSecrets: () =>
      // Newest first; of two made at the same time, the one added later counts as newer.
      Promise.resolve([...hmacSecrets].reverse().sort((a, b) => b.createdAt - a.createdAt)),
    createHmacSecret(secret) {
      const refusal = storableRefusal(secret, 'HMAC secret');
      if (refusal) return refusal;
      if (hmacSecrets.some((existing) => existing.id === secret.id)) {
        return Promise.reject(new StorageConflictError(`HMAC secret "${secret.id}" already exists`));
      }
      // A copy, as for clients and keys: the caller's object (or one handed out) cannot change the secret kept.
      const kept = keptCopy(secret);
      hmacSecrets.push(kept);
      journal.undo(() => {
        const index = hmacSecrets.indexOf(kept);
        if (index >= 0) hmacSecrets.splice(index, 1);
      });
      journal.notify({ kind: 'hmac-secrets' });
      return Promise.resolve();
    },

    markUsed(jti, expiresAt, now) {
      let expiry: number;
      let instant: number;
      try {
        expiry = replayEntryExpiry(expiresAt);
        instant = comparisonInstant(now);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      const known = usedJtis.get(jti);
      // An entry past its expiry may still sit here until the janitor runs; it no longer counts.
      if (known !== undefined && known > instant) return Promise.resolve(false);
      usedJtis.set(jti, expiry);
      journal.undo(restore(usedJtis, jti, known));
      return Promise.resolve(true);
    },

    purgeExpired(now, batchSize) {
      let instant: number;
      let batch: number;
      try {
        instant = comparisonInstant(now);
        batch = rowLimit(batchSize, 'batchSize');
      } catch (error) {
        return Promise.reject(error as Error);
      }
      let purged = 0;
      for (const signature of accessTokens.expiredSignatures(instant, batch)) {
        const previous = accessTokens.get(signature);
        accessTokens.delete(signature);
        journal.undo(restore(accessTokens, signature, previous));
        purged++;
      }
      for (const table of [revokedTokenIds, usedJtis] as const) {
        let inTable = 0;
        for (const [key, expiresAt] of table) {
          if (inTable >= batch) break;
          if (expiresAt <= instant) {
            table.delete(key);
            journal.undo(restore(table, key, expiresAt));
            inTable++;
          }
        }
        purged += inTable;
      }
      return Promise.resolve(purged);
    },
  });

  const immediate: Journal = { undo: () => undefined, notify: deliver };

  /** Runs `work` with a journal that can take its writes back; changes are told only on success. */
  const runUndoably = async <T>(work: (tx: Storage) => Promise<T>, state: { open: boolean }): Promise<T> => {
    const undoSteps: (() => void)[] = [];
    const changes: StorageChange[] = [];
    const journal: Journal = { undo: (step) => undoSteps.push(step), notify: (change) => changes.push(change) };
    const operations: Record<string, unknown> = {};
    for (const [name, operation] of Object.entries(operationsFor(journal)) as [
      string,
      (...args: unknown[]) => Promise<unknown>,
    ][]) {
      operations[name] = (...args: unknown[]) =>
        state.open ? settled(() => operation(...args)) : Promise.reject(endedTransactionError());
    }
    const tx: Storage = {
      ...(operations as ReturnType<typeof operationsFor>),
      subscribeToChanges: (listener) => store.subscribeToChanges(listener),
      ping: () => store.ping(),
      close: () => store.close(),
      // A nested transaction is a savepoint: its failure takes back only its own writes.
      async transaction(nested) {
        if (!state.open) throw endedTransactionError();
        const mark = undoSteps.length;
        const changeMark = changes.length;
        try {
          return await nested(tx);
        } catch (error) {
          for (const step of undoSteps.splice(mark).reverse()) step();
          changes.splice(changeMark);
          throw error;
        }
      },
    };
    try {
      const result = await work(tx);
      state.open = false;
      for (const change of changes) deliver(change);
      return result;
    } catch (error) {
      state.open = false;
      for (const step of undoSteps.reverse()) step();
      throw error;
    }
  };

  /**
   * The outer store's operations. While a transaction runs they wait for it to end, as on the SQL
   * stores: its writes are not seen half-way, and its rollback cannot take back (or restore over)
   * a write made meanwhile that was already acknowledged.
   */
  const outerOperations = (): ReturnType<typeof operationsFor> => {
    const operations: Record<string, unknown> = {};
    for (const [name, operation] of Object.entries(operationsFor(immediate)) as [
      string,
      (...args: unknown[]) => Promise<unknown>,
    ][]) {
      operations[name] = (...args: unknown[]) => {
        if (closed) return Promise.reject(closedError());
        return transactions === 0 || insideTransaction.getStore()
          ? settled(() => operation(...args))
          : lockChain.then(() => operation(...args));
      };
    }
    return operations as ReturnType<typeof operationsFor>;
  };

  const store: Storage = {
    ...outerOperations(),

    subscribeToChanges(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    ping: () => (closed ? Promise.reject(closedError()) : Promise.resolve()),
    close() {
      closed = true;
      listeners.clear();
      return Promise.resolve();
    },

    transaction(work) {
      if (closed) return Promise.reject(closedError());
      // The work would wait for its own transaction to end: refused, as on SQLite.
      if (insideTransaction.getStore()?.open) {
        return Promise.reject(new Error('inside transaction(), use the store passed to the work function'));
      }
      // One transaction at a time is all the isolation a single process needs.
      transactions++;
      const run = lockChain
        .then(() => {
          const state = { open: true };
          return insideTransaction.run(state, () => runUndoably(work, state));
        })
        .finally(() => {
          transactions--;
          // Nothing else needs the context: on Node 20 it costs a hook on every promise while enabled.
          if (transactions === 0) insideTransaction.disable();
        });
      lockChain = run.catch(() => undefined);
      return run;
    },
  };
  return store;
}

/**
 * A rejection with `StorageInvalidTextError` when `record` holds text the SQL stores could not
 * keep as given, or a `TypeError` when JSON cannot hold it (unless `textKnownStorable`, said of a
 * record already written as JSON); with `StorageInvalidTimeError` when one of its times is not a
 * whole number of milliseconds; undefined when it may be written.
 */
function storableRefusal(record: object, kind: string, textKnownStorable = false): Promise<never> | undefined {
  try {
    if (!textKnownStorable) {
      checkStorableText(record, kind);
      // What the SQL stores refuse as JSON (a cycle, a BigInt) is refused here too, with the same TypeError.
      JSON.stringify(record);
    }
    checkStorableTimes(record, kind);
    return undefined;
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

/** What every call made after close() gets, as from the SQL stores. */
function closedError(): StorageUnavailableError {
  return new StorageUnavailableError('the memory store is closed');
}

function endedTransactionError(): Error {
  return new Error('the transaction has ended; its store can no longer be used');
}

/** `operation()`'s promise, or a rejection when it throws instead of returning one. */
function settled<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return operation();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * Orders two strings by code point, as SQLite (UTF-8 bytes) and PostgreSQL (`COLLATE "C"`) do.
 * UTF-16 units agree with code points except that surrogates (U+D800–U+DFFF, which encode code
 * points above U+FFFF) sort below U+E000–U+FFFF; moving them above those units fixes the order.
 */
function compareCodePoints(a: string, b: string): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/**
 * What the store keeps of a client, key or HMAC secret record: a copy made when it is written, frozen, and
 * handed out as it is. A caller changing the object it passed in, or one it got back, cannot
 * change what is stored (changing a returned one throws), and reads make no copy.
 */
function keptCopy<T>(value: T): T {
  return deepFreeze(structuredClone(value));
}

function deepFreeze<T>(value: T): T {
  // Typed arrays cannot be frozen; they are copies the caller never saw.
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  // Frozen before its members, so a value that leads back to itself is met frozen and left.
  Object.freeze(value);
  for (const member of Object.values(value)) deepFreeze(member);
  return value;
}
