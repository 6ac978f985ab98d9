// Audience matching by URL: an allowed `https://api.example.com/orders` covers its sub-paths.

import type { AudienceStrategy } from '../core/index.js';

/**
 * Grants `requested` when it equals an allowed audience, or when both are http(s) URLs with the
 * same origin and the requested path lies below the allowed one (`/orders` covers `/orders/42`,
 * not `/orders-archive`). Query, fragment and user info must be absent from the request, and it
 * must be written as the URL parser writes it: the text that goes into `aud` is the one checked.
 */
export const urlPrefixAudienceStrategy: AudienceStrategy = (allowed, requested) => {
  if (allowed.includes(requested)) return true;
  const requestedUrl = parseHttpUrl(requested);
  // The parser drops control characters, tabs and line feeds and rewrites other forms: a text
  // it would change is not the URL that was checked.
  if (!requestedUrl || requestedUrl.href !== requested) return false;
  if (requestedUrl.search || requestedUrl.hash) return false;
  // The origin ignores user info, which would otherwise ride into `aud` unchecked.
  if (requestedUrl.username || requestedUrl.password) return false;
  return allowed.some((audience) => {
    const allowedUrl = parseHttpUrl(audience);
    if (!allowedUrl || allowedUrl.origin !== requestedUrl.origin) return false;
    const base = allowedUrl.pathname.endsWith('/') ? allowedUrl.pathname : `${allowedUrl.pathname}/`;
    return requestedUrl.pathname === allowedUrl.pathname || requestedUrl.pathname.startsWith(base);
  });
};

/**
 * `value` as an http or https URL. Other schemes (`api://`, `spiffe://`, `urn:`) have an opaque
 * origin, written "null" for all of them alike, so comparing origins would say nothing about
 * their hosts: they are granted only by exact match.
 */
function parseHttpUrl(value: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
}
