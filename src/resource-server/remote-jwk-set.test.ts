import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createLocalJwkSet } from './remote-jwk-set.js';

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
