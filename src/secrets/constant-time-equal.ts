// String comparison whose duration does not depend on where the inputs differ.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const comparisonKey = randomBytes(32);

/**
 * Compares two strings in constant time. Both are first reduced to HMAC digests of equal
 * length, so neither the content nor the length of the expected value leaks through timing.
 */
export function constantTimeEqual(actual: string, expected: string): boolean {
  const left = createHmac('sha256', comparisonKey).update(actual).digest();
  const right = createHmac('sha256', comparisonKey).update(expected).digest();
  return timingSafeEqual(left, right);
}
