import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createManualClock } from '../core/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import type { StoredSigningKey } from '../storage/index.js';
import { createKeySealer, generateKeyEncryptionKey, SealedValueError, type KeySealer } from './key-encryption.js';
import { createRotatingKeySet, type RotatingKeySetOptions, type RotatingKeyStore } from './rotating-key-set.js';
import { generateSigningKey, signingAlgorithms } from './signing-key.js';

const minute = 60_000;

/** Options with small windows: JWKS max-age 5 min, refresh 1 min, tokens live 10 min, rotate daily. */
function setup(overrides: Partial<RotatingKeySetOptions> = {}) {
  const clock = createManualClock();
  const store = createMemoryStore();
  const sealer = createKeySealer(generateKeyEncryptionKey());
  const options: RotatingKeySetOptions = {
    store,
    sealer,
    clock,
    algorithm: 'ES256',
    jwksMaxAge: 300,
    refreshInterval: 60,
    maxTokenLifetime: 600,
    rotationPeriod: 86_400,
    ...overrides,
  };
  return { clock, store, sealer, options };
}

/**
 * Counts what reaches the store, as a proxy over a real one (without its change feed);
 * `overrides` replace methods, inside transactions too, to simulate faults.
 */
function countingStore(store: RotatingKeyStore, overrides: Partial<RotatingKeyStore> = {}) {
  const counts = { listSigningKeys: 0, transaction: 0 };
  const wrapped: RotatingKeyStore = {
    listSigningKeys: () => {
      counts.listSigningKeys++;
      return store.listSigningKeys();
    },
    createSigningKey: (key) => store.createSigningKey(key),
    updateSigningKey: (key) => store.updateSigningKey(key),
    deleteSigningKey: (kid) => store.deleteSigningKey(kid),
    transaction: (work, options) => {
      counts.transaction++;
      return store.transaction(() => work(wrapped), options);
    },
    ...overrides,
  };
  return { wrapped, counts };
}

function countingSealer(sealer: KeySealer) {
  const counts = { open: 0 };
  const wrapped: KeySealer = {
    ...sealer,
    open: (sealed, context) => {
      counts.open++;
      return sealer.open(sealed, context);
    },
    openText: (sealed, context) => {
      counts.open++;
      return sealer.openText(sealed, context);
    },
  };
  return { wrapped, counts };
}

const byState = (keys: readonly StoredSigningKey[], state: StoredSigningKey['state']) =>
  keys.filter((key) => key.state === state);

/** Replaces the next key with one sealed under a KEK of its own, as another instance given another KEK would. */
async function putForeignNextKey(store: RotatingKeyStore): Promise<void> {
  const [next] = byState(await store.listSigningKeys(), 'next');
  const foreign = await generateSigningKey('ES256');
  const pem = foreign.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await store.deleteSigningKey(next!.kid);
  await store.createSigningKey({
    kid: foreign.kid,
    alg: foreign.alg,
    state: 'next',
    publicJwk: foreign.publicJwk,
    sealedPrivateKey: createKeySealer(generateKeyEncryptionKey()).seal(pem, foreign.kid),
    createdAt: next!.createdAt,
  });
}

