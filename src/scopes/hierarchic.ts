// Hierarchic scopes: allowing `orders` allows `orders.read` and `orders.read.own`.

import type { ScopeStrategy } from '../core/index.js';

/**
 * Grants `requested` when an allowed scope equals it or is a dot-separated prefix of it, and the
 * parts below that prefix are not empty. `orders` allows `orders.read`; `orders.read` does not
 * allow `orders`, `order` does not allow `orders`, and `orders` allows neither `orders.` nor
 * `orders..read` (as the wildcard strategy's `*` matches only a non-empty part).
 */
export const hierarchicScopeStrategy: ScopeStrategy = (allowed, requested) =>
  allowed.some(
    (scope) =>
      requested === scope || (requested.startsWith(`${scope}.`) && hasNoEmptyPart(requested.slice(scope.length + 1))),
  );

function hasNoEmptyPart(parts: string): boolean {
  return parts !== '' && !parts.startsWith('.') && !parts.endsWith('.') && !parts.includes('..');
}
