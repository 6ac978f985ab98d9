import { describe, expect, it } from 'vitest';
import {
  forwardedClientAddress,
  forwardedForAddress,
  parseForwardedElement,
  parseForwardedNode,
  splitForwardedField,
} from './forwarded.js';

describe('parseForwardedElement', () => {
  it('RFC 7239 §4: for=192.0.2.60;proto=http;by=203.0.113.43 holds three parameters', () => {
    expect(parseForwardedElement('for=192.0.2.60;proto=http;by=203.0.113.43')).toStrictEqual(
      new Map([
        ['for', '192.0.2.60'],
        ['proto', 'http'],
        ['by', '203.0.113.43'],
      ]),
    );
  });

  it('RFC 7239 §4: parameter names are case-insensitive (For="[2001:db8:cafe::17]:4711")', () => {
    expect(parseForwardedElement('For="[2001:db8:cafe::17]:4711"')?.get('for')).toBe('[2001:db8:cafe::17]:4711');
  });

  it('RFC 7239 §4: a value is a token or a quoted-string, whose quoted-pairs are unescaped (RFC 7230 §3.2.6)', () => {
    expect(parseForwardedElement('for="_gazonk"')?.get('for')).toBe('_gazonk');
    expect(parseForwardedElement('for="\\[2001:db8::1\\]:80";host="a\\"b\\\\c"')).toStrictEqual(
      new Map([
        ['for', '[2001:db8::1]:80'],
        ['host', 'a"b\\c'],
      ]),
    );
    expect(parseForwardedElement('ext="a, b; c=d"')?.get('ext')).toBe('a, b; c=d');
  });

  it('RFC 7239 §4: pairs are optional between semicolons', () => {
    expect(parseForwardedElement(';for=192.0.2.60;;proto=http;')).toStrictEqual(
      new Map([
        ['for', '192.0.2.60'],
        ['proto', 'http'],
      ]),
    );
    expect(parseForwardedElement(';')).toStrictEqual(new Map());
  });

  it.each([
    ['white space after a semicolon', 'for=192.0.2.60; proto=http'],
    ['white space around =', 'for = 192.0.2.60'],
    ['a colon in a token (a port needs quotes)', 'for=192.0.2.43:47011'],
    ['brackets in a token (IPv6 needs quotes)', 'for=[2001:db8:cafe::17]'],
    ['an unclosed quoted-string', 'for="192.0.2.60'],
    ['text after a quoted-string', 'for="192.0.2.60"x'],
    ['a quote inside a token', 'for=192.0"2.60"'],
    ['an empty value', 'for='],
    ['an empty value before a semicolon', 'for=;proto=http'],
    ['no name', '=192.0.2.60'],
    ['no value at all', 'for'],
    ['a control character in a quoted-string', 'for="192.0.2.60\u0001"'],
    ['a character past Latin-1', 'for="192.0.2.60\u0100"'],
    ['an escape at the very end', 'for="192.0.2.60\\'],
  ])('RFC 7239 §4: %s is not a forwarded-element', (_title, element) => {
    expect(parseForwardedElement(element)).toBeUndefined();
  });

  it('RFC 7239 §4: a parameter named twice in one element (in any case) makes it unusable', () => {
    expect(parseForwardedElement('for=192.0.2.60;for=198.51.100.17')).toBeUndefined();
    expect(parseForwardedElement('for=192.0.2.60;FOR=198.51.100.17')).toBeUndefined();
  });
});

