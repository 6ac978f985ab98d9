import { generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenVariants } from '../../test/support/token-variants.js';
import { isCompactJws } from './compact-jws.js';

describe('isCompactJws', () => {
  let token: string;
  beforeAll(async () => {
    const { privateKey } = await generateKeyPair('RS256');
    // 256 signature bytes make 342 characters, whose last carries 4 unused bits.
    token = await new SignJWT({ jti: 'a', note: '>>>???' }).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
  });

  it('RFC 7515 §7.1 accepts a token as jose writes it', () => {
    expect(isCompactJws(token)).toBe(true);
  });

  it('RFC 7515 §2 refuses whitespace before, inside or after a part', () => {
    const [header, payload, signature] = token.split('.') as [string, string, string];
    expect(isCompactJws(`${token} `)).toBe(false);
    expect(isCompactJws(` ${token}`)).toBe(false);
    expect(isCompactJws(`${token}\n`)).toBe(false);
    expect(isCompactJws(`${header}.${payload}.${signature.slice(0, 9)} ${signature.slice(9)}`)).toBe(false);
    expect(isCompactJws(`${header}.${payload.slice(0, 5)}\t${payload.slice(5)}.${signature}`)).toBe(false);
  });

  it('RFC 7515 §2 refuses = padding and the + and / of plain base64', () => {
    const [header, payload, signature] = token.split('.') as [string, string, string];
    expect(isCompactJws(`${token}==`)).toBe(false);
    expect(isCompactJws(`${header}=.${payload}.${signature}`)).toBe(false);
    expect(isCompactJws(`${header}.${payload}.${signature.slice(0, -1)}+`)).toBe(false);
    expect(isCompactJws(`${header}.${payload}.${signature.slice(0, -1)}/`)).toBe(false);
  });

  it('RFC 7515 §2 refuses a last character whose unused bits are set, which decodes to the same bytes', () => {
    const variant = tokenVariants(token)['stray bits']!;
    expect(Buffer.from(variant.split('.')[2]!, 'base64url')).toEqual(Buffer.from(token.split('.')[2]!, 'base64url'));
    expect(isCompactJws(variant)).toBe(false);
  });

  it('RFC 7515 §7.1 refuses other than three non-empty parts', () => {
    const [header, payload, signature] = token.split('.') as [string, string, string];
    expect(header.length % 4, 'the header makes a whole number of 4-character groups').toBe(0);
    for (const value of [
      '',
      '.',
      '..',
      `${header}.${payload}`,
      `${header}.${payload}.`,
      `.${payload}.${signature}`,
      `${header}..${signature}`,
      `${token}.${signature}`,
      `${header}.${payload}.${signature}.`,
      // A part whose length leaves one character over (4n + 1) encodes no whole byte.
      `${header}A.${payload}.${signature}`,
    ]) {
      expect(isCompactJws(value), JSON.stringify(value)).toBe(false);
    }
  });
});
