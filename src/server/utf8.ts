// Text that arrives as bytes (an admin request's body, a file an operator names) is UTF-8, read
// strictly: a byte that is not UTF-8 is an error to report, never a U+FFFD kept in its place.

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The UTF-8 text of `bytes` (a leading byte order mark dropped), or undefined when they are not UTF-8. */
export function decodeUtf8(bytes: ArrayBuffer | Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
