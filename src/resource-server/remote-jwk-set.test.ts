import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT, type CompactJWSHeaderParameters } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLocalJwkSet, createRemoteJwkSet, KeySourceError, type KeyResolver } from './remote-jwk-set.js';

describe('createLocalJwkSet', () => {
  it('hands over one copy of its set, the same object on every call, equal to the set given', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const given = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] };
    const resolver = createLocalJwkSet(given) as ReturnType<typeof createLocalJwkSet> & {
      jwks(): typeof given;
    };
    const first = resolver.jwks();
    expect(resolver.jwks()).toBe(first);
    expect(first).toStrictEqual(given);
    expect(first).not.toBe(given);
    // Changing the caller's object afterwards changes nothing the resolver holds.
    given.keys[0]!.kid = 'changed';
    expect(resolver.jwks().keys[0]!.kid).toBe('k1');
    // And it still resolves keys as jose's resolver does.
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
    const [header] = token.split('.');
    const key = await resolver(JSON.parse(Buffer.from(header!, 'base64url').toString()), {
      payload: '',
      signature: '',
      protected: header,
    });
    expect(key).toBeDefined();
  });
});

describe('createRemoteJwkSet while the key source fails', () => {
  /** A JWK Set endpoint that counts fetches and can be told to fail. */
  async function startKeySource(jwks: object, options: { declareLength?: boolean } = {}) {
    let failing = false;
    let fetches = 0;
    const server = createServer((_request, response) => {
      fetches++;
      if (failing) {
        response.writeHead(503).end();
        return;
      }
      const body = JSON.stringify(jwks);
      response.writeHead(200, {
        'content-type': 'application/json',
        ...(options.declareLength ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
      });
      for (let at = 0; at < body.length; at += 64 * 1024) response.write(body.slice(at, at + 64 * 1024));
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/jwks`,
      fetches: () => fetches,
      fail: (value: boolean) => {
        failing = value;
      },
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  async function signedKeyResolution() {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] };
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
    const [encodedHeader] = token.split('.');
    const header = JSON.parse(Buffer.from(encodedHeader!, 'base64url').toString()) as CompactJWSHeaderParameters;
    const resolve = async (resolver: KeyResolver) =>
      resolver(header, { payload: '', signature: '', protected: encodedHeader });
    return { jwks, resolve };
  }

  let source: Awaited<ReturnType<typeof startKeySource>> | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await source?.close();
    source = undefined;
  });

  it('keeps using the last fetched set for staleIfError past cacheMaxAge while fetching fails', async () => {
    const { jwks, resolve } = await signedKeyResolution();
    source = await startKeySource(jwks);
    vi.useFakeTimers({ toFake: ['Date'] });
    const resolver = createRemoteJwkSet(source.url, { cacheMaxAge: 60, staleIfError: 600 });
    await expect(resolve(resolver)).resolves.toBeDefined();
    source.fail(true);
    vi.advanceTimersByTime(61_000);
    await expect(resolve(resolver)).resolves.toBeDefined();
    expect(source.fetches()).toBe(2);
    vi.advanceTimersByTime(600_000);
    await expect(resolve(resolver)).rejects.toBeInstanceOf(KeySourceError);
  });

  it('answers a kid the last fetched set lacks as a key-source failure while fetching fails, not as the token’s fault', async () => {
    const { jwks, resolve } = await signedKeyResolution();
    source = await startKeySource(jwks);
    const resolver = createRemoteJwkSet(source.url, { cooldown: 0 });
    await expect(resolve(resolver)).resolves.toBeDefined();
    source.fail(true);
    const unknownKid = { alg: 'ES256', kid: 'published-after-the-last-fetch' } as const;
    await expect(resolver(unknownKid, { payload: '', signature: '' })).rejects.toBeInstanceOf(KeySourceError);
    // During the wait before the next fetch too, and the known key still resolves.
    await expect(resolver(unknownKid, { payload: '', signature: '' })).rejects.toBeInstanceOf(KeySourceError);
    await expect(resolve(resolver)).resolves.toBeDefined();
  });

  it('refuses as a key-source failure once cacheMaxAge has passed when staleIfError is 0', async () => {
    const { jwks, resolve } = await signedKeyResolution();
    source = await startKeySource(jwks);
    vi.useFakeTimers({ toFake: ['Date'] });
    const resolver = createRemoteJwkSet(source.url, { cacheMaxAge: 60, staleIfError: 0 });
    await expect(resolve(resolver)).resolves.toBeDefined();
    source.fail(true);
    vi.advanceTimersByTime(61_000);
    await expect(resolve(resolver)).rejects.toBeInstanceOf(KeySourceError);
  });

  it('after a failed fetch, waits 1 s, then 2 s, before asking the key source again, however many tokens come', async () => {
    const { jwks, resolve } = await signedKeyResolution();
    source = await startKeySource(jwks);
    source.fail(true);
    vi.useFakeTimers({ toFake: ['Date'] });
    const resolver = createRemoteJwkSet(source.url);
    // Tokens arriving together share one fetch and count as one failure.
    const together = await Promise.allSettled(Array.from({ length: 5 }, () => resolve(resolver)));
    expect(together.every((outcome) => outcome.status === 'rejected')).toBe(true);
    expect(source.fetches()).toBe(1);
    for (let i = 0; i < 10; i++) await expect(resolve(resolver)).rejects.toBeInstanceOf(KeySourceError);
    expect(source.fetches()).toBe(1);
    vi.advanceTimersByTime(1000);
    await expect(resolve(resolver)).rejects.toBeInstanceOf(KeySourceError);
    expect(source.fetches()).toBe(2);
    vi.advanceTimersByTime(1999);
    await expect(resolve(resolver)).rejects.toBeInstanceOf(KeySourceError);
    expect(source.fetches()).toBe(2);
    // The key source is back: the next fetch after the wait succeeds, and failures count from 0 again.
    source.fail(false);
    vi.advanceTimersByTime(1);
    await expect(resolve(resolver)).resolves.toBeDefined();
    expect(source.fetches()).toBe(3);
  });

  it.each([true, false])(
    'refuses as a key-source failure a JWK Set over 1 MiB (length declared: %s)',
    async (declareLength) => {
      const { jwks, resolve } = await signedKeyResolution();
      source = await startKeySource({ ...jwks, padding: 'x'.repeat(2 * 1024 * 1024) }, { declareLength });
      await expect(resolve(createRemoteJwkSet(source.url))).rejects.toBeInstanceOf(KeySourceError);
    },
  );

  it('still reads a JWK Set of many keys, well under the limit', async () => {
    const { jwks, resolve } = await signedKeyResolution();
    const others = Array.from({ length: 200 }, (_, i) => ({ ...jwks.keys[0]!, kid: `other-${i}` }));
    source = await startKeySource({ keys: [...others, ...jwks.keys] });
    await expect(resolve(createRemoteJwkSet(source.url))).resolves.toBeDefined();
  });
});
