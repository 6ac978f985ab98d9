import { describe, expect, it } from 'vitest';
import { bcryptHasher } from '../secrets/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { opaqueHmacStrategy } from '../tokens/index.js';
import { accessTokenIntrospection, accessTokenRevocation, clientCredentialsGrant } from '../grants/index.js';
import { compose } from './compose.js';

const secret = 'a-compose-test-secret-of-at-least-32-bytes';

describe('compose', () => {
  it('rejects stateless issuance with opaque tokens with a TypeError', () => {
    expect(() =>
      compose(
        { issuer: 'https://auth.test.example', statelessAccessTokens: true },
        createMemoryStore(),
        opaqueHmacStrategy({ secrets: [secret] }),
        bcryptHasher({ cost: 4 }),
        clientCredentialsGrant,
      ),
    ).toThrow(TypeError);
  });

  it('serves introspection and revocation only when their factories are given', () => {
    const parts = [createMemoryStore(), opaqueHmacStrategy({ secrets: [secret] }), bcryptHasher({ cost: 4 })] as const;
    const bare = compose({ issuer: 'https://auth.test.example' }, ...parts, clientCredentialsGrant);
    expect([bare.hasIntrospection, bare.hasRevocation]).toEqual([false, false]);
    const full = compose(
      { issuer: 'https://auth.test.example' },
      ...parts,
      clientCredentialsGrant,
      accessTokenIntrospection,
      accessTokenRevocation,
    );
    expect([full.hasIntrospection, full.hasRevocation]).toEqual([true, true]);
  });
});
