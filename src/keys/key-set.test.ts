import { describe, expect, it } from 'vitest';
import { exportJWK } from 'jose';
import { createStaticKeySet } from './key-set.js';
import { generateSigningKey, type SigningKey } from './signing-key.js';

describe('createStaticKeySet', () => {
  it('RFC 7517 §5 never publishes a private member, even of a key whose publicJwk was made by hand with one', async () => {
    const generated = await generateSigningKey('RS256');
    // A caller who exported the private key to fill publicJwk: every private member is in it.
    const careless: SigningKey = {
      ...generated,
      // `priv` as an AKP (post-quantum) private key would carry it.
      publicJwk: {
        ...(await exportJWK(generated.privateKey)),
        priv: 'c2VlZA',
        kid: generated.kid,
        alg: 'RS256',
        use: 'sig',
      },
    };
    expect(careless.publicJwk).toHaveProperty('d');
    const { keys } = await createStaticKeySet([careless]).getPublicJwks();
    expect(keys).toHaveLength(1);
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'])
      expect(keys[0]).not.toHaveProperty(member);
    expect(keys[0]).toMatchObject({
      kty: 'RSA',
      n: generated.publicJwk.n,
      e: generated.publicJwk.e,
      kid: generated.kid,
    });
  });

  it.each([
    ['a fraction of a second', 0.5],
    ['a negative number', -1],
    ['NaN', Number.NaN],
    ['Infinity', Infinity],
  ])(
    'RFC 9111 §1.2.2 refuses a jwksMaxAge of %s: Cache-Control max-age takes whole seconds',
    async (_title, jwksMaxAge) => {
      const key = await generateSigningKey('ES256');
      expect(() => createStaticKeySet([key], jwksMaxAge)).toThrow(TypeError);
    },
  );

  it('accepts a jwksMaxAge of 0 and of whole seconds', async () => {
    const key = await generateSigningKey('ES256');
    expect(createStaticKeySet([key], 0).jwksMaxAge).toBe(0);
    expect(createStaticKeySet([key], 600).jwksMaxAge).toBe(600);
  });
});
