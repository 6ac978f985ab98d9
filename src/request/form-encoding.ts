// application/x-www-form-urlencoded decoding that refuses what WHATWG's parser would silently repair.

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Why a form component could not be decoded. An object, not a string: any string, `not-utf-8`
 * included, is a value a client may send.
 */
export interface FormDecodingProblem {
  readonly problem: 'bad-percent-encoding' | 'not-utf-8';
}

const badPercentEncoding: FormDecodingProblem = Object.freeze({ problem: 'bad-percent-encoding' });
const notUtf8: FormDecodingProblem = Object.freeze({ problem: 'not-utf-8' });

/**
 * Decodes one form component: `+` is a space and `%XX` a byte; the bytes must be UTF-8.
 * Returns a problem instead of throwing so callers choose the OAuth error: the result is the
 * decoded text exactly when it is a string.
 */
export function decodeFormComponent(text: string): string | FormDecodingProblem {
  if (!text.includes('%')) return text.includes('+') ? text.replaceAll('+', ' ') : text;
  const bytes: number[] = [];
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (char === 0x25 /* % */) {
      const high = hexValue(text.charCodeAt(index + 1));
      const low = hexValue(text.charCodeAt(index + 2));
      if (high < 0 || low < 0) return badPercentEncoding;
      bytes.push(high * 16 + low);
      index += 2;
    } else if (char === 0x2b /* + */) {
      bytes.push(0x20);
    } else if (char < 0x80) {
      bytes.push(char);
    } else {
      // Raw non-ASCII in the text is already decoded UTF-16; re-encode it so the whole
      // component goes through one UTF-8 check.
      const codePoint = text.codePointAt(index) ?? char;
      if (codePoint > 0xffff) index++;
      bytes.push(...new TextEncoder().encode(String.fromCodePoint(codePoint)));
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return notUtf8;
  }
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/** Encodes one form component (the inverse of {@link decodeFormComponent}). */
export function encodeFormComponent(text: string): string {
  return encodeURIComponent(text).replaceAll('%20', '+');
}
