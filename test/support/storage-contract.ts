// The storage contract: one suite that every store (memory, SQLite, PostgreSQL) must pass unchanged.

import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Client } from '../../src/core/index.js';
import {
  StorageConflictError,
  StorageInvalidTextError,
  StorageInvalidTimeError,
  StorageUnavailableError,
  StorageNotFoundError,
  type AccessTokenRecord,
  type Storage,
  type StorageChange,
  type StoredHmacSecret,
  type StoredSigningKey,
} from '../../src/storage/index.js';

/** One freshly opened, empty store, and how to reach the same data as a second instance would. */
export interface StorageContractSubject {
  readonly store: Storage;
  /**
   * Opens another store on the same database, as a second server instance would. Absent when
   * the store cannot be shared (memory).
   */
  readonly openPeer?: () => Promise<Storage>;
  /** Resolves once the store's change feed hears other instances; called after subscribing. */
  readonly whenListening?: (store: Storage) => Promise<void>;
  /** Closes every store opened for the test and removes its data. */
  readonly dispose: () => Promise<void>;
}

const t0 = Date.UTC(2026, 0, 1);

function client(id: string, overrides: Partial<Client> = {}): Client {
  return { id, grantTypes: ['client_credentials'], scopes: [], audience: [], ...overrides };
}

