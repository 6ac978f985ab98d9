// Strings that a lenient base64url decoder reads as the same bytes as an issued token, but that
// are not the token: RFC 7515 §2 allows no whitespace, no padding and no stray bits.

const base64urlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Variants of `token` by name. The last character of a token ending in a part of 4n + 2 or
 * 4n + 3 characters carries unused bits; `stray bits` sets one of them.
 */
export function tokenVariants(token: string): Record<string, string> {
  const lastPart = token.slice(token.lastIndexOf('.') + 1);
  if (lastPart.length % 4 < 2) throw new Error('the token has no unused bits in its last character');
  const last = base64urlAlphabet.indexOf(token.at(-1)!);
  return {
    'a trailing space': `${token} `,
    'a space inside': `${token.slice(0, -8)} ${token.slice(-8)}`,
    '= padding': `${token}${'='.repeat(4 - (lastPart.length % 4))}`,
    'stray bits': `${token.slice(0, -1)}${base64urlAlphabet[last ^ 1]}`,
  };
}

/** The variants that RFC 6750 §2.1's b64token syntax lets through an Authorization header. */
export function headerSafeTokenVariants(token: string): Record<string, string> {
  const { '= padding': padded, 'stray bits': strayBits } = tokenVariants(token);
  return { '= padding': padded!, 'stray bits': strayBits! };
}
