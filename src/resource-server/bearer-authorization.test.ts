import { describe, expect, it } from 'vitest';
import { OAuthError } from '../core/index.js';
import {
  createBearerAuthorizer,
  hasAccessTokenParameter,
  readBearerToken,
  writeBearerChallenge,
} from './bearer-authorization.js';
import type { AccessTokenVerifier } from './verify-access-token.js';

describe('readBearerToken', () => {
  it.each([
    ['no header', undefined, undefined],
    ['an empty header', '', undefined],
    ['another scheme', 'Basic dXNlcjpwYXNz', undefined],
    ['another scheme whose parameters mention bearer', 'Digest username="bearer", realm="a, bearer b"', undefined],
    ['another scheme with a parameter named bearer', 'Example a=1, bearer=2', undefined],
    ['another scheme with a parameter starting with bearer', 'Example a=1,  bearerish=2', undefined],
    ['a Bearer token', 'Bearer abc.def-ghi_jkl~+/==', 'abc.def-ghi_jkl~+/=='],
    ['the scheme in any case', 'BEARER abc', 'abc'],
    ['several spaces after the scheme', 'Bearer   abc', 'abc'],
    ['no Bearer credentials when a no-break space comes before the scheme', '\u00a0Bearer abc', undefined],
  ])('§2.1 reads %s', (_title, header, token) => {
    expect(readBearerToken(header)).toBe(token);
  });

  it.each([
    ['the scheme alone', 'Bearer'],
    ['a comma inside the token', 'Bearer a,b'],
    ['padding in the middle', 'Bearer a=b'],
    ['two tokens', 'Bearer a b'],
    ['a tab after the scheme', 'Bearer\tabc'],
    ['a tab between the scheme and spaces', 'Bearer\t abc'],
    ['a tab inside the token', 'Bearer abc\tdef'],
    ['a quoted token', 'Bearer "abc"'],
    ['another scheme, then Bearer (two fields joined)', 'Basic dXNlcjpwYXNz, Bearer abc'],
    ['another scheme, then a bare Bearer', 'Basic dXNlcjpwYXNz,bearer'],
    ['another scheme, then Bearer after many spaces', `Basic dXNlcjpwYXNz,${' '.repeat(20)}Bearer abc`],
    ['another scheme, then a bare Bearer, then another field', 'Basic dXNlcjpwYXNz, Bearer, Basic dXNlcjpwYXNz'],
    // RFC 9110 §11.2: the quote is not an auth-param value, so it opens no quoted string.
    ['another scheme holding a stray quote, then Bearer', 'Basic dXNl"cjpw, Bearer abc'],
    // RFC 9110 §5.6.1: `Bearer,` is `Bearer` with an empty element after it.
    ['a bare Bearer, then a comma', 'Bearer,'],
    ['a bare Bearer, then empty elements', 'bearer , ,\t,'],
    ['a bare Bearer, then another scheme (two fields joined)', 'Bearer, Basic dXNlcjpwYXNz'],
    ['a bare Bearer, then another scheme without a space', 'BEARER,Basic dXNlcjpwYXNz'],
    ['a no-break space after the token', 'Bearer abc\u00a0'],
    ['a line separator after the token', 'Bearer abc\u2028'],
  ])('§2.1 and §3.1 refuse %s as invalid_request', (_title, header) => {
    expect(() => readBearerToken(header)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it('reads a long header with a line break in it in one pass', () => {
    // A pattern whose "." stops at line breaks retried the whole rest of the header at every space.
    expect(() => readBearerToken(`Bearer${' '.repeat(100_000)}a\nb`)).toThrow(
      expect.objectContaining({ code: 'invalid_request' }),
    );
  });

  it('reads a header of quotes and backslashes in one pass and finds no Bearer in it', () => {
    // A scan that restarted at every quote would take seconds over a large header.
    expect(readBearerToken(`Digest x=${'"\\'.repeat(200_000)}, Bearer`)).toBeUndefined();
  });
});

describe('writeBearerChallenge', () => {
  it('§3 names realm, error and description, and the scope for insufficient_scope', () => {
    const challenge = writeBearerChallenge(new OAuthError('insufficientScope'), 'api', ['a', 'b']);
    expect(challenge.status).toBe(403);
    expect(challenge.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token.", scope="a b"',
    );
  });

  it('§3 keeps quotes and backslashes out of error_description', () => {
    const error = new OAuthError('invalidToken', { description: 'bad "quoted" \\ text' });
    const header = writeBearerChallenge(error, 'api').headers['WWW-Authenticate']!;
    expect(header).toContain(`error_description="bad 'quoted' ' text"`);
  });

  it('sends no challenge for a failure of the server itself', () => {
    const challenge = writeBearerChallenge(new OAuthError('temporarilyUnavailable'), 'api');
    expect(challenge.status).toBe(503);
    expect(challenge.headers['WWW-Authenticate']).toBeUndefined();
  });
});

describe('createBearerAuthorizer', () => {
  const refusing: AccessTokenVerifier = {
    verify: () => Promise.reject(new Error('unexpected failure')),
  };

  it('answers an unexpected verifier failure 500 and reports it', async () => {
    const reported: Error[] = [];
    const authorize = createBearerAuthorizer({ verifier: refusing, reportError: (error) => reported.push(error) });
    const result = await authorize({ authorization: 'Bearer abc' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.challenge.status).toBe(500);
    expect(reported).toHaveLength(1);
  });

  it('still answers 500 when the error reporter itself throws', async () => {
    const authorize = createBearerAuthorizer({
      verifier: refusing,
      reportError: () => {
        throw new Error('the log is full');
      },
    });
    const result = await authorize({ authorization: 'Bearer abc' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.challenge.status).toBe(500);
  });

  it('rejects a realm that cannot be quoted', () => {
    expect(() => createBearerAuthorizer({ verifier: refusing, realm: 'a"b' })).toThrow(TypeError);
  });

  it.each([
    ['a space', 'invoices read'],
    ['a quote', 'a"b'],
    ['a line break', 'a\r\nX-Injected: 1'],
    ['nothing', ''],
  ])(
    'RFC 6750 §3 refuses, when created, a route scope holding %s, which the scope attribute cannot carry',
    (_title, scope) => {
      expect(() => createBearerAuthorizer({ verifier: refusing, requiredScopes: ['ok', scope] })).toThrow(TypeError);
    },
  );

  it("RFC 6750 §3 refuses, when created, a verifier's own scope the scope attribute cannot carry", () => {
    const verifier: AccessTokenVerifier = { ...refusing, requiredScopes: ['a"b'] };
    expect(() => createBearerAuthorizer({ verifier })).toThrow(TypeError);
  });

  it('finds an access_token query parameter', () => {
    expect(hasAccessTokenParameter('/x?access_token=abc')).toBe(true);
    expect(hasAccessTokenParameter('/x?a=1&access%5Ftoken=abc')).toBe(true);
    expect(hasAccessTokenParameter('/x?token=abc')).toBe(false);
    expect(hasAccessTokenParameter('/x#?access_token=abc')).toBe(false);
    expect(hasAccessTokenParameter('/x')).toBe(false);
  });

  it('finds the parameter in a request target that is not a valid URL', () => {
    expect(hasAccessTokenParameter('//x:99999?access_token=abc')).toBe(true);
  });

  it('RFC 6750 §2: a token in the header and in a query of an unparseable target is refused as sent two ways', async () => {
    const accepting: AccessTokenVerifier = {
      verify: () => Promise.reject(new Error('must not be asked')),
    };
    const authorize = createBearerAuthorizer({ verifier: accepting });
    const result = await authorize({
      authorization: 'Bearer abc',
      hasAccessTokenParameter: hasAccessTokenParameter('//x:99999?access_token=abc'),
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.challenge.status).toBe(400);
      expect(result.challenge.headers['WWW-Authenticate']).toContain('error="invalid_request"');
    }
  });

  it("RFC 6750 §3: the insufficient_scope challenge names the verifier's own required scopes with the route's", async () => {
    const lacking: AccessTokenVerifier = {
      requiredScopes: ['base'],
      verify: () => Promise.reject(new OAuthError('insufficientScope')),
    };
    const authorize = createBearerAuthorizer({ verifier: lacking, requiredScopes: ['invoices:read', 'base'] });
    const result = await authorize({ authorization: 'Bearer abc' });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.challenge.status).toBe(403);
      expect(result.challenge.headers['WWW-Authenticate']).toMatch(/, scope="base invoices:read"$/);
    }
  });
});
