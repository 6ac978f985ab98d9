// Audience matching by URL: an allowed `https://api.example.com/orders` covers its sub-paths.

import type { AudienceStrategy } from '../core/index.js';

/**
 * Grants `requested` when it equals an allowed audience, or when both are URLs with the same
 * origin and the requested path lies below the allowed one (`/orders` covers `/orders/42`,
 * not `/orders-archive`). Query, fragment and user info must be absent from the request.
 */
export const urlPrefixAudienceStrategy: AudienceStrategy = (allowed, requested) => {
  if (allowed.includes(requested)) return true;
  const requestedUrl = parseUrl(requested);
  if (!requestedUrl || requestedUrl.search || requestedUrl.hash) return false;
  // The origin ignores user info, which would otherwise ride into `aud` unchecked.
  if (requestedUrl.username || requestedUrl.password) return false;
  return allowed.some((audience) => {
    const allowedUrl = parseUrl(audience);
    if (!allowedUrl || allowedUrl.origin !== requestedUrl.origin) return false;
    const base = allowedUrl.pathname.endsWith('/') ? allowedUrl.pathname : `${allowedUrl.pathname}/`;
    return requestedUrl.pathname === allowedUrl.pathname || requestedUrl.pathname.startsWith(base);
  });
};

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