describe('rotating key set', () => {
  it('creates an active and a next key in an empty store, private parts sealed', async () => {
    const { store, sealer, options } = setup();
    const keys = await createRotatingKeySet(options);
    const stored = await store.listSigningKeys();
    expect(stored.map((key) => key.state).sort()).toEqual(['active', 'next']);
    const active = byState(stored, 'active')[0]!;
    expect(active.sealedPrivateKey).toMatch(/^v1\./);
    expect(active.sealedPrivateKey).not.toContain('PRIVATE KEY');
    expect(sealer.openText(active.sealedPrivateKey, active.kid)).toContain('BEGIN PRIVATE KEY');
    expect((await keys.getSigningKey()).kid).toBe(active.kid);
  });

  it('creates exactly one active and one next key when instances start on an empty store at once', async () => {
    const { store, options } = setup();
    const sets = await Promise.all([1, 2, 3].map(() => createRotatingKeySet(options)));
    const stored = await store.listSigningKeys();
    expect(byState(stored, 'active')).toHaveLength(1);
    expect(byState(stored, 'next')).toHaveLength(1);
    const kids = await Promise.all(sets.map(async (set) => (await set.getSigningKey()).kid));
    expect(new Set(kids).size).toBe(1);
  });

  it('uses RFC 7638 thumbprints as kid', async () => {
    const { options } = setup();
    const keys = await createRotatingKeySet(options);
    for (const jwk of (await keys.getPublicJwks()).keys) {
      expect(jwk.kid).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    }
  });

  it('signs from memory: no store read and no unsealing per call', async () => {
    const { clock, store, sealer, options } = setup();
    await createRotatingKeySet(options);
    const counted = countingStore(store);
    const sealing = countingSealer(sealer);
    const keys = await createRotatingKeySet({ ...options, store: counted.wrapped, sealer: sealing.wrapped });
    const reads = counted.counts.listSigningKeys;
    expect(sealing.counts.open).toBe(1);
    for (let call = 0; call < 50; call++) {
      await keys.getSigningKey();
      clock.advance(500);
    }
    expect(counted.counts.listSigningKeys).toBe(reads);
    expect(sealing.counts.open).toBe(1);
  });

  it('reads the store again after the refresh interval, without unsealing a known key again', async () => {
    const { clock, store, sealer, options } = setup();
    const counted = countingStore(store);
    const sealing = countingSealer(sealer);
    const keys = await createRotatingKeySet({ ...options, store: counted.wrapped, sealer: sealing.wrapped });
    const reads = counted.counts.listSigningKeys;
    clock.advance(minute);
    await keys.getSigningKey();
    expect(counted.counts.listSigningKeys).toBe(reads + 1);
    expect(sealing.counts.open).toBe(0);
  });

  it('publishes next, active and retired keys, never a private member', async () => {
    const { clock, options } = setup({ algorithm: 'RS256' });
    const keys = await createRotatingKeySet(options);
    clock.advance(6 * minute);
    expect((await keys.rotate()).rotated).toBe(true);
    const jwks = await keys.getPublicJwks();
    expect(jwks.keys).toHaveLength(3);
    for (const jwk of jwks.keys) {
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) expect(jwk).not.toHaveProperty(member);
      expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    }
  });

  it('drops private members a store record carries, rather than publishing them', async () => {
    const { store, options } = setup({ algorithm: 'RS256' });
    const keys = await createRotatingKeySet(options);
    const [record] = await store.listSigningKeys();
    await store.updateSigningKey({ ...record!, publicJwk: { ...record!.publicJwk, d: 'c2VjcmV0', p: 'cA' } });
    await keys.refresh();
    for (const jwk of (await keys.getPublicJwks()).keys) {
      expect(jwk).not.toHaveProperty('d');
      expect(jwk).not.toHaveProperty('p');
    }
  });

  it.each([
    ['a kid other than the record’s', { kid: 'someone-else' }],
    ['an alg other than the record’s', { alg: 'PS256' }],
    ['use "enc"', { use: 'enc' }],
    ['no use', { use: undefined }],
    ['key_ops without "verify"', { key_ops: ['encrypt'] }],
    ['an ext that is not a boolean', { ext: 'no' }],
  ])(
    'RFC 7517 §4.2, §4.3 refuses to publish a stored public JWK with %s, also when the record changed after it was first checked',
    async (_title, change) => {
      const { store, options } = setup({ algorithm: 'RS256' });
      const keys = await createRotatingKeySet(options);
      const [record] = byState(await store.listSigningKeys(), 'next');
      await store.updateSigningKey({ ...record!, publicJwk: { ...record!.publicJwk, ...change } });
      await expect(keys.refresh()).rejects.toThrow(/does not match its public JWK/);
      await expect(createRotatingKeySet(options)).rejects.toThrow(/does not match its public JWK/);
      // The instance that had read the keys before goes on publishing what it checked.
      const published = (await keys.getPublicJwks()).keys.find((jwk) => jwk.kid === record!.kid);
      expect(published).toMatchObject({ kid: record!.kid, alg: 'RS256', use: 'sig' });
    },
  );

  it('does not promote a next key before it was published for the pre-publication window', async () => {
    const { clock, store, options } = setup();
    const keys = await createRotatingKeySet(options);
    const before = await keys.getSigningKey();
    // Window: jwksMaxAge 300 s + refreshInterval 60 s.
    clock.advance(6 * minute - 1);
    expect(await keys.rotate()).toMatchObject({ rotated: false, reason: 'not-pre-published' });
    expect((await keys.getSigningKey()).kid).toBe(before.kid);
    clock.advance(1);
    const result = await keys.rotate();
    expect(result.rotated).toBe(true);
    expect((await keys.getSigningKey()).kid).toBe(result.activeKid);
    const stored = await store.listSigningKeys();
    expect(byState(stored, 'retired').map((key) => key.kid)).toEqual([before.kid]);
    expect(byState(stored, 'next').map((key) => key.kid)).toEqual([result.nextKid]);
  });

  it('promotes at once when asked to rotate immediately', async () => {
    const { options } = setup();
    const keys = await createRotatingKeySet(options);
    const { kid } = await keys.getSigningKey();
    const result = await keys.rotate({ immediate: true });
    expect(result.rotated).toBe(true);
    expect((await keys.getSigningKey()).kid).not.toBe(kid);
  });

  it('leaves exactly one active key when two instances rotate at the same moment', async () => {
    const { clock, store, options } = setup();
    const first = await createRotatingKeySet(options);
    const second = await createRotatingKeySet(options);
    clock.advance(10 * minute);
    const results = await Promise.all([first.rotate(), second.rotate()]);
    expect(results.filter((result) => result.rotated)).toHaveLength(1);
    expect(results.find((result) => !result.rotated)?.reason).toBe('already-rotated');
    const stored = await store.listSigningKeys();
    expect(byState(stored, 'active')).toHaveLength(1);
    expect(byState(stored, 'next')).toHaveLength(1);
    expect(byState(stored, 'retired')).toHaveLength(1);
    expect((await first.getSigningKey()).kid).toBe((await second.getSigningKey()).kid);
  });

  it('leaves exactly one active key when two instances rotate immediately at the same moment', async () => {
    const { store, options } = setup();
    const first = await createRotatingKeySet(options);
    const second = await createRotatingKeySet(options);
    await Promise.all([first.rotate({ immediate: true }), second.rotate({ immediate: true })]);
    const stored = await store.listSigningKeys();
    expect(byState(stored, 'active')).toHaveLength(1);
    expect(byState(stored, 'retired')).toHaveLength(1);
  });

  it('does nothing when the expected active key is no longer active', async () => {
    const { options } = setup();
    const keys = await createRotatingKeySet(options);
    expect(await keys.rotate({ expectedActiveKid: 'someone-else', immediate: true })).toMatchObject({
      rotated: false,
      reason: 'already-rotated',
    });
  });

  it('rotates by itself once the rotation period has passed', async () => {
    const { clock, options } = setup({ rotationPeriod: 3600 });
    const keys = await createRotatingKeySet(options);
    const first = await keys.getSigningKey();
    clock.advance(59 * minute);
    expect((await keys.getSigningKey()).kid).toBe(first.kid);
    clock.advance(minute);
    const second = await keys.getSigningKey();
    expect(second.kid).not.toBe(first.kid);
    expect((await keys.listKeys()).find((key) => key.kid === first.kid)?.state).toBe('retired');
  });

  it('never rotates by itself when the rotation period is Infinity', async () => {
    const { clock, options } = setup({ rotationPeriod: Infinity });
    const keys = await createRotatingKeySet(options);
    const first = await keys.getSigningKey();
    clock.advance(365 * 24 * 60 * minute);
    expect((await keys.getSigningKey()).kid).toBe(first.kid);
  });

  it('keeps a retired key published until its last token expired, then removes it', async () => {
    const { clock, store, options } = setup();
    const keys = await createRotatingKeySet(options);
    const old = await keys.getSigningKey();
    clock.advance(6 * minute);
    await keys.rotate();
    const retired = (await keys.listKeys()).find((key) => key.kid === old.kid)!;
    // maxTokenLifetime 600 s + refreshInterval 60 s.
    expect(retired.removeAfter).toBe(retired.retiredAt! + 11 * minute);
    clock.advance(11 * minute - 1);
    expect((await keys.getPublicJwks()).keys.map((jwk) => jwk.kid)).toContain(old.kid);
    clock.advance(1);
    expect((await keys.getPublicJwks()).keys.map((jwk) => jwk.kid)).not.toContain(old.kid);
    await keys.refresh();
    expect((await store.listSigningKeys()).map((key) => key.kid)).not.toContain(old.kid);
  });

  it('keeps whole milliseconds in the store under a clock with a fraction and durations with one', async () => {
    const { clock, store, options } = setup({ maxTokenLifetime: 0.3333, refreshInterval: 0.5 });
    clock.set(Date.UTC(2026, 0, 1) + 0.25);
    const keys = await createRotatingKeySet(options);
    await keys.rotate({ immediate: true });
    const stored = await store.listSigningKeys();
    expect(stored.map((key) => key.state).sort()).toEqual(['active', 'next', 'retired']);
    for (const key of stored) {
      for (const time of [key.createdAt, key.activatedAt, key.retiredAt, key.removeAfter]) {
        if (time !== undefined) expect(Number.isSafeInteger(time)).toBe(true);
      }
    }
    const retired = stored.find((key) => key.state === 'retired')!;
    // Rounded up: the retired key is never dropped before its last token could expire.
    expect(retired.removeAfter).toBe(retired.retiredAt! + 834);
  });

  it('learns of another instance rotating at once through the change feed', async () => {
    const { clock, options } = setup();
    const first = await createRotatingKeySet(options);
    const second = await createRotatingKeySet(options);
    clock.advance(6 * minute);
    const { activeKid } = await first.rotate();
    expect((await second.getSigningKey()).kid).toBe(activeKid);
  });

  it('learns of another instance rotating within the refresh interval when the store has no change feed', async () => {
    const { clock, store, options } = setup();
    const first = await createRotatingKeySet(options);
    const second = await createRotatingKeySet({ ...options, store: countingStore(store).wrapped });
    clock.advance(6 * minute);
    const before = await second.getSigningKey();
    const { activeKid } = await first.rotate();
    expect((await second.getSigningKey()).kid).toBe(before.kid);
    clock.advance(minute);
    expect((await second.getSigningKey()).kid).toBe(activeKid);
  });

  /** A key set that has read its keys once; `goDown()` makes every later store read fail. */
  async function keySetThatLosesItsStore() {
    const { clock, store, options } = setup();
    let down = false;
    const flaky = countingStore(store, {
      listSigningKeys: () => (down ? Promise.reject(new Error('connection refused')) : store.listSigningKeys()),
    }).wrapped;
    const reported: Error[] = [];
    const keys = await createRotatingKeySet({ ...options, store: flaky, reportError: (e) => reported.push(e) });
    const { kid } = await keys.getSigningKey();
    return { clock, keys, kid, reported, goDown: () => (down = true) };
  }

  it('keeps signing with the keys it knows while the store is unreachable', async () => {
    const { clock, keys, kid, reported, goDown } = await keySetThatLosesItsStore();
    goDown();
    clock.advance(2 * minute);
    expect((await keys.getSigningKey()).kid).toBe(kid);
    expect(reported.map((error) => error.message)).toContain('connection refused');
  });

  it('reports a failed re-read once, however many calls were waiting on it', async () => {
    const { clock, keys, kid, reported, goDown } = await keySetThatLosesItsStore();
    goDown();
    clock.advance(2 * minute);
    const signed = await Promise.all(Array.from({ length: 8 }, () => keys.getSigningKey()));
    expect(signed.map((key) => key.kid)).toEqual(Array.from({ length: 8 }, () => kid));
    expect(reported.map((error) => error.message)).toEqual(['connection refused']);
    // The next failed read, after the back-off, is a failure of its own and is reported.
    clock.advance(1000);
    await Promise.all([keys.getSigningKey(), keys.getSigningKey()]);
    expect(reported.map((error) => error.message)).toEqual(['connection refused', 'connection refused']);
  });

  it('retries a failed re-read after 1 s, doubling up to the refresh interval, not on every call', async () => {
    const { clock, store, options } = setup();
    let failuresLeft = 0;
    const readAt: number[] = [];
    const flaky = countingStore(store, {
      listSigningKeys: () => {
        readAt.push(clock.now());
        if (failuresLeft === 0) return store.listSigningKeys();
        failuresLeft--;
        return Promise.reject(new Error('connection refused'));
      },
    }).wrapped;
    const reported: Error[] = [];
    const keys = await createRotatingKeySet({ ...options, store: flaky, reportError: (e) => reported.push(e) });
    const { kid } = await keys.getSigningKey();
    failuresLeft = 9;
    clock.advance(2 * minute);
    readAt.length = 0;
    // Ten calls at the same moment: one read, which fails; the last good keys still sign.
    for (let call = 0; call < 10; call++) expect((await keys.getSigningKey()).kid).toBe(kid);
    expect(readAt).toHaveLength(1);
    // One call a second for twelve minutes: the store is asked only when the back-off allows.
    for (let second = 0; second < 12 * 60; second++) {
      clock.advance(1000);
      expect((await keys.getSigningKey()).kid).toBe(kid);
    }
    const gaps = readAt.slice(1).map((at, index) => at - readAt[index]!);
    // Nine failures, then the read that works; after it, one read per refresh interval again.
    expect(gaps.slice(0, 9)).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect(gaps.slice(9).every((gap) => gap === minute)).toBe(true);
    expect(reported).toHaveLength(9);
  });

  it('keeps a change announced by the change feed when the re-read fails, and reads it once the store is back', async () => {
    const { clock, store, options } = setup();
    let down = false;
    const flaky: RotatingKeyStore = {
      ...countingStore(store, {
        listSigningKeys: () => (down ? Promise.reject(new Error('connection refused')) : store.listSigningKeys()),
      }).wrapped,
      subscribeToChanges: (listener) => store.subscribeToChanges(listener),
    };
    const first = await createRotatingKeySet(options);
    const second = await createRotatingKeySet({ ...options, store: flaky, reportError: () => undefined });
    const before = await second.getSigningKey();
    const { activeKid } = await first.rotate({ immediate: true });
    down = true;
    expect((await second.getSigningKey()).kid).toBe(before.kid);
    down = false;
    // Well within the refresh interval: only the remembered change makes it read again.
    clock.advance(1000);
    expect((await second.getSigningKey()).kid).toBe(activeKid);
  });

  it('keeps signing when an automatic rotation fails, and retries after the refresh interval, not per call', async () => {
    const { clock, store, options } = setup({ rotationPeriod: 3600 });
    let writesFail = false;
    const counted = countingStore(store, {
      updateSigningKey: (key) => (writesFail ? Promise.reject(new Error('disk full')) : store.updateSigningKey(key)),
    });
    const failing = counted.wrapped;
    const reported: Error[] = [];
    const keys = await createRotatingKeySet({ ...options, store: failing, reportError: (e) => reported.push(e) });
    const { kid } = await keys.getSigningKey();
    writesFail = true;
    clock.advance(60 * minute);
    expect((await keys.getSigningKey()).kid).toBe(kid);
    const attempts = counted.counts.transaction;
    for (let call = 0; call < 10; call++) expect((await keys.getSigningKey()).kid).toBe(kid);
    expect(counted.counts.transaction).toBe(attempts);
    expect(reported.map((error) => error.message)).toContain('disk full');
    writesFail = false;
    clock.advance(minute);
    expect((await keys.getSigningKey()).kid).not.toBe(kid);
  });

  it('keeps signing when an automatic rotation fails and the error reporter itself throws', async () => {
    const { clock, store, options } = setup({ rotationPeriod: 3600 });
    const failing = countingStore(store, { updateSigningKey: () => Promise.reject(new Error('disk full')) }).wrapped;
    const keys = await createRotatingKeySet({
      ...options,
      store: failing,
      reportError: () => {
        throw new Error('the log is full');
      },
    });
    const { kid } = await keys.getSigningKey();
    clock.advance(60 * minute);
    expect((await keys.getSigningKey()).kid).toBe(kid);
  });

  it('refuses to start when the keys were sealed under another KEK', async () => {
    const { options } = setup();
    await createRotatingKeySet(options);
    const other = createKeySealer(generateKeyEncryptionKey());
    const [active] = byState(await options.store.listSigningKeys(), 'active');
    const refusal = createRotatingKeySet({ ...options, sealer: other });
    await expect(refusal).rejects.toThrow(SealedValueError);
    // The message names the record, so an operator knows which key it is about.
    await expect(refusal).rejects.toThrow(`signing key "${active!.kid}"`);
  });

  it('refuses to promote a next key it cannot open, changing nothing in the store', async () => {
    const { store, options } = setup();
    const keys = await createRotatingKeySet(options);
    const { kid: activeKid } = await keys.getSigningKey();
    await putForeignNextKey(store);
    await keys.refresh();
    const before = await store.listSigningKeys();
    await expect(keys.rotate({ immediate: true })).rejects.toThrow(SealedValueError);
    expect(await store.listSigningKeys()).toStrictEqual(before);
    expect((await keys.getSigningKey()).kid).toBe(activeKid);
  });

  it('keeps signing with its active key when an automatic rotation meets a next key it cannot open, changing nothing', async () => {
    const { clock, store, options } = setup({ rotationPeriod: 3600 });
    const reported: Error[] = [];
    const keys = await createRotatingKeySet({ ...options, reportError: (e) => reported.push(e) });
    const { kid } = await keys.getSigningKey();
    await putForeignNextKey(store);
    await keys.refresh();
    const before = await store.listSigningKeys();
    clock.advance(60 * minute);
    const key = await keys.getSigningKey();
    expect(key.kid).toBe(kid);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(SealedValueError);
    expect(await store.listSigningKeys()).toStrictEqual(before);
    const token = await new SignJWT({}).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
    const jwks = createLocalJWKSet({ keys: [...(await keys.getPublicJwks()).keys] });
    await expect(jwtVerify(token, jwks)).resolves.toBeDefined();
    // Tried again a refresh interval later, not per call, and refused again.
    await keys.getSigningKey();
    expect(reported).toHaveLength(1);
    clock.advance(minute);
    expect((await keys.getSigningKey()).kid).toBe(kid);
    expect(reported).toHaveLength(2);
    expect(await store.listSigningKeys()).toStrictEqual(before);
  });

  it('refuses to make a next key it cannot open active in a store that lost its active key, changing nothing', async () => {
    const { store, options } = setup();
    const keys = await createRotatingKeySet(options);
    await putForeignNextKey(store);
    const [active] = byState(await store.listSigningKeys(), 'active');
    await store.deleteSigningKey(active!.kid);
    const before = await store.listSigningKeys();
    await expect(keys.rotate({ immediate: true })).rejects.toThrow(SealedValueError);
    expect(await store.listSigningKeys()).toStrictEqual(before);
    await expect(createRotatingKeySet(options)).rejects.toThrow(SealedValueError);
    expect(await store.listSigningKeys()).toStrictEqual(before);
  });

  it('re-seals every key under a new KEK and then opens them with it alone', async () => {
    const { store, options } = setup();
    const oldKek = generateKeyEncryptionKey();
    const keys = await createRotatingKeySet({ ...options, sealer: createKeySealer(oldKek) });
    const newKek = generateKeyEncryptionKey();
    const both = await createRotatingKeySet({ ...options, sealer: createKeySealer(newKek, [oldKek]) });
    expect(await both.resealKeys()).toBe(2);
    for (const key of await store.listSigningKeys()) expect(key.sealedPrivateKey.split('.')[1]).toBe(newKek.id);
    const onlyNew = await createRotatingKeySet({ ...options, sealer: createKeySealer(newKek) });
    expect((await onlyNew.getSigningKey()).kid).toBe((await keys.getSigningKey()).kid);
  });

  it.each(signingAlgorithms)('generates %s keys whose tokens verify against the JWK Set', async (algorithm) => {
    const { options } = setup({ algorithm });
    const keys = await createRotatingKeySet(options);
    const key = await keys.getSigningKey();
    expect(key.alg).toBe(algorithm);
    expect(keys.algorithms).toEqual([algorithm]);
    const token = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .sign(key.privateKey);
    const jwks = createLocalJWKSet({ keys: [...(await keys.getPublicJwks()).keys] });
    await expect(jwtVerify(token, jwks, { algorithms: [algorithm] })).resolves.toBeDefined();
  });

  it.each([
    ['rotationPeriod 0', { rotationPeriod: 0 }],
    ['negative jwksMaxAge', { jwksMaxAge: -1 }],
    ['a jwksMaxAge of a fraction of a second (RFC 9111 §1.2.2: max-age takes whole seconds)', { jwksMaxAge: 0.5 }],
    ['jwksMaxAge NaN', { jwksMaxAge: Number.NaN }],
    ['maxTokenLifetime NaN', { maxTokenLifetime: Number.NaN }],
    ['refreshInterval Infinity', { refreshInterval: Infinity }],
    ['an unknown algorithm', { algorithm: 'HS256' as never }],
  ])('rejects %s with a TypeError', async (_title, overrides) => {
    const { options } = setup(overrides);
    await expect(createRotatingKeySet(options)).rejects.toThrow(TypeError);
  });
});
