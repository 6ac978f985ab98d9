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
      publicJwk: { ...(await exportJWK(generated.privateKey)), kid: generated.kid, alg: 'RS256', use: 'sig' },
    };
    expect(careless.publicJwk).toHaveProperty('d');
    const { keys } = await createStaticKeySet([careless]).getPublicJwks();
    expect(keys).toHaveLength(1);
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) expect(keys[0]).not.toHaveProperty(member);
    expect(keys[0]).toMatchObject({
      kty: 'RSA',
      n: generated.publicJwk.n,
      e: generated.publicJwk.e,
      kid: generated.kid,
    });
  });
});
