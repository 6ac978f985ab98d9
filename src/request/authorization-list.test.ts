import { describe, expect, it } from 'vitest';
import { hasLaterSchemeElement, startsWithSchemeThenWhiteSpace } from './authorization-list.js';

describe('hasLaterSchemeElement', () => {
  it.each([
    ['Basic after Bearer, joined by ", "', 'Bearer abc, Basic dXNlcjpw', 'basic'],
    ['Bearer after Basic, without a space', 'Basic dXNlcjpw,bearer', 'bearer'],
    ['the scheme in upper case after spaces and a tab', 'Digest x="1", \t BASIC dXNlcjpw', 'basic'],
    ['the scheme after a quoted comma and an escaped quote', 'Digest x="a,\\"b", Bearer abc', 'bearer'],
    ['a bare scheme ending its element, before a third', 'Basic dXNlcjpw, Bearer, Basic dXNlcjpw', 'bearer'],
    ['a bare scheme ending its element, before an empty one', 'Bearer abc, basic ,', 'basic'],
    ['the scheme then a no-break space', 'Bearer abc, Basic\u00a0dXNlcjpw', 'basic'],
    // RFC 9110 §11.2: a quoted string is an auth-param value; a quote elsewhere opens nothing.
    ['the scheme after a stray quote in a token', 'Bearer a"bc, Basic ZGVmOnM=', 'basic'],
    ['the scheme after a quoted value following "=" and spaces', 'Digest x = "a, b", Bearer abc', 'bearer'],
  ])('finds %s', (_title, header, scheme) => {
    expect(hasLaterSchemeElement(header, scheme)).toBe(true);
  });

  it.each([
    ['the scheme only in the first element', 'Basic dXNlcjpw', 'basic'],
    ['an auth-param named like the scheme', 'Digest x="1", basic=yes', 'basic'],
    ['a scheme that only starts with the name', 'Bearer abc, Basicx dXNlcjpw', 'basic'],
    ['the scheme inside a quoted string', 'Digest x="1, Bearer abc"', 'bearer'],
    ['a header that ends in a comma', 'Bearer abc,', 'basic'],
  ])('does not find %s', (_title, header, scheme) => {
    expect(hasLaterSchemeElement(header, scheme)).toBe(false);
  });

  it('reads a header of quotes and backslashes in one pass', () => {
    // A scan that restarted at every quote would take seconds over a large header.
    expect(hasLaterSchemeElement(`Digest x=${'"\\'.repeat(200_000)}, Basic`, 'basic')).toBe(false);
    expect(hasLaterSchemeElement(`Bearer ${'"\\'.repeat(200_000)}, Basic`, 'basic')).toBe(true);
  });
});

describe('startsWithSchemeThenWhiteSpace', () => {
  it.each([
    ['Basic then a tab', 'Basic\tdXNlcjpw', 'basic'],
    ['Bearer in upper case then a no-break space', 'BEARER\u00a0abc', 'bearer'],
    ['Bearer then a line feed', 'bearer\nabc', 'bearer'],
    ['Basic then a line separator', 'basic\u2028dXNlcjpw', 'basic'],
    ['Basic then a byte order mark', 'Basic\ufeffdXNlcjpw', 'basic'],
    ['Bearer then a space', 'Bearer abc', 'bearer'],
  ])('RFC 9110 §11.4: finds %s', (_title, header, scheme) => {
    expect(startsWithSchemeThenWhiteSpace(header, scheme)).toBe(true);
  });

  it.each([
    ['the scheme alone', 'Basic', 'basic'],
    ['a longer scheme name', 'Basicx\tdXNlcjpw', 'basic'],
    ['another scheme', 'Bearer\tabc', 'basic'],
    ['the scheme after white space', ' Basic\tdXNlcjpw', 'basic'],
    ['the scheme later in the header', 'Digest x="1", Bearer\tabc', 'bearer'],
    ['the scheme then a zero-width space, which is not white space', 'Bearer\u200babc', 'bearer'],
    ['a non-ASCII letter whose upper case is an ASCII one (long s)', 'ba\u017fic\tdXNlcjpw', 'basic'],
    ['a dotted capital I in place of i', 'bas\u0130c\tdXNlcjpw', 'basic'],
  ])('does not find %s', (_title, header, scheme) => {
    expect(startsWithSchemeThenWhiteSpace(header, scheme)).toBe(false);
  });
});
