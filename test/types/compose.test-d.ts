// compose() checks at compile time that the store, strategy and hasher have what each factory uses.

import { describe, expectTypeOf, it } from 'vitest';
import {
  OAuthError,
  bcryptHasher,
  clientCredentialsGrant,
  compose,
  createMemoryStore,
  createStaticKeySet,
  jwtAccessTokenStrategy,
  type AccessRequest,
  type AccessTokenStore,
  type ClientStore,
  type OAuthErrorCode,
  type Provider,
  type SigningKey,
} from '../../src/index.js';

declare const signingKey: SigningKey;
const issuer = 'https://auth.example.com';
const strategy = jwtAccessTokenStrategy({ keys: createStaticKeySet([signingKey]), issuer });

describe('compose()', () => {
  it('accepts the memory store with the client credentials grant', () => {
    const provider = compose({ issuer }, createMemoryStore(), strategy, bcryptHasher(), clientCredentialsGrant);
    expectTypeOf(provider).toEqualTypeOf<Provider>();
  });

  it('accepts a store that has exactly what the grant uses', () => {
    const store = {} as ClientStore & AccessTokenStore;
    expectTypeOf(compose({ issuer }, store, strategy, undefined, clientCredentialsGrant)).toEqualTypeOf<Provider>();
  });

  it('rejects a store without the access-token methods the grant needs', () => {
    const clientsOnly = {} as ClientStore;
    // @ts-expect-error clientCredentialsGrant needs an AccessTokenStore
    compose({ issuer }, clientsOnly, strategy, undefined, clientCredentialsGrant);
  });

  it('rejects a store missing one method', () => {
    const store = {} as ClientStore & Omit<AccessTokenStore, 'createAccessTokenRecord'>;
    // @ts-expect-error createAccessTokenRecord is missing
    compose({ issuer }, store, strategy, undefined, clientCredentialsGrant);
  });

  it('rejects a config without an issuer', () => {
    // @ts-expect-error issuer is required
    compose({ accessTokenLifespan: 60 }, createMemoryStore(), strategy, undefined, clientCredentialsGrant);
  });
});

describe('the provider calls', () => {
  it('keep the how-to pipeline types', () => {
    expectTypeOf<Provider['newAccessRequest']>().returns.resolves.toEqualTypeOf<AccessRequest>();
    expectTypeOf<Provider['writeAccessResponse']>().returns.toEqualTypeOf<Response>();
    expectTypeOf<Provider['writeAccessError']>().returns.toEqualTypeOf<Response>();
  });
});

describe('OAuthError', () => {
  it('narrows its code to the wire codes', () => {
    expectTypeOf(new OAuthError('invalidScope').code).toEqualTypeOf<OAuthErrorCode>();
    expectTypeOf<'invalid_client'>().toExtend<OAuthErrorCode>();
    expectTypeOf<'made_up'>().not.toExtend<OAuthErrorCode>();
  });

  it('accepts only defined error names', () => {
    // @ts-expect-error not a defined error
    new OAuthError('madeUp');
  });
});
