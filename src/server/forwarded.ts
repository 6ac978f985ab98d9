// The RFC 7239 `Forwarded` header: its list of hops, their parameters, and the node a `for` names.

import { isIP } from 'node:net';

/** The elements of one `Forwarded` field value, in order, and whether the value ends inside a quoted-string. */
export interface ForwardedField {
  /** The non-empty list elements, without the white space around them (RFC 9110 §5.6.1). */
  readonly elements: readonly string[];
  /**
   * True when a quoted-string is never closed. Everything from its opening quote on is lost:
   * no element is made of it, and where the following elements would begin cannot be known.
   */
  readonly unterminated: boolean;
}

/**
 * Splits one field value at the commas that are not inside a quoted-string (RFC 7239 §4, RFC 9110
 * §5.6.1 and §5.6.4). One pass over the text: time and memory grow with its length only. A quote
 * opens a quoted-string wherever it stands, also where the grammar has none (that element is not
 * well formed either way): a quote the client leaves open then runs to the end of the field, which
 * is marked unterminated, instead of pairing up with the quotes of elements a proxy appended and
 * shifting where they are split.
 */
export function splitForwardedField(field: string): ForwardedField {
  const elements: string[] = [];
  let start = 0;
  let quoted = false;
  for (let index = 0; index < field.length; index++) {
    const char = field.charCodeAt(index);
    if (quoted) {
      if (char === backslash) index++;
      else if (char === quote) quoted = false;
    } else if (char === quote) {
      quoted = true;
    } else if (char === comma) {
      pushElement(elements, field, start, index);
      start = index + 1;
    }
  }
  if (quoted) {
    // The element the open quote stands in is cut off, as is everything after it.
    return { elements, unterminated: true };
  }
  pushElement(elements, field, start, field.length);
  return { elements, unterminated: false };
}

function pushElement(elements: string[], field: string, start: number, end: number): void {
  let from = start;
  let to = end;
  while (from < to && isWhiteSpace(field.charCodeAt(from))) from++;
  while (to > from && isWhiteSpace(field.charCodeAt(to - 1))) to--;
  // Empty list elements are not counted (RFC 9110 §5.6.1).
  if (to > from) elements.push(field.slice(from, to));
}

/**
 * The parameters of one forwarded-element (RFC 7239 §4): `;`-separated `name=value` pairs, where a
 * pair may be empty, names are tokens compared without regard to case (returned in lower case),
 * and a value is a token or a quoted-string (returned without its quotes and escapes). Undefined
 * when the element does not follow that syntax (white space inside it included) or names a
 * parameter twice.
 */
export function parseForwardedElement(element: string): ReadonlyMap<string, string> | undefined {
  const parameters = new Map<string, string>();
  let index = 0;
  while (index < element.length) {
    if (element.charCodeAt(index) === semicolon) {
      index++;
      continue;
    }
    const nameEnd = tokenEnd(element, index);
    if (nameEnd === index || element.charCodeAt(nameEnd) !== equals) return undefined;
    const name = element.slice(index, nameEnd).toLowerCase();
    index = nameEnd + 1;
    let value: string;
    if (element.charCodeAt(index) === quote) {
      const read = readQuotedString(element, index);
      if (!read) return undefined;
      value = read.value;
      index = read.end;
    } else {
      const valueEnd = tokenEnd(element, index);
      if (valueEnd === index) return undefined;
      value = element.slice(index, valueEnd);
      index = valueEnd;
    }
    // "Each parameter MUST NOT occur more than once per forwarded-element" (RFC 7239 §4).
    if (parameters.has(name)) return undefined;
    parameters.set(name, value);
    if (index < element.length && element.charCodeAt(index) !== semicolon) return undefined;
  }
  return parameters;
}

/** A node name and port (RFC 7239 §6). */
export type ForwardedNode =
  | { readonly kind: 'ip'; readonly address: string; readonly port: string | undefined }
  | { readonly kind: 'unknown' | 'obfuscated'; readonly port: string | undefined };

/**
 * Reads a node (RFC 7239 §6): an IPv4 address, an IPv6 address in brackets, `unknown` or an
 * obfuscated name (`_` and letters, digits, `.`, `_`, `-`), optionally followed by `:` and a port
 * (one to five digits) or an obfuscated port. The address is returned without brackets and port.
 * Undefined for anything else: a host name, a bare IPv6 address, an IPv6 zone, an empty port.
 */
