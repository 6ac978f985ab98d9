import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createStaticKeySet, generateSigningKey, signingAlgorithms } from '../keys/index.js';
import {
  createSignatureBatch,
  inlineSignatures,
  jwtAccessTokenStrategy,
  signCompactJwt,
  toJwtPayload,
} from './jwt-access-token.js';

const issuer = 'https://auth.test.example';

describe.each(signingAlgorithms)('node:crypto signing, %s', (alg) => {
  it('RFC 7515 §7.1 makes compact JWS tokens that jose verifies against the published key', async () => {
    const keys = createStaticKeySet([await generateSigningKey(alg)]);
    const strategy = jwtAccessTokenStrategy({ keys, issuer });
    const jwks = createLocalJWKSet({ keys: [...(await keys.getPublicJwks()).keys] });
    const now = Date.now();
    const issued = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        strategy.issueAccessToken({
          issuer,
          subject: `client-${index}`,
          clientId: `client-${index}`,
          audience: ['https://api.example'],
          scopes: index % 2 === 0 ? ['read', 'write'] : [],
          issuedAt: now,
          expiresAt: now + 60_000,
          extraClaims: { note: `ünïcödé ${'€'.repeat(index)} "quoted" \\ /` },
        }),
      ),
    );
    for (const [index, { token, signature }] of issued.entries()) {
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer,
        audience: 'https://api.example',
        typ: 'at+jwt',
        algorithms: [alg],
      });
      expect(protectedHeader).toEqual({ alg, typ: 'at+jwt', kid: (await keys.getSigningKey()).kid });
      expect(payload.jti).toBe(signature);
      expect(payload.client_id).toBe(`client-${index}`);
      expect(payload.note).toBe(`ünïcödé ${'€'.repeat(index)} "quoted" \\ /`);
      expect(payload.scope).toBe(index % 2 === 0 ? 'read write' : undefined);
    }
  });

  it('RFC 7515 §5.2 makes a signature jose rejects once the payload is altered', async () => {
    const key = await generateSigningKey(alg);
    const jwks = createLocalJWKSet({ keys: [key.publicJwk] });
    const token = await signCompactJwt(key, { sub: 'a', iss: issuer });
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'b', iss: issuer })).toString('base64url')}.${signature}`;
    await expect(jwtVerify(forged, jwks)).rejects.toThrow();
    expect(decodeProtectedHeader(token).alg).toBe(alg);
  });
});

describe('inline signatures (ES256, EdDSA) made together at the end of the turn', () => {
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('signs every request of a turn in one go, after the turn, and each token verifies with jose', async () => {
    const key = await generateSigningKey('ES256');
    const jwks = createLocalJWKSet({ keys: [key.publicJwk] });
    const before = inlineSignatures.size;
    const tokens = Array.from({ length: 5 }, (_, index) =>
      signCompactJwt(key, { sub: `client-${index}`, iss: issuer }),
    );
    // Nothing is signed while the turn that asked is still running.
    expect(inlineSignatures.size).toBe(before + 5);
    const signed = await Promise.all(tokens);
    expect(inlineSignatures.size).toBe(0);
    for (const [index, token] of signed.entries()) {
      const { payload } = await jwtVerify(token, jwks, { issuer, algorithms: ['ES256'] });
      expect(payload.sub).toBe(`client-${index}`);
    }
  });

  it('makes at most the batch limit in one turn and the rest in the next', async () => {
    const batch = createSignatureBatch(2);
    const turns: number[] = [];
    let turn = 0;
    // Counts turns of the event loop: it runs once per turn, just before the batch's own callback.
    const counter = setImmediate(function count() {
      turn++;
      if (turns.length < 5) setImmediate(count);
    });
    const signed = Array.from({ length: 5 }, (_, index) =>
      batch.add(`input-${index}`, () => {
        turns.push(turn);
        return Buffer.from([index]);
      }),
    );
    expect(await Promise.all(signed)).toEqual(
      [0, 1, 2, 3, 4].map((index) => `input-${index}.${Buffer.from([index]).toString('base64url')}`),
    );
    clearImmediate(counter);
    // Two, two, then one: three different turns, in the order asked.
    expect(turns[0]).toBe(turns[1]);
    expect(turns[2]).toBe(turns[3]);
    expect(new Set(turns).size).toBe(3);
    expect([...turns].sort((a, b) => a - b)).toEqual(turns);
  });

  it('rejects only the signature that failed; the others of its batch are made', async () => {
    const batch = createSignatureBatch(8);
    const results = await Promise.allSettled([
      batch.add('a', () => Buffer.from('a')),
      batch.add('b', () => {
        throw new Error('no key');
      }),
      batch.add('c', () => Buffer.from('c')),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(Error);
    await nextTurn();
    expect(batch.size).toBe(0);
  });

  it('signs a lone request without waiting for more', async () => {
    const key = await generateSigningKey('EdDSA');
    let signed = false;
    void signCompactJwt(key, { sub: 'alone', iss: issuer }).then(() => {
      signed = true;
    });
    expect(signed).toBe(false);
    // Settled by the end of the turn it was asked in: no timer, no further request needed.
    await nextTurn();
    expect(signed).toBe(true);
  });
});

describe('toJwtPayload', () => {
  const claims = {
    issuer,
    subject: 'client-a',
    clientId: 'client-a',
    audience: ['https://api.example'],
    scopes: ['read'],
    issuedAt: 1_700_000_000_000,
    expiresAt: 1_700_000_060_000,
  };
  const registered = {
    iss: issuer,
    sub: 'client-a',
    aud: 'https://api.example',
    exp: 1_700_000_060,
    iat: 1_700_000_000,
    jti: 'id-1',
    client_id: 'client-a',
    scope: 'read',
  };

  it('RFC 9068 §2.2 sets the registered claims, and only those, when there are no extra claims', () => {
    expect(toJwtPayload(claims, 'id-1')).toEqual(registered);
    expect(JSON.stringify(toJwtPayload({ ...claims, extraClaims: {} }, 'id-1'))).toBe(JSON.stringify(registered));
  });

  it('RFC 9068 §2.2 keeps extra claims but never lets them replace a registered claim', () => {
    const extraClaims = JSON.parse(
      '{"tenant":"t1","iss":"https://evil.example","jti":"forged","scope":"admin","__proto__":{"polluted":true}}',
    ) as Record<string, unknown>;
    const payload = toJwtPayload({ ...claims, extraClaims }, 'id-1');
    expect(JSON.parse(JSON.stringify(payload))).toEqual(
      JSON.parse(`{${JSON.stringify(registered).slice(1, -1)},"tenant":"t1","__proto__":{"polluted":true}}`),
    );
    // A claim named __proto__ is a claim, not the payload's prototype.
    expect((payload as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(payload, '__proto__')).toBe(true);
  });
});