const fullClient: Client = {
  id: 'full-client',
  secretHash: '$2b$04$abcdefghijklmnopqrstuuVhVh7Qm1bX0h0jv3gq8o0t4KxQxQyZ.',
  grantTypes: ['client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
  scopes: ['read', 'write', 'admin:all'],
  defaultScopes: ['read'],
  audience: ['https://api.example.com', 'https://other.example.com/v1'],
  tokenEndpointAuthMethod: 'private_key_jwt',
  jwks: {
    keys: [
      {
        kty: 'EC',
        crv: 'P-256',
        x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
        y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
        use: 'sig',
      },
    ],
  },
  metadata: {
    client_name: 'Ünïcødé — “quoted” \u{1F510}',
    contacts: ['ops@example.com'],
    nested: { n: 1.5, yes: true, no: null, list: [1, 'two', { three: 3 }] },
  },
  createdAt: t0,
  secretUpdatedAt: t0 + 1000,
};

function tokenRecord(signature: string, overrides: Partial<AccessTokenRecord> = {}): AccessTokenRecord {
  return {
    signature,
    format: 'jwt',
    clientId: 'client-a',
    subject: 'client-a',
    scopes: ['read'],
    audience: ['https://api.example.com'],
    issuedAt: t0,
    expiresAt: t0 + 3600_000,
    ...overrides,
  };
}

function signingKey(kid: string, overrides: Partial<StoredSigningKey> = {}): StoredSigningKey {
  return {
    kid,
    alg: 'ES256',
    state: 'next',
    publicJwk: { kty: 'EC', crv: 'P-256', x: `x-${kid}`, y: `y-${kid}`, kid, alg: 'ES256', use: 'sig' },
    sealedPrivateKey: `v1.sealed.${kid}`,
    createdAt: t0,
    ...overrides,
  };
}

function hmacSecret(id: string, createdAt: number): StoredHmacSecret {
  return { id, sealedSecret: `v1.sealed.${id}`, createdAt };
}

/** Lets other promises run, so that interleavings a lock must prevent get their chance. */
const yieldTurns = async (turns = 5): Promise<void> => {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
};

/**
 * Defines the storage contract suite for one store.
 *
 * @param name shown in the suite title
 * @param open opens a fresh, empty store for each test
 */
export function describeStorageContract(name: string, open: () => Promise<StorageContractSubject>): void {
  describe(`storage contract: ${name}`, () => {
    let subject: StorageContractSubject;
    let store: Storage;

    beforeEach(async () => {
      subject = await open();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    describe('clients', () => {
      it('returns every field of a created client exactly, arrays and metadata included', async () => {
        await store.createClient(fullClient);
        expect(await store.getClient(fullClient.id)).toStrictEqual(fullClient);
      });

      it('keeps a client as written when its caller later changes the object it passed in or got back', async () => {
        const written = structuredClone(fullClient) as { -readonly [K in keyof Client]: Client[K] };
        await store.createClient(written);
        written.scopes = ['changed'];
        (written.audience as string[]).push('https://injected.example');
        const read = (await store.getClient(fullClient.id)) as unknown as { scopes: string[]; audience: string[] };
        // A store may hand out a frozen object (changing it throws) or a copy of its own.
        try {
          read.scopes.push('changed-after-read');
          read.audience = [];
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
        }
        expect(await store.getClient(fullClient.id)).toStrictEqual(fullClient);
      });

      it('adds no fields to a client that left its optional ones out', async () => {
        const minimal = client('minimal');
        await store.createClient(minimal);
        expect(await store.getClient('minimal')).toStrictEqual(minimal);
      });

      it('keeps empty lists apart from absent ones', async () => {
        const withEmpty = client('empty-lists', { defaultScopes: [], metadata: {} });
        await store.createClient(withEmpty);
        expect(await store.getClient('empty-lists')).toStrictEqual(withEmpty);
      });

      it('keeps fields it has no column for', async () => {
        const future = { ...client('future'), softwareId: 'f1a2', logoUri: 'https://example.com/l.png' } as Client;
        await store.createClient(future);
        expect(await store.getClient('future')).toStrictEqual(future);
      });

      it('answers undefined for an unknown client', async () => {
        expect(await store.getClient('nobody')).toBeUndefined();
      });

      it('answers undefined, without failing, for an id holding U+0000 (ids come from unauthenticated requests)', async () => {
        await store.createClient(client('c1'));
        expect(await store.getClient('\u0000')).toBeUndefined();
        expect(await store.getClient('c1\u0000')).toBeUndefined();
        await expect(store.updateClient(client('c1\u0000'))).rejects.toBeInstanceOf(StorageNotFoundError);
        expect(await store.deleteClient('c1\u0000')).toBe(false);
        expect(await store.getClient('c1')).toStrictEqual(client('c1'));
      });

      it('lists the clients after an id holding U+0000 in code-point order, without failing', async () => {
        for (const id of ['a', 'a\u0001', 'b']) await store.createClient(client(id));
        expect((await store.listClients({ after: 'a\u0000z' })).map((c) => c.id)).toEqual(['a\u0001', 'b']);
      });

      it('lists the clients after an id holding a lone surrogate as if it held U+FFFD, in every store alike', async () => {
        for (const id of ['a\uFFFC', 'a\uFFFD', 'a\uFFFE', 'a\u{1F510}', 'b']) await store.createClient(client(id));
        for (const lone of ['a\uD800', 'a\uDFFF', 'a\uD83D']) {
          expect((await store.listClients({ after: lone })).map((c) => c.id)).toEqual(['a\uFFFE', 'a\u{1F510}', 'b']);
        }
        expect((await store.listClients({ after: 'a\uD800x', limit: 1 })).map((c) => c.id)).toEqual(['a\uFFFE']);
      });

      it('refuses a second client with the same id and keeps the first', async () => {
        await store.createClient(client('dup', { scopes: ['first'] }));
        await expect(store.createClient(client('dup', { scopes: ['second'] }))).rejects.toBeInstanceOf(
          StorageConflictError,
        );
        expect((await store.getClient('dup'))?.scopes).toEqual(['first']);
      });

      it('treats ids that differ only in case as different clients', async () => {
        await store.createClient(client('Case'));
        await store.createClient(client('case'));
        expect((await store.listClients()).map((c) => c.id)).toEqual(['Case', 'case']);
      });

      it('replaces every field on update, dropping optional ones left out', async () => {
        await store.createClient(fullClient);
        const replaced = client(fullClient.id, { scopes: ['only'], createdAt: t0 });
        await store.updateClient(replaced);
        expect(await store.getClient(fullClient.id)).toStrictEqual(replaced);
      });

      it('refuses to update an unknown client and creates nothing', async () => {
        await expect(store.updateClient(client('ghost'))).rejects.toBeInstanceOf(StorageNotFoundError);
        expect(await store.getClient('ghost')).toBeUndefined();
      });

      it('deletes a client once, answering false the second time', async () => {
        await store.createClient(client('gone'));
        expect(await store.deleteClient('gone')).toBe(true);
        expect(await store.getClient('gone')).toBeUndefined();
        expect(await store.deleteClient('gone')).toBe(false);
      });

      it('lists clients in id order by code point, paging with after and limit', async () => {
        for (const id of ['b', 'a', 'C', 'd-2', 'd-10']) await store.createClient(client(id));
        expect((await store.listClients()).map((c) => c.id)).toEqual(['C', 'a', 'b', 'd-10', 'd-2']);
        expect((await store.listClients({ limit: 2 })).map((c) => c.id)).toEqual(['C', 'a']);
        expect((await store.listClients({ after: 'a', limit: 2 })).map((c) => c.id)).toEqual(['b', 'd-10']);
        expect((await store.listClients({ after: 'd-2' })).map((c) => c.id)).toEqual([]);
      });

      it('reads a limit with a fraction as rounded down and an infinite one as no limit, and refuses NaN', async () => {
        for (const id of ['a', 'b', 'c']) await store.createClient(client(id));
        expect((await store.listClients({ limit: 1.9 })).map((c) => c.id)).toEqual(['a']);
        expect((await store.listClients({ limit: Number.POSITIVE_INFINITY })).map((c) => c.id)).toEqual([
          'a',
          'b',
          'c',
        ]);
        expect(await store.listClients({ limit: -1 })).toEqual([]);
        await expect(store.listClients({ limit: Number.NaN })).rejects.toBeInstanceOf(TypeError);
      });

      it('lists ids beyond U+FFFF after U+FF5E, as code points sort (not as UTF-16 units do)', async () => {
        // UTF-16 puts U+1F510 (a surrogate pair, 0xD83D 0xDD10) before U+FF5E; code points do not.
        for (const id of ['\u{1F510}', '\uFF5E', 'z']) await store.createClient(client(id));
        expect((await store.listClients()).map((c) => c.id)).toEqual(['z', '\uFF5E', '\u{1F510}']);
        expect((await store.listClients({ after: '\uFF5E' })).map((c) => c.id)).toEqual(['\u{1F510}']);
        expect((await store.listClients({ after: '\u{1F510}' })).map((c) => c.id)).toEqual([]);
      });

      it('lists nothing for a limit below 1', async () => {
        for (const id of ['a', 'b', 'c']) await store.createClient(client(id));
        expect(await store.listClients({ limit: 0 })).toEqual([]);
        expect(await store.listClients({ limit: -1 })).toEqual([]);
      });

      it('lists whole clients, not just ids', async () => {
        await store.createClient(fullClient);
        expect(await store.listClients()).toStrictEqual([fullClient]);
      });

      it('lists at most 100 clients when no limit is given', async () => {
        await store.transaction(async (tx) => {
          for (let i = 0; i < 105; i++) await tx.createClient(client(`c-${String(i).padStart(3, '0')}`));
        });
        const page = await store.listClients();
        expect(page).toHaveLength(100);
        expect(page.at(-1)?.id).toBe('c-099');
      });
    });

    describe('access-token records', () => {
      it('returns a created record exactly, extra claims included', async () => {
        const record = tokenRecord('sig-full', {
          format: 'opaque',
          requestId: 'req-1',
          extraClaims: { tenant: 't-1', roles: ['a', 'b'], nested: { deep: [1, 2] } },
          audience: [],
          scopes: ['read', 'write'],
        });
        await store.createAccessTokenRecord(record);
        expect(await store.getAccessTokenRecord('sig-full')).toStrictEqual(record);
      });

      it('adds no fields to a minimal record', async () => {
        const record = tokenRecord('sig-min');
        await store.createAccessTokenRecord(record);
        expect(await store.getAccessTokenRecord('sig-min')).toStrictEqual(record);
      });

      it('answers undefined for an unknown signature', async () => {
        expect(await store.getAccessTokenRecord('nope')).toBeUndefined();
      });

      it('finds and deletes nothing, without failing, for a signature holding U+0000', async () => {
        await store.createAccessTokenRecord(tokenRecord('sig'));
        expect(await store.getAccessTokenRecord('sig\u0000')).toBeUndefined();
        expect(await store.deleteAccessTokenRecord('sig\u0000')).toBe(false);
        expect(await store.getAccessTokenRecord('sig')).toBeDefined();
      });

      it('refuses a second record with the same signature', async () => {
        await store.createAccessTokenRecord(tokenRecord('sig-dup'));
        await expect(
          store.createAccessTokenRecord(tokenRecord('sig-dup', { clientId: 'other' })),
        ).rejects.toBeInstanceOf(StorageConflictError);
        expect((await store.getAccessTokenRecord('sig-dup'))?.clientId).toBe('client-a');
      });

      it('keeps every one of many records created at once, each call resolving only once its record is kept', async () => {
        const signatures = Array.from({ length: 300 }, (_, i) => `sig-many-${i}`);
        const kept = await Promise.all(
          signatures.map((signature) =>
            store
              .createAccessTokenRecord(tokenRecord(signature, { requestId: signature }))
              .then(() => store.getAccessTokenRecord(signature)),
          ),
        );
        expect(kept.map((record) => record?.requestId)).toEqual(signatures);
      });

      it('refuses only the records whose signature is taken, among many created at once', async () => {
        await store.createAccessTokenRecord(tokenRecord('sig-taken'));
        const fresh = Array.from({ length: 20 }, (_, i) => `sig-fresh-${i}`);
        const calls = [
          ...fresh.slice(0, 10).map((signature) => store.createAccessTokenRecord(tokenRecord(signature))),
          store.createAccessTokenRecord(tokenRecord('sig-taken', { clientId: 'intruder' })),
          store.createAccessTokenRecord(tokenRecord('sig-twin', { clientId: 'first' })),
          store.createAccessTokenRecord(tokenRecord('sig-twin', { clientId: 'second' })),
          ...fresh.slice(10).map((signature) => store.createAccessTokenRecord(tokenRecord(signature))),
        ];
        const outcomes = await Promise.allSettled(calls);
        const [taken, first, second] = outcomes.slice(10, 13);
        expect(taken).toMatchObject({ status: 'rejected', reason: expect.any(StorageConflictError) });
        // Exactly one of two records with the same signature is kept, and it is the one that was acknowledged.
        expect([first, second].map((outcome) => outcome?.status).sort()).toEqual(['fulfilled', 'rejected']);
        const loser = first?.status === 'rejected' ? first : second;
        expect(loser).toMatchObject({ reason: expect.any(StorageConflictError) });
        expect((await store.getAccessTokenRecord('sig-twin'))?.clientId).toBe(
          first?.status === 'fulfilled' ? 'first' : 'second',
        );
        expect(
          [...outcomes.slice(0, 10), ...outcomes.slice(13)].every((outcome) => outcome.status === 'fulfilled'),
        ).toBe(true);
        for (const signature of fresh) expect(await store.getAccessTokenRecord(signature)).toBeDefined();
        expect((await store.getAccessTokenRecord('sig-taken'))?.clientId).toBe('client-a');
      });

      it('refuses only a record that cannot be kept (a BigInt claim), among many created at once', async () => {
        const fresh = Array.from({ length: 10 }, (_, i) => `sig-beside-${i}`);
        const calls = [
          ...fresh.slice(0, 5).map((signature) => store.createAccessTokenRecord(tokenRecord(signature))),
          store.createAccessTokenRecord(tokenRecord('sig-bigint', { extraClaims: { n: 10n } })),
          ...fresh.slice(5).map((signature) => store.createAccessTokenRecord(tokenRecord(signature))),
        ];
        const outcomes = await Promise.allSettled(calls);
        expect(outcomes[5]).toMatchObject({ status: 'rejected', reason: expect.any(TypeError) });
        expect([...outcomes.slice(0, 5), ...outcomes.slice(6)].map((outcome) => outcome.status)).toEqual(
          Array.from({ length: 10 }, () => 'fulfilled'),
        );
        for (const signature of fresh) expect(await store.getAccessTokenRecord(signature)).toBeDefined();
        expect(await store.getAccessTokenRecord('sig-bigint')).toBeUndefined();
      });

      it('deletes a record once, answering false the second time', async () => {
        await store.createAccessTokenRecord(tokenRecord('sig-del'));
        expect(await store.deleteAccessTokenRecord('sig-del')).toBe(true);
        expect(await store.getAccessTokenRecord('sig-del')).toBeUndefined();
        expect(await store.deleteAccessTokenRecord('sig-del')).toBe(false);
      });
    });

    describe('revoked token ids', () => {
      it('knows a revoked jti and no other', async () => {
        await store.revokeTokenId('jti-1', t0 + 1000);
        expect(await store.isTokenIdRevoked('jti-1')).toBe(true);
        expect(await store.isTokenIdRevoked('jti-2')).toBe(false);
      });

      it('answers false, without failing, for a jti holding U+0000', async () => {
        await store.revokeTokenId('jti-1', t0 + 1000);
        expect(await store.isTokenIdRevoked('jti-1\u0000')).toBe(false);
      });

      it('keeps the later expiry when a jti is revoked twice', async () => {
        await store.revokeTokenId('jti-twice', t0 + 5000);
        await store.revokeTokenId('jti-twice', t0 + 1000);
        await store.purgeExpired(t0 + 2000, 100);
        expect(await store.isTokenIdRevoked('jti-twice')).toBe(true);
        await store.purgeExpired(t0 + 5000, 100);
        expect(await store.isTokenIdRevoked('jti-twice')).toBe(false);
      });
    });

    describe('signing keys', () => {
      it('returns created keys exactly, oldest first, in order of creation when times are equal', async () => {
        const keys = [
          signingKey('k-late', { createdAt: t0 + 10 }),
          signingKey('k-b', { state: 'active', activatedAt: t0 + 1 }),
          signingKey('k-a', { state: 'retired', activatedAt: t0, retiredAt: t0 + 5, removeAfter: t0 + 99 }),
        ];
        for (const key of keys) await store.createSigningKey(key);
        expect(await store.listSigningKeys()).toStrictEqual([keys[1], keys[2], keys[0]]);
      });

      it('refuses a second key with the same kid', async () => {
        await store.createSigningKey(signingKey('k-dup'));
        await expect(store.createSigningKey(signingKey('k-dup', { alg: 'RS256' }))).rejects.toBeInstanceOf(
          StorageConflictError,
        );
        expect((await store.listSigningKeys()).map((k) => k.alg)).toEqual(['ES256']);
      });

      it('replaces a key on update and keeps its place in the list', async () => {
        await store.createSigningKey(signingKey('k-1'));
        await store.createSigningKey(signingKey('k-2'));
        const activated = signingKey('k-1', { state: 'active', activatedAt: t0 + 50 });
        await store.updateSigningKey(activated);
        expect(await store.listSigningKeys()).toStrictEqual([activated, signingKey('k-2')]);
      });

      it('refuses to update an unknown key and creates nothing', async () => {
        await expect(store.updateSigningKey(signingKey('k-ghost'))).rejects.toBeInstanceOf(StorageNotFoundError);
        expect(await store.listSigningKeys()).toEqual([]);
      });

      it('deletes a key once, answering false the second time', async () => {
        await store.createSigningKey(signingKey('k-del'));
        expect(await store.deleteSigningKey('k-del')).toBe(true);
        expect(await store.listSigningKeys()).toEqual([]);
        expect(await store.deleteSigningKey('k-del')).toBe(false);
      });
    });

    describe('HMAC secrets', () => {
      it('lists secrets newest first, the later-added first when times are equal', async () => {
        const secrets = [
          hmacSecret('h-old', t0),
          hmacSecret('h-new', t0 + 10),
          hmacSecret('h-tie-1', t0 + 5),
          hmacSecret('h-tie-2', t0 + 5),
        ];
        for (const secret of secrets) await store.createHmacSecret(secret);
        expect(await store.listHmacSecrets()).toStrictEqual([secrets[1], secrets[3], secrets[2], secrets[0]]);
      });

      it('keeps a secret as written when its caller later changes the object it passed in or got back', async () => {
        const written = { ...hmacSecret('h-kept', t0) } as {
          -readonly [K in keyof StoredHmacSecret]: StoredHmacSecret[K];
        };
        await store.createHmacSecret(written);
        written.sealedSecret = 'v1.sealed.changed';
        written.createdAt = t0 + 99;
        const [read] = (await store.listHmacSecrets()) as { sealedSecret: string; id: string }[];
        // A store may hand out a frozen object (changing it throws) or a copy of its own.
        try {
          read!.sealedSecret = 'v1.sealed.changed-after-read';
          read!.id = 'h-other';
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
        }
        expect(await store.listHmacSecrets()).toStrictEqual([hmacSecret('h-kept', t0)]);
      });

      it('refuses a second secret with the same id', async () => {
        await store.createHmacSecret(hmacSecret('h-dup', t0));
        await expect(store.createHmacSecret(hmacSecret('h-dup', t0 + 1))).rejects.toBeInstanceOf(StorageConflictError);
        expect(await store.listHmacSecrets()).toStrictEqual([hmacSecret('h-dup', t0)]);
      });
    });

    describe('text no store can keep as given (a lone UTF-16 surrogate, U+0000)', () => {
      const unstorable = ['\ud800', 'x\udfff', 'a\udc00\ud800b', 'nul\u0000'];

      it('refuses a client holding such text in any string, nested ones and member names included, and keeps nothing', async () => {
        const variants: Client[] = unstorable.flatMap((bad) => [
          client(`id-${bad}`),
          client('c', { metadata: { client_name: bad } }),
          client('c', { metadata: { contacts: ['ops@example.com', bad] } }),
          client('c', { metadata: { nested: { list: [1, { deep: bad }] } } }),
          client('c', { metadata: { [bad]: 'member name' } }),
          client('c', { scopes: ['read', bad] }),
          client('c', { audience: [bad] }),
          client('c', { jwks: { keys: [{ ...fullClient.jwks!.keys[0]!, kid: bad }] } }),
          client('c', { secretHash: bad }),
        ]);
        for (const variant of variants) {
          await expect(store.createClient(variant)).rejects.toBeInstanceOf(StorageInvalidTextError);
        }
        expect(await store.listClients()).toEqual([]);
        // The store is still usable, and the id was never taken.
        await store.createClient(client('c'));
        expect(await store.getClient('c')).toStrictEqual(client('c'));
      });

      it('refuses a number JSON cannot carry (NaN, an infinity, -0) inside a field kept as JSON, in clients and token records alike, and keeps nothing', async () => {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]) {
          for (const variant of [
            client('c', { metadata: { rank: bad } }),
            client('c', { metadata: { nested: { list: ['a', bad] } } }),
            client('c', { jwks: { keys: [{ ...fullClient.jwks!.keys[0]!, note: bad }] } }),
          ]) {
            const error = await store.createClient(variant).catch((e: unknown) => e);
            expect(error).toBeInstanceOf(StorageInvalidTextError);
            expect((error as Error).message).toMatch(/^client field (metadata|jwks) /);
          }
          await expect(
            store.createAccessTokenRecord(tokenRecord('sig-number', { extraClaims: { level: { at: bad } } })),
          ).rejects.toBeInstanceOf(StorageInvalidTextError);
        }
        expect(await store.listClients()).toEqual([]);
        expect(await store.getAccessTokenRecord('sig-number')).toBeUndefined();
        // Finite numbers, 0 and the extremes JSON carries are kept exactly.
        const kept = client('c', { metadata: { zero: 0, tiny: 5e-324, large: 1.7976931348623157e308, minus: -2.5 } });
        await store.createClient(kept);
        expect(await store.getClient('c')).toStrictEqual(kept);
      });

      it('keeps a well-formed surrogate pair (a code point above U+FFFF) exactly', async () => {
        const astral = client('id-\u{1F510}', { metadata: { client_name: '\ud83d\udd10 \u{10FFFF}' } });
        await store.createClient(astral);
        expect(await store.getClient('id-\u{1F510}')).toStrictEqual(astral);
      });

      it('refuses to update a client with such text and keeps it as it was', async () => {
        const stored = client('c', { metadata: { client_name: 'before' } });
        await store.createClient(stored);
        for (const bad of unstorable) {
          const error = await store
            .updateClient(client('c', { metadata: { client_name: bad } }))
            .catch((e: unknown) => e);
          expect(error).toBeInstanceOf(StorageInvalidTextError);
          // The message names the field and does not repeat the text.
          expect((error as Error).message).toContain('metadata');
          expect((error as Error).message).not.toContain(bad);
        }
        expect(await store.getClient('c')).toStrictEqual(stored);
      });

      it('finds nothing by such an id, even beside a stored id holding U+FFFD (what a UTF-8 database would make of it)', async () => {
        await store.createClient(client('a\ufffd'));
        await store.createAccessTokenRecord(tokenRecord('sig\ufffd'));
        await store.revokeTokenId('jti\ufffd', t0 + 1000);
        await store.createSigningKey(signingKey('k\ufffd'));
        expect(await store.getClient('a\ud800')).toBeUndefined();
        await expect(store.updateClient(client('a\ud800'))).rejects.toBeInstanceOf(StorageNotFoundError);
        expect(await store.deleteClient('a\udc00')).toBe(false);
        expect(await store.getAccessTokenRecord('sig\ud800')).toBeUndefined();
        expect(await store.deleteAccessTokenRecord('sig\ud800')).toBe(false);
        expect(await store.isTokenIdRevoked('jti\ud800')).toBe(false);
        await expect(store.updateSigningKey(signingKey('k\ud800'))).rejects.toBeInstanceOf(StorageNotFoundError);
        expect(await store.deleteSigningKey('k\ud800')).toBe(false);
        expect(await store.getClient('a\ufffd')).toStrictEqual(client('a\ufffd'));
        expect(await store.getAccessTokenRecord('sig\ufffd')).toStrictEqual(tokenRecord('sig\ufffd'));
        expect(await store.isTokenIdRevoked('jti\ufffd')).toBe(true);
        expect(await store.listSigningKeys()).toStrictEqual([signingKey('k\ufffd')]);
      });

      it('keeps a record whose text JSON must escape but a store can hold: control characters, a written "\\u0000"', async () => {
        const record = tokenRecord('sig-escaped', {
          subject: 'sub\u0001\u001f',
          scopes: ['\\u0000', '\\ud800'],
          extraClaims: { 'tab\t': 'line\nbreak \u007f \ud83d\ude00' },
        });
        await store.createAccessTokenRecord(record);
        expect(await store.getAccessTokenRecord('sig-escaped')).toStrictEqual(record);
      });

      it('refuses only the access-token records holding such text, among many created at once', async () => {
        const bad = [
          tokenRecord('sig-bad-1', { subject: 'sub\ud800' }),
          tokenRecord('sig-bad-2', { scopes: ['read', '\udfff'] }),
          tokenRecord('sig-bad-3', { audience: ['https://api.example.com/\u0000'] }),
          tokenRecord('sig-bad-4', { extraClaims: { tenant: { name: 'x\udbff' } } }),
          tokenRecord('sig-bad-5', { clientId: 'client\u0000' }),
          tokenRecord('sig-bad-6\ud800'),
          tokenRecord('sig-bad-7', { requestId: '\udc00' }),
          tokenRecord('sig-bad-8', { extraClaims: { 'name\ud800': 'x' } }),
        ];
        const good = Array.from({ length: 10 }, (_, i) => tokenRecord(`sig-good-${i}`));
        const outcomes = await Promise.allSettled(
          [...good.slice(0, 5), ...bad, ...good.slice(5)].map((record) => store.createAccessTokenRecord(record)),
        );
        expect(outcomes.slice(5, 5 + bad.length)).toEqual(
          bad.map(() => ({ status: 'rejected', reason: expect.any(StorageInvalidTextError) })),
        );
        expect([...outcomes.slice(0, 5), ...outcomes.slice(5 + bad.length)].map((o) => o.status)).toEqual(
          good.map(() => 'fulfilled'),
        );
        for (const record of good) expect(await store.getAccessTokenRecord(record.signature)).toStrictEqual(record);
        for (const record of bad.slice(0, 5))
          expect(await store.getAccessTokenRecord(record.signature)).toBeUndefined();
      });

      it('refuses such text in a revoked jti, a signing key and an HMAC secret, and keeps none of them', async () => {
        for (const bad of unstorable) {
          await expect(store.revokeTokenId(`jti-${bad}`, t0 + 1000)).rejects.toBeInstanceOf(StorageInvalidTextError);
          await expect(store.createSigningKey(signingKey(`k-${bad}`))).rejects.toBeInstanceOf(StorageInvalidTextError);
          await expect(
            store.createSigningKey(signingKey('k-1', { publicJwk: { kty: 'EC', crv: 'P-256', x: bad, y: 'y' } })),
          ).rejects.toBeInstanceOf(StorageInvalidTextError);
          await expect(store.createHmacSecret({ ...hmacSecret('h-1', t0), sealedSecret: bad })).rejects.toBeInstanceOf(
            StorageInvalidTextError,
          );
        }
        expect(await store.listSigningKeys()).toEqual([]);
        expect(await store.listHmacSecrets()).toEqual([]);
        await store.createSigningKey(signingKey('k-1'));
        for (const bad of unstorable) {
          await expect(store.updateSigningKey(signingKey('k-1', { alg: bad }))).rejects.toBeInstanceOf(
            StorageInvalidTextError,
          );
        }
        expect(await store.listSigningKeys()).toStrictEqual([signingKey('k-1')]);
      });

      it('takes back the work of a transaction whose write holds such text', async () => {
        await expect(
          store.transaction(async (tx) => {
            await tx.createClient(client('in-tx'));
            await tx.createAccessTokenRecord(tokenRecord('sig-tx', { subject: '\ud800' }));
          }),
        ).rejects.toBeInstanceOf(StorageInvalidTextError);
        expect(await store.getClient('in-tx')).toBeUndefined();
      });
    });

    describe('times that are not whole milliseconds (a fraction, NaN, an infinity)', () => {
      const badTimes = [t0 + 0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53];

      it('refuses them in a client, a token record, a revoked jti, a signing key and an HMAC secret, keeping nothing', async () => {
        for (const bad of badTimes) {
          await expect(store.createClient(client('c-time', { createdAt: bad }))).rejects.toBeInstanceOf(
            StorageInvalidTimeError,
          );
          await expect(
            store.createAccessTokenRecord(tokenRecord('sig-time', { issuedAt: bad })),
          ).rejects.toBeInstanceOf(StorageInvalidTimeError);
          await expect(
            store.createAccessTokenRecord(tokenRecord('sig-time', { expiresAt: bad })),
          ).rejects.toBeInstanceOf(StorageInvalidTimeError);
          await expect(store.revokeTokenId('jti-time', bad)).rejects.toBeInstanceOf(StorageInvalidTimeError);
          await expect(store.createSigningKey(signingKey('k-time', { removeAfter: bad }))).rejects.toBeInstanceOf(
            StorageInvalidTimeError,
          );
          await expect(store.createHmacSecret(hmacSecret('h-time', bad))).rejects.toBeInstanceOf(
            StorageInvalidTimeError,
          );
        }
        expect(await store.getClient('c-time')).toBeUndefined();
        expect(await store.getAccessTokenRecord('sig-time')).toBeUndefined();
        expect(await store.isTokenIdRevoked('jti-time')).toBe(false);
        expect(await store.listSigningKeys()).toEqual([]);
        expect(await store.listHmacSecrets()).toEqual([]);
      });

      it('names the field, not the value, and leaves a stored record as it was when an update holds one', async () => {
        await store.createClient(client('c-1', { createdAt: t0 }));
        await store.createSigningKey(signingKey('k-1'));
        const refused = await store
          .updateClient(client('c-1', { secretUpdatedAt: t0 + 0.25 }))
          .catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(StorageInvalidTimeError);
        expect((refused as StorageInvalidTimeError).field).toBe('client field secretUpdatedAt');
        expect((refused as Error).message).not.toContain('0.25');
        await expect(store.updateSigningKey(signingKey('k-1', { activatedAt: Number.NaN }))).rejects.toBeInstanceOf(
          StorageInvalidTimeError,
        );
        expect(await store.getClient('c-1')).toStrictEqual(client('c-1', { createdAt: t0 }));
        expect(await store.listSigningKeys()).toStrictEqual([signingKey('k-1')]);
      });

      it('keeps whole milliseconds exactly, 0 and times before 1970 included', async () => {
        const record = tokenRecord('sig-old', { issuedAt: -86_400_000, expiresAt: 0 });
        await store.createAccessTokenRecord(record);
        expect(await store.getAccessTokenRecord('sig-old')).toStrictEqual(record);
        const latest = tokenRecord('sig-latest', { expiresAt: Number.MAX_SAFE_INTEGER });
        await store.createAccessTokenRecord(latest);
        expect(await store.getAccessTokenRecord('sig-latest')).toStrictEqual(latest);
      });

      it('refuses a replay-cache expiry that is NaN, an infinity or past 2^53 ms, keeping nothing (a fraction is rounded up: see below)', async () => {
        for (const bad of badTimes.slice(1)) {
          await expect(store.markUsed('r-time', bad, t0)).rejects.toBeInstanceOf(StorageInvalidTimeError);
        }
        expect(await store.markUsed('r-time', t0 + 1000, t0)).toBe(true);
        expect(await store.markUsed('r-time', t0 + 1000, t0 + 1)).toBe(false);
      });

      it('takes back the work of a transaction whose write holds one', async () => {
        await expect(
          store.transaction(async (tx) => {
            await tx.createClient(client('in-tx-time'));
            await tx.createAccessTokenRecord(tokenRecord('sig-tx-time', { expiresAt: t0 + 0.5 }));
          }),
        ).rejects.toBeInstanceOf(StorageInvalidTimeError);
        expect(await store.getClient('in-tx-time')).toBeUndefined();
      });
    });

    describe('replay cache', () => {
      it('accepts a jti once and refuses it again before it expires', async () => {
        expect(await store.markUsed('a-1', t0 + 1000, t0)).toBe(true);
        expect(await store.markUsed('a-1', t0 + 1000, t0 + 999)).toBe(false);
      });

      it('accepts a jti again once its entry has expired, and the new expiry counts', async () => {
        await store.markUsed('a-2', t0 + 1000, t0);
        expect(await store.markUsed('a-2', t0 + 5000, t0 + 1000)).toBe(true);
        expect(await store.markUsed('a-2', t0 + 9000, t0 + 4999)).toBe(false);
      });

      it('takes an expiry with a fraction of a millisecond and holds the jti at least that long', async () => {
        expect(await store.markUsed('a-frac', t0 + 1000.25, t0)).toBe(true);
        expect(await store.markUsed('a-frac', t0 + 2000, t0 + 1000)).toBe(false);
        expect(await store.markUsed('a-frac', t0 + 2000, t0 + 1001)).toBe(true);
      });

      // A custom clock may read fractions of a millisecond: they change no answer.
      it('takes a current time with a fraction of a millisecond', async () => {
        expect(await store.markUsed('a-now-frac', t0 + 1000, t0 + 0.5)).toBe(true);
        expect(await store.markUsed('a-now-frac', t0 + 2000, t0 + 999.75)).toBe(false);
        expect(await store.markUsed('a-now-frac', t0 + 2000, t0 + 1000.5)).toBe(true);
      });

      it('refuses a current time that is NaN or an infinity, keeping nothing', async () => {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          await expect(store.markUsed('a-now-bad', t0 + 1000, bad)).rejects.toBeInstanceOf(StorageInvalidTimeError);
        }
        expect(await store.markUsed('a-now-bad', t0 + 1000, t0)).toBe(true);
      });

      it('keeps different jtis apart', async () => {
        expect(await store.markUsed('a-3', t0 + 1000, t0)).toBe(true);
        expect(await store.markUsed('a-4', t0 + 1000, t0)).toBe(true);
      });

      it('keeps a key of any length or content, and refuses it again', async () => {
        const long = `9:client-id:${'j'.repeat(20_000)}`;
        const longTwin = `9:client-id:${'j'.repeat(19_999)}k`;
        const withNul = 'a-\u0000-nul';
        for (const key of [long, longTwin, withNul]) {
          expect(await store.markUsed(key, t0 + 1000, t0)).toBe(true);
          expect(await store.markUsed(key, t0 + 1000, t0 + 1)).toBe(false);
        }
        expect(await store.markUsed('a-\u0000-other', t0 + 1000, t0)).toBe(true);
      });

      it('keeps keys that differ only in a lone surrogate apart, and apart from U+FFFD (what UTF-8 would make of one)', async () => {
        const long = 'j'.repeat(600);
        const keys = [
          'a-\ud800',
          'a-\udc00',
          'a-\ufffd',
          'a-\ud800\ud800',
          'a-\ufffd\ufffd',
          `${long}\ud800`,
          `${long}\udbff`,
          `${long}\ufffd`,
          `sha256:\ud800`,
          `sha256:\udc00`,
        ];
        for (const key of keys) expect(await store.markUsed(key, t0 + 1000, t0), JSON.stringify(key)).toBe(true);
        for (const key of keys) expect(await store.markUsed(key, t0 + 1000, t0 + 1), JSON.stringify(key)).toBe(false);
      });

      it('keeps a key apart from the SHA-256 form a store may keep another key in', async () => {
        const long = `9:client-id:${'x'.repeat(5_000)}`;
        const hashedForm = `sha256:${createHash('sha256').update(long).digest('hex')}`;
        expect(await store.markUsed(long, t0 + 1000, t0)).toBe(true);
        expect(await store.markUsed(hashedForm, t0 + 1000, t0)).toBe(true);
        expect(await store.markUsed(hashedForm, t0 + 1000, t0 + 1)).toBe(false);
      });

      it('lets exactly one of many concurrent uses of the same jti through', async () => {
        const results = await Promise.all(Array.from({ length: 8 }, () => store.markUsed('a-race', t0 + 1000, t0)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('purging expired records', () => {
      it('deletes token records, revoked ids and replay entries whose expiry has come, and nothing else', async () => {
        await store.createAccessTokenRecord(tokenRecord('t-expired', { expiresAt: t0 + 100 }));
        await store.createAccessTokenRecord(tokenRecord('t-live', { expiresAt: t0 + 101 }));
        await store.revokeTokenId('r-expired', t0 + 50);
        await store.revokeTokenId('r-live', t0 + 500);
        await store.markUsed('u-expired', t0 + 100, t0);
        await store.markUsed('u-live', t0 + 200, t0);

        expect(await store.purgeExpired(t0 + 100, 10)).toBe(3);

        expect(await store.getAccessTokenRecord('t-expired')).toBeUndefined();
        expect(await store.getAccessTokenRecord('t-live')).toBeDefined();
        expect(await store.isTokenIdRevoked('r-expired')).toBe(false);
        expect(await store.isTokenIdRevoked('r-live')).toBe(true);
        expect(await store.markUsed('u-expired', t0 + 300, t0 + 100)).toBe(true);
        expect(await store.markUsed('u-live', t0 + 300, t0 + 100)).toBe(false);
      });

      it('deletes at most batchSize rows of each kind per call', async () => {
        for (let i = 0; i < 5; i++) await store.createAccessTokenRecord(tokenRecord(`t-${i}`, { expiresAt: t0 }));
        for (let i = 0; i < 3; i++) await store.revokeTokenId(`r-${i}`, t0);
        expect(await store.purgeExpired(t0, 2)).toBe(4);
        expect(await store.purgeExpired(t0, 2)).toBe(3);
        expect(await store.purgeExpired(t0, 2)).toBe(1);
        expect(await store.purgeExpired(t0, 2)).toBe(0);
      });

      it('takes a current time with a fraction of a millisecond, purging what expired by then', async () => {
        await store.createAccessTokenRecord(tokenRecord('t-frac-expired', { expiresAt: t0 + 100 }));
        await store.createAccessTokenRecord(tokenRecord('t-frac-live', { expiresAt: t0 + 101 }));
        await store.markUsed('u-frac-expired', t0 + 100, t0);
        expect(await store.purgeExpired(t0 + 100.5, 10)).toBe(2);
        expect(await store.getAccessTokenRecord('t-frac-live')).toBeDefined();
      });

      it('refuses a current time that is NaN or an infinity, purging nothing', async () => {
        await store.createAccessTokenRecord(tokenRecord('t-kept', { expiresAt: t0 }));
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
          await expect(store.purgeExpired(bad, 10)).rejects.toBeInstanceOf(StorageInvalidTimeError);
        }
        expect(await store.getAccessTokenRecord('t-kept')).toBeDefined();
      });

      it('reads a batchSize with a fraction as rounded down and an infinite one as no limit, and refuses NaN', async () => {
        for (let i = 0; i < 3; i++) await store.createAccessTokenRecord(tokenRecord(`t-size-${i}`, { expiresAt: t0 }));
        expect(await store.purgeExpired(t0, 1.9)).toBe(1);
        await expect(store.purgeExpired(t0, Number.NaN)).rejects.toBeInstanceOf(TypeError);
        expect(await store.purgeExpired(t0, Number.POSITIVE_INFINITY)).toBe(2);
      });

      it('keeps a revoked id’s expiry before 1970 as given, purging it once that time has come', async () => {
        await store.revokeTokenId('r-before-1970', -5000);
        expect(await store.purgeExpired(-6000, 10)).toBe(0);
        expect(await store.purgeExpired(-5000, 10)).toBe(1);
        expect(await store.isTokenIdRevoked('r-before-1970')).toBe(false);
      });

      it('answers 0 when nothing has expired', async () => {
        await store.createAccessTokenRecord(tokenRecord('t-future'));
        expect(await store.purgeExpired(t0, 100)).toBe(0);
      });
    });

    describe('transactions', () => {
      it('lets a change listener start a transaction of its own once a transaction has ended, which sees its writes', async () => {
        const seen: (string | undefined)[] = [];
        const done: Promise<unknown>[] = [];
        const unsubscribe = store.subscribeToChanges((change) => {
          if (change.kind !== 'client') return;
          done.push(store.transaction(async (tx) => seen.push((await tx.getClient(change.clientId))?.id)));
        });
        try {
          await store.transaction((tx) => tx.createClient(client('told')));
          await vi.waitFor(() => expect(done.length).toBeGreaterThan(0), { timeout: 5000, interval: 10 });
          await Promise.all(done);
          expect(seen).toContain('told');
        } finally {
          unsubscribe();
        }
      });

      it('keeps every write of work that succeeds and returns its value', async () => {
        const value = await store.transaction(async (tx) => {
          await tx.createClient(client('tx-1'));
          await tx.createSigningKey(signingKey('tx-key'));
          return 42;
        });
        expect(value).toBe(42);
        expect(await store.getClient('tx-1')).toBeDefined();
        expect(await store.listSigningKeys()).toHaveLength(1);
      });

      it('takes back every write of work that fails and rethrows its error', async () => {
        await store.createSigningKey(signingKey('k-keep'));
        const failure = new Error('work failed');
        await expect(
          store.transaction(async (tx) => {
            await tx.createClient(client('tx-gone'));
            await tx.createAccessTokenRecord(tokenRecord('tx-sig'));
            await tx.updateSigningKey(signingKey('k-keep', { state: 'active', activatedAt: t0 }));
            await tx.revokeTokenId('tx-jti', t0 + 1000);
            await tx.createHmacSecret(hmacSecret('tx-h', t0));
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(await store.getClient('tx-gone')).toBeUndefined();
        expect(await store.getAccessTokenRecord('tx-sig')).toBeUndefined();
        expect(await store.listSigningKeys()).toStrictEqual([signingKey('k-keep')]);
        expect(await store.isTokenIdRevoked('tx-jti')).toBe(false);
        expect(await store.listHmacSecrets()).toEqual([]);
      });

      it('takes back the work when one of its writes conflicts', async () => {
        await store.createClient(client('taken'));
        await expect(
          store.transaction(async (tx) => {
            await tx.createClient(client('fresh'));
            await tx.createClient(client('taken'));
          }),
        ).rejects.toBeInstanceOf(StorageConflictError);
        expect(await store.getClient('fresh')).toBeUndefined();
      });

      it('lets work read its own writes', async () => {
        await store.transaction(async (tx) => {
          await tx.createClient(client('seen'));
          expect(await tx.getClient('seen')).toBeDefined();
          await tx.deleteClient('seen');
          expect(await tx.getClient('seen')).toBeUndefined();
        });
      });

      it('keeps a write made outside a transaction while it ran, though the transaction failed', async () => {
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let inside!: () => void;
        const entered = new Promise<void>((resolve) => (inside = resolve));
        const failing = store.transaction(async (tx) => {
          await tx.createClient(client('inside'));
          inside();
          await held;
          throw new Error('rolled back');
        });
        await entered;
        const outside = store.createClient(client('outside'));
        release();
        await expect(failing).rejects.toThrow('rolled back');
        await outside;
        expect(await store.getClient('outside')).toBeDefined();
        expect(await store.getClient('inside')).toBeUndefined();
      });

      it('never acknowledges a write made outside a transaction that its rollback then takes back', async () => {
        await store.createClient(client('contested', { scopes: ['before'] }));
        await store.createAccessTokenRecord(tokenRecord('sig-contested', { clientId: 'before' }));
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let inside!: () => void;
        const entered = new Promise<void>((resolve) => (inside = resolve));
        const failing = store.transaction(async (tx) => {
          await tx.deleteClient('contested');
          await tx.deleteAccessTokenRecord('sig-contested');
          inside();
          await held;
          throw new Error('rolled back');
        });
        await entered;
        // Neither the deletions nor their rollback may be seen half-way from outside.
        const read = store.getClient('contested');
        const outsideClient = store.createClient(client('contested', { scopes: ['outside'] }));
        const outsideRecord = store.createAccessTokenRecord(tokenRecord('sig-contested', { clientId: 'outside' }));
        await yieldTurns();
        release();
        await expect(failing).rejects.toThrow('rolled back');
        const [createdClient, createdRecord] = await Promise.allSettled([outsideClient, outsideRecord]);
        expect((await read)?.scopes).toEqual(['before']);
        const client_ = await store.getClient('contested');
        const record = await store.getAccessTokenRecord('sig-contested');
        // Whatever a store answered the outside writes, what it acknowledged is what is kept.
        if (createdClient?.status === 'fulfilled') expect(client_?.scopes).toEqual(['outside']);
        else expect(client_?.scopes).toEqual(['before']);
        if (createdRecord?.status === 'fulfilled') expect(record?.clientId).toBe('outside');
        else expect(record?.clientId).toBe('before');
      });

      it('takes back records created inside failing work, and keeps many created at once outside it meanwhile', async () => {
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let inside!: () => void;
        const entered = new Promise<void>((resolve) => (inside = resolve));
        const failing = store.transaction(async (tx) => {
          for (let i = 0; i < 20; i++) await tx.createAccessTokenRecord(tokenRecord(`sig-in-${i}`));
          expect(await tx.getAccessTokenRecord('sig-in-19')).toBeDefined();
          inside();
          await held;
          throw new Error('rolled back');
        });
        await entered;
        const outside = Array.from({ length: 20 }, (_, i) =>
          store.createAccessTokenRecord(tokenRecord(`sig-out-${i}`)),
        );
        release();
        await expect(failing).rejects.toThrow('rolled back');
        await Promise.all(outside);
        for (let i = 0; i < 20; i++) {
          expect(await store.getAccessTokenRecord(`sig-in-${i}`)).toBeUndefined();
          expect(await store.getAccessTokenRecord(`sig-out-${i}`)).toBeDefined();
        }
      });

      it("refuses the transaction's store once the transaction has ended", async () => {
        const leaked = await store.transaction((tx) => Promise.resolve(tx));
        await expect(leaked.createClient(client('late'))).rejects.toThrow(/transaction has ended/);
        expect(await store.getClient('late')).toBeUndefined();
      });

      it('takes back only a failed nested transaction', async () => {
        await store.transaction(async (tx) => {
          await tx.createClient(client('outer'));
          await expect(
            tx.transaction(async (inner) => {
              await inner.createClient(client('inner'));
              throw new Error('inner failed');
            }),
          ).rejects.toThrow('inner failed');
        });
        expect(await store.getClient('outer')).toBeDefined();
        expect(await store.getClient('inner')).toBeUndefined();
      });

      it('runs exclusive transactions on the same name one after another', async () => {
        const peer = subject.openPeer ? await subject.openPeer() : store;
        await store.createClient(client('counter', { metadata: { count: 0 } }));
        const increment = (on: Storage) =>
          on.transaction(
            async (tx) => {
              const current = (await tx.getClient('counter'))!;
              await yieldTurns();
              await tx.updateClient({ ...current, metadata: { count: (current.metadata!.count as number) + 1 } });
            },
            { exclusive: 'counter' },
          );
        await Promise.all([increment(store), increment(peer), increment(store), increment(peer), increment(store)]);
        expect((await store.getClient('counter'))?.metadata).toEqual({ count: 5 });
      });

      it('yields exactly one active key when two instances activate one at the same time', async () => {
        const peer = subject.openPeer ? await subject.openPeer() : store;
        const activateIfNone = (on: Storage, kid: string) =>
          on.transaction(
            async (tx) => {
              const keys = await tx.listSigningKeys();
              await yieldTurns();
              if (!keys.some((key) => key.state === 'active')) {
                await tx.createSigningKey(signingKey(kid, { state: 'active', activatedAt: t0 }));
              }
            },
            { exclusive: 'signing-keys' },
          );
        await Promise.all([
          activateIfNone(store, 'k-one'),
          activateIfNone(peer, 'k-two'),
          activateIfNone(store, 'k-three'),
        ]);
        expect((await store.listSigningKeys()).filter((key) => key.state === 'active')).toHaveLength(1);
      });
    });

    describe('change feed', () => {
      it('tells subscribers which client, key set or token changed', async () => {
        await store.createClient(client('watched'));
        await store.createAccessTokenRecord(tokenRecord('sig-watched'));
        const seen: StorageChange[] = [];
        store.subscribeToChanges((change) => seen.push(change));

        await store.updateClient(client('watched', { scopes: ['x'] }));
        await store.deleteClient('watched');
        await store.createSigningKey(signingKey('k-w'));
        await store.updateSigningKey(signingKey('k-w', { state: 'active', activatedAt: t0 }));
        await store.deleteSigningKey('k-w');
        await store.createHmacSecret(hmacSecret('h-w', t0));
        await store.revokeTokenId('jti-w', t0 + 1000);
        await store.deleteAccessTokenRecord('sig-watched');

        expect(seen).toEqual([
          { kind: 'client', clientId: 'watched' },
          { kind: 'client', clientId: 'watched' },
          { kind: 'signing-keys' },
          { kind: 'signing-keys' },
          { kind: 'signing-keys' },
          { kind: 'hmac-secrets' },
          { kind: 'access-token', signature: 'jti-w' },
          { kind: 'access-token', signature: 'sig-watched' },
        ]);
      });

      it('tells subscribers of a created client, which a cache may have known as unknown', async () => {
        const seen: StorageChange[] = [];
        store.subscribeToChanges((change) => seen.push(change));
        await store.createClient(client('newcomer'));
        expect(seen).toEqual([{ kind: 'client', clientId: 'newcomer' }]);
      });

      it('tells nothing for writes that changed nothing', async () => {
        const seen: StorageChange[] = [];
        store.subscribeToChanges((change) => seen.push(change));
        await store.deleteClient('nobody');
        await store.deleteSigningKey('no-key');
        await store.deleteAccessTokenRecord('no-sig');
        await expect(store.updateClient(client('nobody'))).rejects.toBeInstanceOf(StorageNotFoundError);
        expect(seen).toEqual([]);
      });

      it('stops telling a subscriber that unsubscribed', async () => {
        await store.createClient(client('quiet'));
        const listener = vi.fn();
        const unsubscribe = store.subscribeToChanges(listener);
        unsubscribe();
        await store.deleteClient('quiet');
        expect(listener).not.toHaveBeenCalled();
      });

      it('tells the changes of a transaction only once it commits, and none of one that fails', async () => {
        await store.createClient(client('tx-watched'));
        const seen: StorageChange[] = [];
        store.subscribeToChanges((change) => seen.push(change));
        await store.transaction(async (tx) => {
          await tx.updateClient(client('tx-watched', { scopes: ['y'] }));
          expect(seen).toEqual([]);
        });
        expect(seen).toEqual([{ kind: 'client', clientId: 'tx-watched' }]);

        seen.length = 0;
        await expect(
          store.transaction(async (tx) => {
            await tx.deleteClient('tx-watched');
            throw new Error('changed my mind');
          }),
        ).rejects.toThrow('changed my mind');
        expect(seen).toEqual([]);
      });

      it('completes a write even when a subscriber throws', async () => {
        store.subscribeToChanges(() => {
          throw new Error('bad listener');
        });
        await store.createClient(client('sturdy'));
        expect(await store.getClient('sturdy')).toBeDefined();
      });

      it('tells the subscribers of another instance on the same database', async (context) => {
        if (!subject.openPeer) {
          context.skip('this store is not shared between instances');
          return;
        }
        const peer = await subject.openPeer();
        const seen: StorageChange[] = [];
        peer.subscribeToChanges((change) => seen.push(change));
        await subject.whenListening?.(peer);

        await store.createClient(client('shared'));
        await store.revokeTokenId('jti-shared', t0 + 1000);
        await store.createSigningKey(signingKey('k-shared'));

        const heard = (expected: StorageChange) =>
          seen.some((change) => change.kind === 'all' || JSON.stringify(change) === JSON.stringify(expected));
        await vi.waitFor(
          () => {
            expect(heard({ kind: 'client', clientId: 'shared' })).toBe(true);
            expect(heard({ kind: 'access-token', signature: 'jti-shared' })).toBe(true);
            expect(heard({ kind: 'signing-keys' })).toBe(true);
          },
          { timeout: 10_000, interval: 20 },
        );
        expect(await peer.getClient('shared')).toBeDefined();
      });
    });

    describe('lifecycle', () => {
      it('answers ping while open and refuses it after close', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
        await store.close();
        await expect(store.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
      });

      it('refuses every call after close with StorageUnavailableError, and a second close is harmless', async () => {
        await store.createClient(client('before-close'));
        await store.close();
        const calls: [string, () => Promise<unknown>][] = [
          ['getClient', () => store.getClient('before-close')],
          ['createClient', () => store.createClient(client('after-close'))],
          ['listClients', () => store.listClients()],
          ['createAccessTokenRecord', () => store.createAccessTokenRecord(tokenRecord('after-close'))],
          ['getAccessTokenRecord', () => store.getAccessTokenRecord('after-close')],
          ['revokeTokenId', () => store.revokeTokenId('jti-after-close', t0 + 1000)],
          ['transaction', () => store.transaction((tx) => tx.getClient('before-close'))],
        ];
        for (const [name, call] of calls) {
          await expect(call(), name).rejects.toBeInstanceOf(StorageUnavailableError);
        }
        await expect(store.close()).resolves.toBeUndefined();
      });
    });

    describe('values JSON cannot hold', () => {
      it('refuses a client whose metadata leads back to itself with a TypeError, and keeps nothing', async () => {
        const cyclic: Record<string, unknown> = { name: 'loop' };
        cyclic.self = cyclic;
        await expect(store.createClient(client('cyclic', { metadata: cyclic }))).rejects.toBeInstanceOf(TypeError);
        expect(await store.getClient('cyclic')).toBeUndefined();
        await store.createClient(client('cyclic'));
        await expect(store.updateClient(client('cyclic', { metadata: cyclic }))).rejects.toBeInstanceOf(TypeError);
        expect(await store.getClient('cyclic')).toStrictEqual(client('cyclic'));
      });

      it('refuses a BigInt in a client or signing key with a TypeError, as a rejection rather than a throw', async () => {
        const bigClient = store.createClient(client('big', { metadata: { n: 10n } }));
        await expect(bigClient).rejects.toBeInstanceOf(TypeError);
        const bigKey = store.createSigningKey(signingKey('k-big', { publicJwk: { kty: 'EC', n: 1n } }));
        await expect(bigKey).rejects.toBeInstanceOf(TypeError);
        expect(await store.listSigningKeys()).toEqual([]);
      });
    });
  });
}
