// The shape of a compose() factory: it receives the provider's parts and returns a handler.

import type { ProviderConfig } from './config.js';
import type { RevocationHandler, TokenEndpointHandler, TokenIntrospector } from './handlers.js';

/**
 * What a factory receives. Each factory types these down to what it uses, e.g.
 * `storage: ClientStore & AccessTokenStore`, so compose() rejects a store that lacks a method.
 */
export interface FactoryDependencies<Storage, Strategy, Hasher> {
  readonly config: ProviderConfig;
  readonly storage: Storage;
  readonly strategy: Strategy;
  readonly hasher: Hasher;
}

/** Anything a factory can contribute to a provider. */
export type ProviderPart = TokenEndpointHandler | TokenIntrospector | RevocationHandler;

/** A factory as compose() accepts it. */
export type ProviderFactory<Storage, Strategy, Hasher> = (
  dependencies: FactoryDependencies<Storage, Strategy, Hasher>,
) => ProviderPart;
