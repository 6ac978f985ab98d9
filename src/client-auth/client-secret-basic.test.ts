import { describe, expect, it } from 'vitest';
import { OAuthError } from '../core/index.js';
import { clientSecretBasic } from './client-secret-basic.js';
import { decodeFormComponent } from '../request/form-encoding.js';

const basic = (text: string) => `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;

describe('clientSecretBasic', () => {
  it('reads the client id and secret', () => {
    expect(clientSecretBasic(basic('test-client:foobar'))).toEqual({ clientId: 'test-client', clientSecret: 'foobar' });
  });

  it.each([
    ['svc%3Aa:p%40ss%3Aword', 'svc:a', 'p@ss:word'],
    ['a+b:c+d', 'a b', 'c d'],
    ['id:%2B%25%26%3D', 'id', '+%&='],
    ['%C3%A9:%F0%9F%94%91', 'é', '🔑'],
    ['id:se:cr:et', 'id', 'se:cr:et'],
    ['id:', 'id', ''],
    ['bad-percent-encoding:not-utf-8', 'bad-percent-encoding', 'not-utf-8'],
  ])('form-decodes %j', (credentials, clientId, clientSecret) => {
    expect(clientSecretBasic(basic(credentials))).toEqual({ clientId, clientSecret });
  });

  it.each([
    ['an absent header', undefined],
    ['a Bearer token', 'Bearer abc'],
    ['a scheme that only starts with Basic', 'Basicx dGVzdDp4'],
    ['the bare scheme name', 'Basic'],
    ['a basic= auth-param after another scheme', 'Digest x="1", basic=yes'],
    ['Basic inside a quoted string', 'Digest x="1, Basic dGVzdDp4"'],
  ])('returns undefined for %s', (_title, header) => {
    expect(clientSecretBasic(header)).toBeUndefined();
  });

  it('reads the scheme name case-insensitively', () => {
    expect(clientSecretBasic(basic('a:b').replace('Basic', 'BASIC'))?.clientId).toBe('a');
  });

  it.each([
    ['invalid base64', 'Basic ***'],
    ['base64 of the wrong length', 'Basic YWJjZA='],
    ['an empty credential', 'Basic '],
    ['no colon', basic('test-client')],
    ['an empty client id', basic(':secret')],
    ['bad percent-encoding', basic('id:100%')],
    ['an escape that is not UTF-8', basic('id:%ff')],
    ['raw bytes that are not UTF-8', `Basic ${Buffer.from([0x69, 0x64, 0x3a, 0xff]).toString('base64')}`],
    ['two Authorization fields, joined as one', `${basic('a:b')}, ${basic('c:d')}`],
    ['a Basic field followed by a Bearer field', `${basic('a:b')}, Bearer abc`],
    ['a Bearer field followed by a Basic field', `Bearer abc, ${basic('a:b')}`],
    ['another scheme, then Basic after spaces and a tab', `Digest x="1",  \t${basic('a:b').toLowerCase()}`],
    ['two words after the scheme', `${basic('a:b')} ${basic('c:d').slice(6)}`],
  ])('refuses %s with invalid_request', (_title, header) => {
    let error: unknown;
    try {
      clientSecretBasic(header);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).code).toBe('invalid_request');
  });

  it('keeps the presented secret out of its error', () => {
    try {
      clientSecretBasic(basic('id:secret-value%'));
    } catch (error) {
      expect(JSON.stringify((error as OAuthError).toJSON(true))).not.toContain('secret-value');
    }
    expect.assertions(1);
  });

  it('answers a header of many spaces ending in a character it does not expect, without backtracking through them', () => {
    // A pattern whose parts could share the spaces took seconds per 100,000 of them (quadratic);
    // at this size it would outlast the test's time limit.
    const spaces = ' '.repeat(300_000);
    expect(() => clientSecretBasic(`Basic a${spaces}\u00a0`)).toThrow(OAuthError);
    expect(() => clientSecretBasic(`Basic a${spaces}b`)).toThrow(OAuthError);
    expect(() => clientSecretBasic(`Basic a,${spaces}b`)).toThrow(OAuthError);
  });

  it.each([
    ['a tab', '\tx'],
    ['a no-break space', '\u00a0'],
    ['a line feed', '\nx'],
  ])('answers spaces right after the scheme, then %s, without backtracking through them', (_title, ending) => {
    // With no credentials between the scheme's spaces and the trailing ones, every split of the
    // run was tried: 2 s at 64,000 spaces, minutes at this size.
    const spaces = ' '.repeat(300_000);
    expect(() => clientSecretBasic(`Basic${spaces}${ending}`)).toThrow(OAuthError);
  });

  it.each([
    ['credentials followed by spaces', `Basic ${Buffer.from('id:secret').toString('base64')}   `, 'id'],
    ['several spaces after the scheme', `BASIC    ${Buffer.from('id:secret').toString('base64')}`, 'id'],
  ])('§2.3.1 still reads %s', (_title, header, clientId) => {
    expect(clientSecretBasic(header)?.clientId).toBe(clientId);
  });

  it.each([
    ['the scheme and spaces only', 'Basic    '],
    ['the scheme and one space', 'Basic '],
  ])('§2.3.1 refuses %s as malformed', (_title, header) => {
    expect(() => clientSecretBasic(header)).toThrow(OAuthError);
  });

  it('reads the scheme alone as no Basic credentials', () => {
    expect(clientSecretBasic('Basic')).toBeUndefined();
  });

  it.each([
    ['a word after the credentials separated by a tab', `Basic ${Buffer.from('id:secret').toString('base64')}\tx`],
    [
      'a word after the credentials separated by a no-break space',
      `Basic ${Buffer.from('id:s').toString('base64')}\u00a0x`,
    ],
    ['a tab between the scheme and the credentials', `Basic\t${Buffer.from('id:secret').toString('base64')}`],
    ['a space and a tab between the scheme and the credentials', `Basic \t${Buffer.from('id:s').toString('base64')}`],
  ])('RFC 6749 §2.3 / RFC 7235 §2.1 refuses %s as malformed Basic credentials, not as none', (_title, header) => {
    expect(() => clientSecretBasic(header)).toThrow(OAuthError);
  });

  it('RFC 6749 §2.3.1 / Appendix B keeps a leading byte order mark in the client id, as the form body does', () => {
    const fromBasic = clientSecretBasic(basic('\uFEFFid:\uFEFFsecret'));
    expect(fromBasic).toEqual({ clientId: '\uFEFFid', clientSecret: '\uFEFFsecret' });
    expect(fromBasic?.clientId).toBe(decodeFormComponent('%EF%BB%BFid'));
  });

  it('§2.3.1 still reads credentials followed by spaces and a tab', () => {
    expect(clientSecretBasic(`Basic ${Buffer.from('id:secret').toString('base64')} \t`)?.clientId).toBe('id');
  });
});
