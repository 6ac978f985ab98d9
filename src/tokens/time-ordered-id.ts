// Token ids that sort by the time they were made, so a store's index on them grows at one end.

import { randomUUID } from 'node:crypto';

/**
 * A UUID version 7 (RFC 9562 §5.7): 48 bits of Unix time in milliseconds, then 74 random bits.
 * Token records are keyed by their `jti`; with random UUIDs every insert lands on a random leaf
 * of the store's index, so a batch of n records dirties about n index pages. Ids that start with
 * the time land on the newest leaf, and a batch writes one or two pages there. The random part is
 * taken from `randomUUID()` (its version nibble is replaced), keeping node's cached entropy.
 * Uniqueness rests on the 74 random bits within each millisecond, as RFC 7519 §4.1.7 asks of a
 * `jti`; the time is no secret, the token's `iat` says the same.
 */
export function timeOrderedUuid(now: number = Date.now()): string {
  const time = Math.max(0, Math.min(Math.floor(now), maxTimestamp));
  // A busy server makes several ids per millisecond: their time part is written once.
  if (time !== lastTime) {
    const hex = time.toString(16).padStart(12, '0');
    lastPrefix = `${hex.slice(0, 8)}-${hex.slice(8)}-7`;
    lastTime = time;
  }
  // randomUUID(): xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx, V already the RFC variant (10xx).
  return lastPrefix + randomUUID().slice(15);
}

let lastTime = -1;
let lastPrefix = '';

/** The largest time field (48 bits) version 7 can carry. */
const maxTimestamp = 2 ** 48 - 1;