describe('parseForwardedNode', () => {
  it.each([
    ['192.0.2.43', { kind: 'ip', address: '192.0.2.43', port: undefined }],
    ['192.0.2.43:47011', { kind: 'ip', address: '192.0.2.43', port: '47011' }],
    ['[2001:db8:cafe::17]', { kind: 'ip', address: '2001:db8:cafe::17', port: undefined }],
    ['[2001:db8:cafe::17]:47011', { kind: 'ip', address: '2001:db8:cafe::17', port: '47011' }],
    ['[::ffff:192.0.2.43]', { kind: 'ip', address: '::ffff:192.0.2.43', port: undefined }],
    ['192.0.2.43:_SEVKISEK', { kind: 'ip', address: '192.0.2.43', port: '_SEVKISEK' }],
    ['unknown', { kind: 'unknown', port: undefined }],
    ['UNKNOWN', { kind: 'unknown', port: undefined }],
    ['_gazonk', { kind: 'obfuscated', port: undefined }],
    ['_hidden', { kind: 'obfuscated', port: undefined }],
    ['_SEVKISEK:_p.1-x', { kind: 'obfuscated', port: '_p.1-x' }],
  ])('RFC 7239 §6: %s', (value, expected) => {
    expect(parseForwardedNode(value)).toStrictEqual(expected);
  });

  it.each([
    ['a bare IPv6 address', '2001:db8:cafe::17'],
    ['an IPv4 address in brackets', '[192.0.2.43]'],
    ['an IPv6 zone', '[fe80::1%eth0]'],
    ['an unclosed bracket', '[2001:db8:cafe::17'],
    ['text after the bracket', '[2001:db8:cafe::17]x'],
    ['an empty port', '192.0.2.43:'],
    ['a six-digit port', '192.0.2.43:123456'],
    ['a port with a sign', '192.0.2.43:+80'],
    ['an IPv4 octet with a leading zero', '192.0.2.043'],
    ['an IPv4 address out of range', '192.0.2.300'],
    ['a host name', 'proxy.example'],
    ['an underscore alone', '_'],
    ['an empty name', ''],
  ])('RFC 7239 §6: %s is not a node', (_title, value) => {
    expect(parseForwardedNode(value)).toBeUndefined();
  });
});

describe('splitForwardedField', () => {
  it('RFC 7239 §7.1: white space between elements does not matter', () => {
    const tight = splitForwardedField('for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown');
    const spaced = splitForwardedField('for=192.0.2.43, for="[2001:db8:cafe::17]",\tfor=unknown');
    expect(tight).toStrictEqual({
      elements: ['for=192.0.2.43', 'for="[2001:db8:cafe::17]"', 'for=unknown'],
      unterminated: false,
    });
    expect(spaced).toStrictEqual(tight);
  });

  it('RFC 7239 §4: a comma inside a quoted-string does not end the element', () => {
    expect(splitForwardedField('for=192.0.2.43;ext="a,\\"b,", for=198.51.100.17').elements).toStrictEqual([
      'for=192.0.2.43;ext="a,\\"b,"',
      'for=198.51.100.17',
    ]);
  });

  it('RFC 9110 §5.6.1: empty list elements are not elements', () => {
    expect(splitForwardedField(' , for=192.0.2.43,, ,').elements).toStrictEqual(['for=192.0.2.43']);
    expect(splitForwardedField('').elements).toStrictEqual([]);
  });

  it('a quoted-string never closed: the elements before it, and no element made of the rest', () => {
    expect(splitForwardedField('for=192.0.2.43, for="[2001:db8::1], for=198.51.100.17')).toStrictEqual({
      elements: ['for=192.0.2.43'],
      unterminated: true,
    });
    expect(splitForwardedField('for="192.0.2.43\\"')).toStrictEqual({ elements: [], unterminated: true });
  });
});

describe('forwardedForAddress', () => {
  it.each([
    ['RFC 7239 §4 example', 'for=192.0.2.60;proto=http;by=203.0.113.43', '192.0.2.60'],
    ['RFC 7239 §4 example', 'For="[2001:db8:cafe::17]:4711"', '2001:db8:cafe::17'],
    ['RFC 7239 §6 example', 'for="192.0.2.43:47011"', '192.0.2.43'],
    ['RFC 7239 §4 example (obfuscated)', 'for="_gazonk"', undefined],
    ['RFC 7239 §6.2 unknown', 'for=unknown', undefined],
    ['RFC 7239 §5.2: no for parameter', 'by=203.0.113.43;proto=https', undefined],
    ['RFC 7239 §4: a malformed element', 'for=192.0.2.60 ;proto=http', undefined],
    ['RFC 7239 §6: a malformed node', 'for="proxy.example"', undefined],
  ])('%s: %s', (_title, element, expected) => {
    expect(forwardedForAddress(element)).toBe(expected);
  });
});