export function parseForwardedNode(value: string): ForwardedNode | undefined {
  let name: string;
  let rest: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return undefined;
    name = value.slice(0, close + 1);
    rest = value.slice(close + 1);
  } else {
    const colon = value.indexOf(':');
    name = colon < 0 ? value : value.slice(0, colon);
    rest = colon < 0 ? '' : value.slice(colon);
  }
  let port: string | undefined;
  if (rest !== '') {
    port = rest.slice(1);
    if (!/^(?:\d{1,5}|_[A-Za-z0-9._-]+)$/.test(port)) return undefined;
  }
  if (name.startsWith('[')) {
    const address = name.slice(1, -1);
    // The longest IPv6 address (with an IPv4 tail) has 45 characters; no zone (RFC 3986 §3.2.2).
    if (address.length > 45 || address.includes('%') || isIP(address) !== 6) return undefined;
    return { kind: 'ip', address, port };
  }
  if (name.length <= 15 && isIP(name) === 4) return { kind: 'ip', address: name, port };
  // ABNF strings are case-insensitive (RFC 5234 §2.3).
  if (name.toLowerCase() === 'unknown') return { kind: 'unknown', port };
  if (/^_[A-Za-z0-9._-]+$/.test(name)) return { kind: 'obfuscated', port };
  return undefined;
}

/**
 * The IP address the `for` parameter of one element names (RFC 7239 §5.2), without port. Undefined
 * when there is none to use: no `for`, `unknown`, an obfuscated name, or an element or node that
 * is not well formed.
 */
export function forwardedForAddress(element: string): string | undefined {
  const value = parseForwardedElement(element)?.get('for');
  if (value === undefined) return undefined;
  const node = parseForwardedNode(value);
  return node?.kind === 'ip' ? node.address : undefined;
}

/**
 * The client's address from the `Forwarded` field values, in the order received, by the rule
 * `X-Forwarded-For` follows: with `trust` true the first element whose `for` is an IP address
 * (else the peer); with a number n the element n hops before the peer, which is `unknown` when
 * it names no IP address. Each non-empty element is a hop.
 *
 * Proxies add their elements at the end, so the count runs from there. A field with a quoted-string
 * that is never closed hides where its elements end: when the element n hops back would lie in or
 * before such a field, the address is `unknown`, never one the client wrote further left.
 */
export function forwardedClientAddress(fields: readonly string[], trust: true | number, peer: string): string {
  if (trust === true) {
    for (const field of fields) {
      for (const element of splitForwardedField(field).elements) {
        const address = forwardedForAddress(element);
        if (address !== undefined) return address;
      }
    }
    return peer;
  }
  // The peer is hop 0; the element wanted is hop `trust`, counting back from the last element.
  let hops = 0;
  let first: string | undefined;
  for (let fieldIndex = fields.length - 1; fieldIndex >= 0; fieldIndex--) {
    const { elements, unterminated } = splitForwardedField(fields[fieldIndex]!);
    if (unterminated) return 'unknown';
    for (let index = elements.length - 1; index >= 0; index--) {
      hops++;
      first = elements[index];
      if (hops === trust) return forwardedForAddress(first!) ?? 'unknown';
    }
  }
  // Fewer elements than trusted hops: the first one, as for X-Forwarded-For.
  return first === undefined ? peer : (forwardedForAddress(first) ?? 'unknown');
}

/** The end of the token (RFC 7230 §3.2.6, now RFC 9110 §5.6.2) starting at `start`; `start` itself when there is none. */
function tokenEnd(text: string, start: number): number {
  let index = start;
  while (index < text.length && isTokenChar(text.charCodeAt(index))) index++;
  return index;
}

/**
 * The quoted-string (RFC 7230 §3.2.6, now RFC 9110 §5.6.4) opening at `start`, unescaped, and the index after its closing
 * quote; undefined when it is not closed or holds a character it may not.
 */
function readQuotedString(text: string, start: number): { value: string; end: number } | undefined {
  let value = '';
  for (let index = start + 1; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (char === quote) return { value, end: index + 1 };
    if (char === backslash) {
      index++;
      const escaped = text.charCodeAt(index);
      // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
      if (!(escaped === 0x09 || (escaped >= 0x20 && escaped <= 0xff && escaped !== 0x7f))) return undefined;
      value += text[index];
    } else if (char === 0x09 || (char >= 0x20 && char <= 0xff && char !== 0x7f)) {
      // qdtext: HTAB, SP, visible characters but `"` and `\`, obs-text.
      value += text[index];
    } else {
      return undefined;
    }
  }
  return undefined;
}

const quote = 0x22;
const backslash = 0x5c;
const comma = 0x2c;
const semicolon = 0x3b;
const equals = 0x3d;

function isWhiteSpace(char: number): boolean {
  return char === 0x20 || char === 0x09;
}

/** tchar (RFC 9110 §5.6.2): letters, digits and ``!#$%&'*+-.^_`|~``. */
function isTokenChar(char: number): boolean {
  return (
    (char >= 0x30 && char <= 0x39) ||
    (char >= 0x41 && char <= 0x5a) ||
    (char >= 0x61 && char <= 0x7a) ||
    (char < 0x80 && "!#$%&'*+-.^_`|~".includes(String.fromCharCode(char)))
  );
}
