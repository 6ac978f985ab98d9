import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createStaticKeySet, generateSigningKey, signingAlgorithms } from '../keys/index.js';
import { jwtAccessTokenStrategy, signCompactJwt } from './jwt-access-token.js';

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
