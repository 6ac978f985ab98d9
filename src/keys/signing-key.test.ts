import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JWK } from 'jose';
import { generatePrivateKey, importSigningKey, type SigningAlgorithm } from './signing-key.js';

async function privateJwk(alg: SigningAlgorithm): Promise<JWK> {
  return (await generatePrivateKey(alg)).export({ format: 'jwk' }) as JWK;
}

/** The public members of each key type, which the JWK Set publishes. */
const publicMembersOf: Record<string, readonly (keyof JWK)[]> = { RSA: ['n', 'e'], EC: ['x', 'y'], OKP: ['x'] };

describe('importSigningKey', () => {
  it.each<SigningAlgorithm>(['RS256', 'ES256', 'EdDSA'])(
    'refuses a private %s JWK whose public members are those of another key',
    async (alg) => {
      const jwk = await privateJwk(alg);
      const other = await privateJwk(alg);
      const swapped: JWK = { ...jwk };
      for (const name of publicMembersOf[jwk.kty!]!) swapped[name] = other[name] as never;
      expect(swapped.d).toBe(jwk.d);
      await expect(importSigningKey(swapped, alg)).rejects.toThrow(
        new TypeError('the public part of the signing key does not match its private key'),
      );
    },
  );

  it.each<[SigningAlgorithm, 'PEM' | 'KeyObject']>([
    ['RS256', 'PEM'],
    ['RS256', 'KeyObject'],
    ['ES256', 'PEM'],
    ['ES256', 'KeyObject'],
  ])('refuses a private %s key given as %s whose public part is that of another key', async (alg, form) => {
    const jwk = await privateJwk(alg);
    const other = await privateJwk(alg);
    const swapped: JWK = { ...jwk };
    for (const name of publicMembersOf[jwk.kty!]!) swapped[name] = other[name] as never;
    // Node keeps the given public members, also when the key is written out as PKCS #8.
    const keyObject = createPrivateKey({ key: swapped as JsonWebKey, format: 'jwk' });
    const input = form === 'PEM' ? (keyObject.export({ format: 'pem', type: 'pkcs8' }) as string) : keyObject;
    await expect(importSigningKey(input, alg)).rejects.toThrow(
      new TypeError('the public part of the signing key does not match its private key'),
    );
  });

  it.each<SigningAlgorithm>(['RS256', 'ES256', 'EdDSA'])('imports a sound private %s key given as PEM', async (alg) => {
    const keyObject = await generatePrivateKey(alg);
    const key = await importSigningKey(keyObject.export({ format: 'pem', type: 'pkcs8' }) as string, alg);
    expect(key.publicJwk).toMatchObject(createPublicKey(keyObject).export({ format: 'jwk' }));
  });

  it.each<SigningAlgorithm>(['RS256', 'PS256', 'ES256', 'EdDSA'])(
    'imports a private %s JWK whose public members match, and publishes them',
    async (alg) => {
      const jwk = await privateJwk(alg);
      const key = await importSigningKey(jwk, alg);
      for (const name of publicMembersOf[jwk.kty!]!) expect(key.publicJwk[name]).toBe(jwk[name]);
      expect(key.publicJwk).not.toHaveProperty('d');
    },
  );
});
