// Hierarchic scopes: allowing `orders` allows `orders.read` and `orders.read.own`.

import type { ScopeStrategy } from '../core/index.js';

/**
 * Grants `requested` when an allowed scope equals it or is a dot-separated prefix of it.
 * `orders` allows `orders.read`; `orders.read` does not allow `orders`, and `order` does not allow `orders`.
 */
export const hierarchicScopeStrategy: ScopeStrategy = (allowed, requested) =>
  allowed.some((scope) => requested === scope || requested.startsWith(`${scope}.`));
