// The exact shape of a JWS in compact serialisation, which `jose` checks more loosely.

/**
 * True when `value` is a JWS in compact serialisation (RFC 7515 §7.1) with every part written
 * as RFC 7515 §2 defines base64url: three non-empty parts, only the URL-safe alphabet, no `=`
 * padding, no whitespace, and no stray bits in a part's last character. RFC 7515 §5.2 refuses
 * anything else. `jose` decodes more leniently (it drops whitespace and padding, and ignores the
 * unused low bits), so without this check many different strings would verify as one token: a
 * space added to an issued token, or its last character changed, would still be read as it.
 */
export function isCompactJws(value: string): boolean {
  const firstDot = value.indexOf('.');
  const secondDot = value.indexOf('.', firstDot + 1);
  if (firstDot <= 0 || secondDot <= firstDot + 1 || secondDot === value.length - 1) return false;
  if (value.indexOf('.', secondDot + 1) !== -1) return false;
  return (
    isCanonicalBase64url(value.slice(0, firstDot)) &&
    isCanonicalBase64url(value.slice(firstDot + 1, secondDot)) &&
    isCanonicalBase64url(value.slice(secondDot + 1))
  );
}

/**
 * True when `part` is base64url exactly as RFC 7515 §2 writes it: only the URL-safe alphabet, no
 * padding or whitespace, no stray bits; that is, decoding and encoding it again gives it back.
 */
export function isCanonicalBase64url(part: string): boolean {
  return Buffer.from(part, 'base64url').toString('base64url') === part;
}
