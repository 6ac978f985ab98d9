import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFormComponent, encodeFormComponent } from './form-encoding.js';

describe('decodeFormComponent', () => {
  it.each([
    ['plain', 'plain'],
    ['a+b', 'a b'],
    ['a%20b', 'a b'],
    ['a%2Bb', 'a+b'],
    ['%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2C%3B%3D%25', ":/?#[]@!$&'()*,;=%"],
    ['%c3%a9', 'é'],
    ['%C3%A9', 'é'],
    ['%F0%9F%94%91', '🔑'],
    ['é', 'é'],
    ['🔑+%41', '🔑 A'],
    ['', ''],
  ])('decodes %j as %j', (text, decoded) => {
    expect(decodeFormComponent(text)).toBe(decoded);
  });

  it.each(['%', '%4', '%zz', '%g0', 'a%2', '100%'])('reports bad percent-encoding in %j', (text) => {
    expect(decodeFormComponent(text)).toEqual({ problem: 'bad-percent-encoding' });
  });

  it.each(['%FF', '%C3', '%C3%28', '%ED%A0%80', '%C0%AF', '%F8%88%80%80%80'])('reports %j as not UTF-8', (text) => {
    expect(decodeFormComponent(text)).toEqual({ problem: 'not-utf-8' });
  });

  it.each(['not-utf-8', 'bad-percent-encoding', 'not%2Dutf%2D8'])(
    'decodes %j to text that names a problem, and that is only text',
    (text) => {
      const decoded = decodeFormComponent(text);
      expect(typeof decoded).toBe('string');
      expect(decoded).toBe(text.replaceAll('%2D', '-'));
    },
  );

  it('keeps a leading byte order mark instead of dropping it', () => {
    expect(decodeFormComponent('%EF%BB%BFa')).toBe('\ufeffa');
  });
});

describe('encodeFormComponent', () => {
  it.each(['a b', 'p@ss:w%rd+&/=?#', 'é🔑', ''])('round-trips %j through decodeFormComponent', (text) => {
    expect(decodeFormComponent(encodeFormComponent(text))).toBe(text);
  });

  it('writes a space as "+"', () => {
    expect(encodeFormComponent('a b')).toBe('a+b');
  });
});

describe('form decoding properties', () => {
  it('decodes what URLSearchParams encodes, for any Unicode text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const encoded = new URLSearchParams({ v: text }).toString().slice(2);
        expect(decodeFormComponent(encoded)).toBe(text);
      }),
    );
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const decoded = decodeFormComponent(text);
        if (typeof decoded !== 'string') expect(['bad-percent-encoding', 'not-utf-8']).toContain(decoded.problem);
      }),
    );
  });
});