describe('forwardedClientAddress', () => {
  const peer = '10.0.0.1';

  it('RFC 7239 §4/§6: one trusted proxy, the IPv6 client it names with a port, not the element before it', () => {
    const fields = ['for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"'];
    expect(forwardedClientAddress(fields, 1, peer)).toBe('2001:db8:cafe::17');
    expect(forwardedClientAddress(fields, 2, peer)).toBe('192.0.2.60');
    expect(forwardedClientAddress(fields, true, peer)).toBe('192.0.2.60');
  });

  it('RFC 7239 §7.1: one list whether written in one field or several, in order', () => {
    const forms = [
      ['for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown'],
      ['for=192.0.2.43, for="[2001:db8:cafe::17]", for=unknown'],
      ['for=192.0.2.43', 'for="[2001:db8:cafe::17]", for=unknown'],
    ];
    for (const fields of forms) {
      expect(forwardedClientAddress(fields, 1, peer), fields.join(' | ')).toBe('unknown');
      expect(forwardedClientAddress(fields, 2, peer), fields.join(' | ')).toBe('2001:db8:cafe::17');
      expect(forwardedClientAddress(fields, 3, peer), fields.join(' | ')).toBe('192.0.2.43');
      expect(forwardedClientAddress(fields, true, peer), fields.join(' | ')).toBe('192.0.2.43');
    }
  });

  it('RFC 7239 §6.2/§6.3/§5.2: the element n hops back with unknown, an obfuscated name, no for, or bad syntax is unknown, never the element the client wrote before it', () => {
    for (const written of [
      'for=unknown',
      'for=_hidden',
      'for="_SEVKISEK"',
      'by=203.0.113.43',
      'for=192.0.2.9 ;proto=http',
      'for=192.0.2.9;for=192.0.2.8',
    ]) {
      const fields = [`for=198.51.100.9, ${written}, for=10.0.0.2`];
      expect(forwardedClientAddress(fields, 2, peer), written).toBe('unknown');
    }
  });

  it('trusting every proxy, the first element that names an IP address, else the peer', () => {
    expect(forwardedClientAddress(['for=unknown, for=_hidden;proto=https, for=192.0.2.43'], true, peer)).toBe(
      '192.0.2.43',
    );
    expect(forwardedClientAddress(['for=unknown', 'proto=https'], true, peer)).toBe(peer);
    expect(forwardedClientAddress([], true, peer)).toBe(peer);
  });

  it('fewer elements than trusted hops: the first one; no element at all: the peer', () => {
    expect(forwardedClientAddress(['for=192.0.2.43'], 3, peer)).toBe('192.0.2.43');
    expect(forwardedClientAddress(['for=_hidden'], 3, peer)).toBe('unknown');
    expect(forwardedClientAddress([], 3, peer)).toBe(peer);
    expect(forwardedClientAddress([' , '], 1, peer)).toBe(peer);
  });

  it('a quote the client left open cannot take in the field a proxy added', () => {
    const fields = ['for=198.51.100.9, for="', 'for=192.0.2.43'];
    expect(forwardedClientAddress(fields, 1, peer)).toBe('192.0.2.43');
    // How many hops the open field holds cannot be known: never the client-written 198.51.100.9.
    expect(forwardedClientAddress(fields, 2, peer)).toBe('unknown');
    expect(forwardedClientAddress(fields, 3, peer)).toBe('unknown');
  });

  it('a quote the client left open in a field proxies appended to leaves the client unknown, never an address it wrote', () => {
    // What a client could send so that, read carelessly, its own 198.51.100.9 lands 3 hops back.
    const field = 'for=198.51.100.9, for=", for="[2001:db8::9]", for=10.0.0.5';
    for (const trust of [1, 2, 3, 4])
      expect(forwardedClientAddress([field], trust, peer), String(trust)).toBe('unknown');
    expect(forwardedClientAddress([`for=198.51.100.9, for=x"y, for=192.0.2.43`], 1, peer)).toBe('unknown');
  });

  it('a huge header of many elements, or of nothing but quotes and escapes, is read in one pass', () => {
    const many = Array.from({ length: 60_000 }, (_, index) => `for=unknown;ext="${index}"`).join(', ');
    const started = performance.now();
    expect(forwardedClientAddress([`${many}, for=192.0.2.43`], 1, peer)).toBe('192.0.2.43');
    expect(forwardedClientAddress([many], true, peer)).toBe(peer);
    expect(forwardedClientAddress([`${many}, for=192.0.2.43`], 100, peer)).toBe('unknown');
    expect(forwardedClientAddress(['"'.repeat(1_000_001)], 1, peer)).toBe('unknown');
    expect(forwardedClientAddress(['"'.repeat(1_000_000)], true, peer)).toBe(peer);
    expect(forwardedClientAddress([`for="${'\\'.repeat(1_000_000)}"`], true, peer)).toBe(peer);
    expect(forwardedClientAddress([`for="[${'1:'.repeat(500_000)}]"`], 1, peer)).toBe('unknown');
    expect(
      forwardedClientAddress(
        Array.from({ length: 10_000 }, () => 'for=unknown'),
        100,
        peer,
      ),
    ).toBe('unknown');
    expect(performance.now() - started).toBeLessThan(3000);
  });
});
