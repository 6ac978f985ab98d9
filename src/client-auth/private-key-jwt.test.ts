import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createManualClock, type Client } from '../core/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { tokenVariants } from '../../test/support/token-variants.js';
import { ClientAssertionError, verifyClientAssertion } from './private-key-jwt.js';

const issuer = 'https://auth.test.example';
const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
const client: Client = {
  id: 'jwt-client',
  grantTypes: ['client_credentials'],
  scopes: [],
  audience: [],
  tokenEndpointAuthMethod: 'private_key_jwt',
  jwks: { keys: [{ ...(await exportJWK(publicKey)) }] },
};

function assertion(exp: number, jti: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(client.id)
    .setSubject(client.id)
    .setAudience(issuer)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(privateKey);
}

describe('verifyClientAssertion', () => {
  it('RFC 7523 §3 rule 7 keeps a jti as long as its assertion is accepted, so a fractional exp inside the clock tolerance cannot be replayed in the same second', async () => {
    // 900 ms into a second; the assertion expired 29.5 s ago, inside the 30 s tolerance.
    const second = 1_800_000_000;
    const clock = createManualClock(second * 1000 + 900);
    const options = { audiences: [issuer], replay: createMemoryStore(), clock };
    const presented = await assertion(second - 29.5, 'fractional-exp');

    await verifyClientAssertion(presented, client, options);
    await expect(verifyClientAssertion(presented, client, options)).rejects.toThrow(ClientAssertionError);
    clock.advance(50);
    await expect(verifyClientAssertion(presented, client, options)).rejects.toThrow(ClientAssertionError);
  });

  it('RFC 7523 §3 rule 4 refuses the same assertion once it is past exp and the clock tolerance', async () => {
    const second = 1_800_000_000;
    const clock = createManualClock(second * 1000 + 900);
    const options = { audiences: [issuer], replay: createMemoryStore(), clock };
    const presented = await assertion(second - 29.5, 'later');
    await verifyClientAssertion(presented, client, options);
    clock.advance(100);
    await expect(verifyClientAssertion(presented, client, options)).rejects.toThrow(/expired/);
  });

  it('RFC 7515 §5.2 refuses a variant of a valid assertion whose signature decodes to the same bytes, leaving its jti unused', async () => {
    const second = 1_800_000_000;
    const clock = createManualClock(second * 1000);
    const options = { audiences: [issuer], replay: createMemoryStore(), clock };
    const presented = await assertion(second + 60, 'variants');
    for (const variant of Object.values(tokenVariants(presented))) {
      await expect(verifyClientAssertion(variant, client, options)).rejects.toThrow(/not a JWT/);
    }
    await verifyClientAssertion(presented, client, options);
  });
});
