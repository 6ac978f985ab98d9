// Authorization fields sent more than once arrive as one list, joined by commas (RFC 9110 §5.3, §11.6.2).

import { isSpaceOrTab } from './optional-white-space.js';

/**
 * True when a list element after the first starts with the auth scheme `scheme` (not an
 * auth-param named like it, such as `bearer=`). Commas inside quoted strings (RFC 9110 §5.6.4)
 * are text. A quoted string is only ever an auth-param's value (§11.2), so only a quote after
 * `=` opens one: a stray quote in a token (`Bearer a"bc, Basic …`) must not hide the elements
 * after it. One pass, so a header full of quotes and backslashes costs no more than its length.
 *
 * @param scheme The scheme name in lower case, e.g. `basic` or `bearer`.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.6.2
 */
export function hasLaterSchemeElement(value: string, scheme: string): boolean {
  let quoted = false;
  // Whether the last character outside quotes, spaces and tabs aside, was `=` (BWS may follow it).
  let afterEquals = false;
  for (let index = 0; index < value.length; index++) {
    const char = value.charCodeAt(index);
    if (quoted) {
      if (char === backslash) index++;
      else if (char === quote) quoted = false;
    } else if (char === quote && afterEquals) {
      quoted = true;
      afterEquals = false;
    } else if (char === comma && startsWithScheme(value, index + 1, scheme)) {
      return true;
    } else if (!isSpaceOrTab(char)) {
      afterEquals = char === equals;
    }
  }
  return false;
}

/**
 * True when `value` starts with the auth scheme `scheme` directly followed by white space of any
 * kind (JavaScript's `\s`: a tab, a line break, a no-break space, …). The Basic and Bearer
 * parsers ask this once a scheme followed by spaces has not matched: the scheme then other white
 * space is still that scheme's credentials, laid out against RFC 9110 §11.4 (one or more spaces
 * only), so malformed rather than absent.
 *
 * @param scheme The scheme name in lower case, e.g. `basic` or `bearer`.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.4
 */
export function startsWithSchemeThenWhiteSpace(value: string, scheme: string): boolean {
  return schemeNameAt(value, 0, scheme) && whiteSpace.test(value.charAt(scheme.length));
}

const whiteSpace = /^\s$/;
const backslash = 0x5c;
const quote = 0x22;
const comma = 0x2c;
const equals = 0x3d;

/**
 * Whether, after optional spaces and tabs, `value` at `start` holds `scheme` ending the element
 * (the end or a comma: a bare scheme, credentials without their token) or followed by white space
 * of any kind (the scheme's credentials, laid out well or not).
 */
function startsWithScheme(value: string, start: number, scheme: string): boolean {
  let index = start;
  while (index < value.length && isSpaceOrTab(value.charCodeAt(index))) index++;
  if (!schemeNameAt(value, index, scheme)) return false;
  const next = index + scheme.length;
  return next === value.length || value.charCodeAt(next) === comma || whiteSpace.test(value.charAt(next));
}

/** Whether `value` holds the scheme name `scheme` at `index`, whatever the case of its ASCII letters. */
function schemeNameAt(value: string, index: number, scheme: string): boolean {
  if (value.length - index < scheme.length) return false;
  for (let offset = 0; offset < scheme.length; offset++) {
    const char = value.charCodeAt(index + offset);
    // ASCII letters only: a scheme is a token, compared without regard to case (§11.1).
    const lower = char >= 0x41 && char <= 0x5a ? char + 0x20 : char;
    if (lower !== scheme.charCodeAt(offset)) return false;
  }
  return true;
}
