// RFC 7638 JWK thumbprints as key ids, computed here independently of jose and compared with it.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { createManualClock, generateSigningKey, importSigningKey, signingAlgorithms } from '../../src/index.js';
import { startAuthorizationServer, type AuthorizationServer } from '../support/resource-server-fixtures.js';

/** §3.2 required members per key type (RFC 7638 §3.2, RFC 8037 §2 for OKP), in lexicographic order. */
const requiredMembers: Record<string, readonly string[]> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};

/** §3: SHA-256 over the UTF-8 JSON of the required members, sorted, without white space. */
function thumbprint(jwk: JWK): string {
  const members = requiredMembers[jwk.kty!]!;
  const canonical = `{${members.map((name) => `${JSON.stringify(name)}:${JSON.stringify(jwk[name as keyof JWK])}`).join(',')}}`;
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

describe('RFC 7638 thumbprints', () => {
  it('§3.1 the independent computation gives the RFC example thumbprint', () => {
    const example: JWK = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    expect(thumbprint(example)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it.each(signingAlgorithms)('§3 the kid of a generated %s key is its thumbprint', async (alg) => {
    const key = await generateSigningKey(alg);
    expect(key.kid).toBe(thumbprint(key.publicJwk));
    expect(key.kid).toBe(await calculateJwkThumbprint(key.publicJwk, 'sha256'));
  });

  it('§3.2 ignores optional members: alg, use and kid do not change the thumbprint', async () => {
    const key = await generateSigningKey('ES256');
    const { alg: _alg, use: _use, kid: _kid, ...bare } = key.publicJwk;
    expect(await calculateJwkThumbprint(bare, 'sha256')).toBe(key.kid);
  });

  it('§3 the same key imported again gets the same kid', async () => {
    const key = await generateSigningKey('EdDSA');
    const again = await importSigningKey(key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'EdDSA');
    expect(again.kid).toBe(key.kid);
  });
});

describe('RFC 7638 thumbprints in the served JWK Set', () => {
  const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
  let as: AuthorizationServer;
  beforeAll(async () => {
    as = await startAuthorizationServer({ clock, algorithm: 'RS256' });
  });
  afterAll(() => as.close());

  it('§3 every served kid equals the thumbprint recomputed from the served key', async () => {
    const { keys } = (await (await fetch(as.jwksUri)).json()) as { keys: JWK[] };
    expect(keys.length).toBeGreaterThan(0);
    for (const jwk of keys) {
      expect(jwk.kid).toBe(thumbprint(jwk));
      expect(jwk.kid).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    }
  });
});
