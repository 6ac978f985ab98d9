// Wildcard scopes: `*` in an allowed scope stands for exactly one dot-separated part.

import type { ScopeStrategy } from '../core/index.js';

/**
 * Grants `requested` when an allowed scope matches it part by part, where an allowed part `*`
 * matches any one non-empty part. `orders.*` allows `orders.read` but neither `orders` nor
 * `orders.read.own`; a literal `*` in a request is matched only by `*`.
 */
export const wildcardScopeStrategy: ScopeStrategy = (allowed, requested) => {
  const requestedParts = requested.split('.');
  return allowed.some((scope) => {
    if (scope === requested) return true;
    const allowedParts = scope.split('.');
    if (allowedParts.length !== requestedParts.length) return false;
    return allowedParts.every((part, index) => {
      const requestedPart = requestedParts[index]!;
      if (part === '*') return requestedPart !== '' && requestedPart !== '*';
      return part === requestedPart;
    });
  });
};
