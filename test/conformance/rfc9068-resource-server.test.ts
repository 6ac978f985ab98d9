// RFC 9068 §4: a resource server validating JWT access tokens from this server, over real HTTP.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  base64url,
  CompactSign,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type JSONWebKeySet,
} from 'jose';
import { createManualClock, OAuthError, type OAuthErrorCode } from '../../src/index.js';
import {
  createAccessTokenVerifier,
  createRemoteJwkSet,
  verifyAccessToken,
  type AccessTokenVerifierOptions,
} from '../../src/resource-server/index.js';
import {
  apiAudience,
  apiClient,
  badTokenKinds,
  forgeToken,
  goodClaims,
  invoiceClient,
  signWith,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../support/resource-server-fixtures.js';
import { testIssuer } from '../support/test-provider.js';
import { postForm } from '../support/token-requests.js';
import { tokenVariants } from '../support/token-variants.js';

const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
let as: AuthorizationServer;

beforeAll(async () => {
  as = await startAuthorizationServer({ clock });
});
afterAll(() => as.close());

function verifierOptions(overrides: Partial<AccessTokenVerifierOptions> = {}): AccessTokenVerifierOptions {
  return { issuer: testIssuer, audience: apiAudience, jwks: createRemoteJwkSet(as.jwksUri), clock, ...overrides };
}

/** The error a verification fails with, or undefined when it passed. */
async function failureOf(promise: Promise<unknown>): Promise<OAuthError | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    return error;
  }
}

async function expectCode(promise: Promise<unknown>, code: OAuthErrorCode, status: number) {
  const error = await failureOf(promise);
  expect(error?.code).toBe(code);
  expect(error?.status).toBe(status);
  return error!;
}

describe('RFC 9068 §4 access-token validation', () => {
  it('§4 accepts a token issued by this server and returns its claims', async () => {
    const token = await as.issue('invoices:read invoices:write');
    const verified = await createAccessTokenVerifier(verifierOptions()).verify(token);
    expect(verified).toMatchObject({
      issuer: testIssuer,
      subject: invoiceClient.id,
      clientId: invoiceClient.id,
      audience: [apiAudience],
      scopes: ['invoices:read', 'invoices:write'],
      keyId: (await as.keys.getSigningKey()).kid,
    });
    expect(verified.expiresAt - verified.issuedAt).toBe(600_000);
  });

  it('§4 verifyAccessToken takes the jwks_uri itself and checks the required scopes', async () => {
    const token = await as.issue('invoices:read');
    const verified = await verifyAccessToken(token, {
      issuer: testIssuer,
      audience: apiAudience,
      requiredScopes: ['invoices:read'],
      jwks: as.jwksUri,
      clock,
    });
    expect(verified.clientId).toBe(invoiceClient.id);
    await expectCode(
      verifyAccessToken(token, {
        issuer: testIssuer,
        audience: apiAudience,
        requiredScopes: ['invoices:write'],
        jwks: as.jwksUri,
        clock,
      }),
      'insufficient_scope',
      403,
    );
  });

  it('§4 verifyAccessToken rejects its promise, never throws, for options that cannot work', async () => {
    const token = await as.issue('invoices:read');
    let pending: Promise<unknown> | undefined;
    expect(() => {
      pending = verifyAccessToken(token, {
        issuer: testIssuer,
        audience: apiAudience,
        jwks: as.jwksUri,
        introspection: { endpoint: 'ftp://auth.example.com/introspect', clientId: 'api', clientSecret: 's' },
        clock,
      });
    }).not.toThrow();
    await expect(pending).rejects.toBeInstanceOf(TypeError);
  });

  it.each(badTokenKinds)('§4 refuses a token with %s as invalid_token', async (kind) => {
    const token = await forgeToken(kind, as.keys, clock.now());
    const error = await expectCode(createAccessTokenVerifier(verifierOptions()).verify(token), 'invalid_token', 401);
    expect(error.description).not.toContain(token);
  });

  it('§4 step 1 accepts typ "application/at+jwt" as well as "at+jwt"', async () => {
    const key = await as.keys.getSigningKey();
    const token = await signWith(key, goodClaims(clock.now()), { typ: 'application/at+jwt' });
    await expect(createAccessTokenVerifier(verifierOptions()).verify(token)).resolves.toMatchObject({
      clientId: invoiceClient.id,
    });
  });

  it('§4 step 1 says why a token with typ JWT is refused', async () => {
    const token = await forgeToken('wrong typ', as.keys, clock.now());
    const error = await expectCode(createAccessTokenVerifier(verifierOptions()).verify(token), 'invalid_token', 401);
    expect(error.description).toMatch(/typ must be at\+jwt/);
  });

  it('§4 step 5 and RFC 7515 §5.2 refuse a variant of a valid token (whitespace, padding, stray bits)', async () => {
    const token = await as.issue('invoices:read');
    const verifier = createAccessTokenVerifier(verifierOptions());
    for (const [name, variant] of Object.entries(tokenVariants(token))) {
      const error = await expectCode(verifier.verify(variant), 'invalid_token', 401);
      expect(error.description, name).toMatch(/not a signed JWT/);
    }
    await expect(verifier.verify(token)).resolves.toMatchObject({ clientId: invoiceClient.id });
  });

  it('§4 step 3 says a token from another issuer was issued elsewhere', async () => {
    const token = await forgeToken('wrong issuer', as.keys, clock.now());
    const error = await failureOf(createAccessTokenVerifier(verifierOptions()).verify(token));
    expect(error?.description).toMatch(/another authorization server/);
  });

  it('§4 step 4 accepts a token whose aud array contains this resource server', async () => {
    const key = await as.keys.getSigningKey();
    const token = await signWith(key, goodClaims(clock.now(), { aud: ['https://other.example', apiAudience] }));
    await expect(createAccessTokenVerifier(verifierOptions()).verify(token)).resolves.toBeDefined();
  });

  it('§4 step 4 accepts any of several identifiers of this resource server', async () => {
    const token = await as.issue();
    const verifier = createAccessTokenVerifier(verifierOptions({ audience: ['https://legacy.example', apiAudience] }));
    await expect(verifier.verify(token)).resolves.toBeDefined();
  });

  it('§4 step 5 refuses an algorithm outside the allow-list, even with a valid signature', async () => {
    const token = await as.issue();
    const verifier = createAccessTokenVerifier(verifierOptions({ algorithms: ['RS256'] }));
    const error = await expectCode(verifier.verify(token), 'invalid_token', 401);
    expect(error.description).toMatch(/algorithm/);
  });

  it.each(['none', 'HS256', 'HS512'])('§4 step 5 never lets %s into the allow-list', (alg) => {
    expect(() => createAccessTokenVerifier(verifierOptions({ algorithms: [alg as never] }))).toThrow(TypeError);
  });

  it('§4 step 6 refuses a token once exp has passed, allowing the configured clock skew', async () => {
    const token = await as.issue();
    const verifier = createAccessTokenVerifier(verifierOptions({ clockTolerance: 10 }));
    const issuedAt = clock.now();
    try {
      // RFC 7519 §4.1.4: valid only while the current time is before exp (plus the skew).
      clock.set(issuedAt + 600_000 + 9_999);
      await expect(verifier.verify(token)).resolves.toBeDefined();
      clock.set(issuedAt + 600_000 + 10_000);
      const error = await expectCode(verifier.verify(token), 'invalid_token', 401);
      expect(error.description).toBe('The access token expired.');
    } finally {
      clock.set(issuedAt);
    }
  });

  it('§4 step 6 refuses a token before its nbf, allowing the configured clock skew', async () => {
    const key = await as.keys.getSigningKey();
    const seconds = Math.floor(clock.now() / 1000);
    const soon = await signWith(key, goodClaims(clock.now(), { nbf: seconds + 5 }));
    const later = await signWith(key, goodClaims(clock.now(), { nbf: seconds + 60 }));
    const verifier = createAccessTokenVerifier(verifierOptions({ clockTolerance: 10 }));
    await expect(verifier.verify(soon)).resolves.toBeDefined();
    const error = await expectCode(verifier.verify(later), 'invalid_token', 401);
    expect(error.description).toMatch(/not valid yet/);
  });

  it('§4 step 7 answers insufficient_scope when a required scope was not granted', async () => {
    const token = await as.issue('invoices:read');
    const verifier = createAccessTokenVerifier(verifierOptions({ requiredScopes: ['invoices:read'] }));
    await expect(verifier.verify(token)).resolves.toBeDefined();
    await expectCode(verifier.verify(token, ['invoices:write']), 'insufficient_scope', 403);
    // Bearer challenges name these along with the route's own.
    expect(verifier.requiredScopes).toEqual(['invoices:read']);
  });

  it('§4 step 5 accepts a token without kid when several published keys match and one of them signed it', async () => {
    const pairs = await Promise.all([1, 2, 3].map(() => generateKeyPair('RS256', { extractable: true })));
    const published = await Promise.all(pairs.slice(0, 2).map(async ({ publicKey }) => exportJWK(publicKey)));
    const verifier = createAccessTokenVerifier(verifierOptions({ jwks: { keys: published } }));
    const sign = (privateKey: CryptoKey) =>
      new SignJWT(goodClaims(clock.now())).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' }).sign(privateKey);
    const verified = await verifier.verify(await sign(pairs[1]!.privateKey));
    expect(verified.keyId).toBeUndefined();
    expect(verified.scopes).toEqual(['invoices:read']);
    const error = await expectCode(verifier.verify(await sign(pairs[2]!.privateKey)), 'invalid_token', 401);
    expect(error.description).toMatch(/signed by an unknown key|signature is invalid/);
  });

  it('§2.2 refuses a token without jti', async () => {
    const key = await as.keys.getSigningKey();
    const { jti: _jti, ...claims } = goodClaims(clock.now());
    await expectCode(
      createAccessTokenVerifier(verifierOptions()).verify(await signWith(key, claims)),
      'invalid_token',
      401,
    );
  });

  it('§2.2.3 refuses a token whose scope claim is not a string', async () => {
    const key = await as.keys.getSigningKey();
    const token = await signWith(key, goodClaims(clock.now(), { scope: ['invoices:read'] }));
    await expectCode(createAccessTokenVerifier(verifierOptions()).verify(token), 'invalid_token', 401);
  });

  it.each([
    ['a number', [apiAudience, 5]],
    ['an object', [{ aud: apiAudience }, apiAudience]],
    ['null', [apiAudience, null]],
  ])('§4 (RFC 7519 §4.1.3) refuses an aud array holding %s beside this resource server', async (_title, aud) => {
    const key = await as.keys.getSigningKey();
    const token = await signWith(key, goodClaims(clock.now(), { aud: aud as string[] }));
    const error = await expectCode(createAccessTokenVerifier(verifierOptions()).verify(token), 'invalid_token', 401);
    expect(error.description).toBe('The access token has a malformed aud claim.');
  });

  it.each([
    ['an empty string', ''],
    ['one word', 'not-a-jwt'],
    ['three junk parts', 'a.b.c'],
    ['a header that is not JSON', `${base64url.encode('{')}.e30.AA`],
    ['an encrypted token (five parts)', 'a.b.c.d.e'],
  ])('§4 refuses %s as invalid_token without crashing', async (_title, token) => {
    await expectCode(createAccessTokenVerifier(verifierOptions()).verify(token), 'invalid_token', 401);
  });
});

describe('RFC 9068 §4 step 5: the JWK Set from jwks_uri, cached', () => {
  it('§4 step 5 fetches the JWK Set once for many tokens', async () => {
    const jwks = createRemoteJwkSet(as.jwksUri);
    const verifier = createAccessTokenVerifier(verifierOptions({ jwks }));
    const before = as.jwksRequests();
    for (const token of await Promise.all([as.issue(), as.issue(), as.issue()])) {
      await verifier.verify(token);
    }
    await verifier.verify(await as.issue());
    expect(as.jwksRequests() - before).toBe(1);
  });

  it('§4 step 5 refetches for an unknown kid at most once per cooldown', async () => {
    const verifier = createAccessTokenVerifier(
      verifierOptions({ jwks: createRemoteJwkSet(as.jwksUri, { cooldown: 30 }) }),
    );
    await verifier.verify(await as.issue());
    const before = as.jwksRequests();
    for (let attempt = 0; attempt < 5; attempt++) {
      await expectCode(verifier.verify(await forgeToken('unknown kid', as.keys, clock.now())), 'invalid_token', 401);
    }
    expect(as.jwksRequests() - before).toBeLessThanOrEqual(1);
  });

  it('§4 step 5 refetches the JWK Set when a token names a key published after the last fetch', async () => {
    const server = await startAuthorizationServer({ clock });
    try {
      const jwks = createRemoteJwkSet(server.jwksUri, { cooldown: 0 });
      const verifier = createAccessTokenVerifier(verifierOptions({ jwks }));
      await verifier.verify(await server.issue());
      // The cached set is handed over as it is, the same object until the next fetch.
      const cached = (jwks as unknown as { jwks(): JSONWebKeySet }).jwks();
      expect((jwks as unknown as { jwks(): JSONWebKeySet }).jwks()).toBe(cached);
      // Two immediate rotations bring in a key the verifier has never seen.
      await server.keys.rotate({ immediate: true });
      await server.keys.rotate({ immediate: true });
      const token = await server.issue();
      const before = server.jwksRequests();
      await expect(verifier.verify(token)).resolves.toBeDefined();
      expect(server.jwksRequests() - before).toBe(1);
      const refetched = (jwks as unknown as { jwks(): JSONWebKeySet }).jwks();
      expect(refetched).not.toBe(cached);
      expect(refetched.keys.map((key) => key.kid)).toContain(decodeProtectedHeader(token).kid);
    } finally {
      await server.close();
    }
  });

  it('§4 step 5 answers temporarily_unavailable, not invalid_token, when the JWK Set cannot be fetched', async () => {
    const server = await startAuthorizationServer({ clock });
    const token = await server.issue();
    const jwksUri = server.jwksUri;
    await server.close();
    const verifier = createAccessTokenVerifier(verifierOptions({ jwks: createRemoteJwkSet(jwksUri, { timeout: 2 }) }));
    await expectCode(verifier.verify(token), 'temporarily_unavailable', 503);
  });

  it('§4 step 5 fetches the JWK Set with a timeout given in fractions of a second', async () => {
    const token = await as.issue();
    const verifier = createAccessTokenVerifier(
      verifierOptions({ jwks: createRemoteJwkSet(as.jwksUri, { timeout: 1.0005 }) }),
    );
    await expect(verifier.verify(token)).resolves.toMatchObject({ clientId: invoiceClient.id });
  });

  it.each([
    ['timeout', 0],
    ['timeout', -1],
    ['timeout', Number.NaN],
    ['cooldown', Number.POSITIVE_INFINITY],
    ['cacheMaxAge', -0.5],
    ['timeout', 2_147_484],
  ])('refuses %s %s when the key source is made, not at the first token', (name, value) => {
    expect(() => createRemoteJwkSet(as.jwksUri, { [name]: value })).toThrow(new RegExp(`^${name} must be`));
  });
});

describe('revocation checked through introspection (RFC 7662)', () => {
  const introspection = () => ({
    endpoint: `${as.url}/oauth2/introspect`,
    clientId: apiClient.id,
    clientSecret: apiClient.secret,
  });

  it('RFC 7662 §2.2 accepts a token the introspection endpoint calls active', async () => {
    const token = await as.issue();
    const verifier = createAccessTokenVerifier(verifierOptions({ introspection: introspection() }));
    await expect(verifier.verify(token)).resolves.toMatchObject({ clientId: invoiceClient.id });
  });

  it('RFC 7662 §2.2 refuses a revoked token as invalid_token, which a signature check alone accepts', async () => {
    const token = await as.issue();
    const revoked = await postForm(`${as.url}/oauth2/revoke`, { token }, invoiceClient);
    expect(revoked.status).toBe(200);
    await expect(createAccessTokenVerifier(verifierOptions()).verify(token)).resolves.toBeDefined();
    const error = await expectCode(
      createAccessTokenVerifier(verifierOptions({ introspection: introspection() })).verify(token),
      'invalid_token',
      401,
    );
    expect(error.description).toMatch(/not active/);
  });

  it('RFC 7662 §2.1 authenticates with client_secret_post as well', async () => {
    const token = await as.issue();
    const verifier = createAccessTokenVerifier(
      verifierOptions({ introspection: { ...introspection(), authMethod: 'client_secret_post' } }),
    );
    await expect(verifier.verify(token)).resolves.toBeDefined();
  });

  it.each([
    ['an endpoint that is not a URL', { endpoint: 'introspect' }],
    ['an endpoint that is not http(s)', { endpoint: 'ftp://auth.test.example/introspect' }],
    ['an empty clientId', { clientId: '' }],
    ['an unknown authMethod', { authMethod: 'private_key_jwt' }],
    ['a timeout of 0', { timeout: 0 }],
    ['a timeout of NaN', { timeout: Number.NaN }],
    ['a timeout longer than node timers take (2^31 ms)', { timeout: 2_147_484 }],
  ])('RFC 7662 §2.1 refuses, when the verifier is made, introspection options with %s', (_title, change) => {
    const options = verifierOptions({ introspection: { ...introspection(), ...change } as never });
    expect(() => createAccessTokenVerifier(options)).toThrow(TypeError);
  });

  it('RFC 7662 §2.3 answers temporarily_unavailable when the introspection call is refused', async () => {
    const token = await as.issue();
    const verifier = createAccessTokenVerifier(
      verifierOptions({ introspection: { ...introspection(), clientSecret: 'wrong' } }),
    );
    await expectCode(verifier.verify(token), 'temporarily_unavailable', 503);
  });

  it('RFC 7662 §2.3 answers temporarily_unavailable to an introspection answer other than 200, and lets go of its body unread', async () => {
    const token = await as.issue();
    let cancelled = false;
    const body = new ReadableStream({
      pull: (controller) => controller.enqueue(new TextEncoder().encode('<html>busy</html>')),
      cancel: () => {
        cancelled = true;
      },
    });
    const verifier = createAccessTokenVerifier(
      verifierOptions({
        introspection: { ...introspection(), fetch: () => Promise.resolve(new Response(body, { status: 502 })) },
      }),
    );
    await expectCode(verifier.verify(token), 'temporarily_unavailable', 503);
    expect(cancelled).toBe(true);
  });

  it('RFC 7662 §2.1 makes the introspection call with a timeout given in fractions of a second', async () => {
    const token = await as.issue();
    const verifier = createAccessTokenVerifier(
      verifierOptions({ introspection: { ...introspection(), timeout: 1.0005 } }),
    );
    await expect(verifier.verify(token)).resolves.toMatchObject({ clientId: invoiceClient.id });
  });

  it.each([
    ['with its length declared', true],
    ['sent in chunks without a declared length', false],
  ])(
    'RFC 7662 §2.3 answers temporarily_unavailable to an introspection answer over 1 MiB %s, even one saying active',
    async (_title, declared) => {
      const huge = JSON.stringify({ active: true, padding: 'x'.repeat(2 * 1024 * 1024) });
      const server = createServer((_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          ...(declared ? { 'content-length': String(Buffer.byteLength(huge)) } : {}),
        });
        // In pieces, so an unbounded reader would see them all.
        for (let at = 0; at < huge.length; at += 64 * 1024) res.write(huge.slice(at, at + 64 * 1024));
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
        const token = await as.issue();
        const verifier = createAccessTokenVerifier(
          verifierOptions({ introspection: { ...introspection(), endpoint } }),
        );
        await expectCode(verifier.verify(token), 'temporarily_unavailable', 503);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );
});

describe('RFC 8725 §3.1: each verification key is used with one algorithm', () => {
  /** A key pair of `type`, with its public JWK as published (no alg unless given). */
  async function keyPair(type: 'rsa' | 'ec' | 'ed25519', alg?: string) {
    const { privateKey, publicKey } =
      type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : type === 'ec'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('ed25519');
    const jwk = { ...(await exportJWK(publicKey)), kid: `${type}-key`, ...(alg ? { alg } : {}) };
    return { privateKey, jwk };
  }

  const sign = (privateKey: KeyObject, alg: string, kid: string) =>
    new SignJWT(goodClaims(clock.now())).setProtectedHeader({ alg, kid, typ: 'at+jwt' }).sign(privateKey);

  async function expectWrongAlgorithm(promise: Promise<unknown>) {
    const error = await expectCode(promise, 'invalid_token', 401);
    expect(error.description).toMatch(/algorithm/);
  }

  it('RFC 8725 §3.1 uses an RSA key without alg with RS256 only, refusing PS256 by the same key pair', async () => {
    const { privateKey, jwk } = await keyPair('rsa');
    const verifier = createAccessTokenVerifier(verifierOptions({ jwks: { keys: [jwk] } }));
    // Both algorithms are on the default allow-list; the key decides which one it is used with.
    await expect(verifier.verify(await sign(privateKey, 'RS256', jwk.kid))).resolves.toBeDefined();
    await expectWrongAlgorithm(verifier.verify(await sign(privateKey, 'PS256', jwk.kid)));
    // Without a kid the key is found by type alone; still only RS256.
    const noKid = await new SignJWT(goodClaims(clock.now()))
      .setProtectedHeader({ alg: 'PS256', typ: 'at+jwt' })
      .sign(privateKey);
    await expectWrongAlgorithm(verifier.verify(noKid));
  });

  it('RFC 8725 §3.1 uses a key with alg PS256 for PS256 only, refusing RS256', async () => {
    const { privateKey, jwk } = await keyPair('rsa', 'PS256');
    const verifier = createAccessTokenVerifier(verifierOptions({ jwks: { keys: [jwk] } }));
    await expect(verifier.verify(await sign(privateKey, 'PS256', jwk.kid))).resolves.toBeDefined();
    // Named by kid, the key is known: the token is refused for its algorithm, not an unknown key.
    await expectWrongAlgorithm(verifier.verify(await sign(privateKey, 'RS256', jwk.kid)));
    const unknown = await expectCode(
      verifier.verify(await sign(privateKey, 'RS256', 'other-kid')),
      'invalid_token',
      401,
    );
    expect(unknown.description).toMatch(/unknown key/);
  });

  it('RFC 8725 §3.1 uses an RSA key without alg with the first RSA algorithm accepted when RS256 is not', async () => {
    const { privateKey, jwk } = await keyPair('rsa');
    const verifier = createAccessTokenVerifier(
      verifierOptions({ jwks: { keys: [jwk] }, algorithms: ['ES256', 'PS256', 'RS384'] }),
    );
    await expect(verifier.verify(await sign(privateKey, 'PS256', jwk.kid))).resolves.toBeDefined();
    await expectWrongAlgorithm(verifier.verify(await sign(privateKey, 'RS384', jwk.kid)));
  });

  it('RFC 8725 §3.1 uses an Ed25519 key without alg as EdDSA only, even when Ed25519 is accepted too', async () => {
    const { privateKey, jwk } = await keyPair('ed25519');
    const verifier = createAccessTokenVerifier(
      verifierOptions({ jwks: { keys: [jwk] }, algorithms: ['EdDSA', 'Ed25519'] }),
    );
    await expect(verifier.verify(await sign(privateKey, 'EdDSA', jwk.kid))).resolves.toBeDefined();
    await expectWrongAlgorithm(verifier.verify(await sign(privateKey, 'Ed25519', jwk.kid)));
    // With only the fully specified name accepted, that is the one.
    const onlyEd25519 = createAccessTokenVerifier(verifierOptions({ jwks: { keys: [jwk] }, algorithms: ['Ed25519'] }));
    await expect(onlyEd25519.verify(await sign(privateKey, 'Ed25519', jwk.kid))).resolves.toBeDefined();
  });

  it.each(['exp', 'iat'])(
    'RFC 7519 §2 refuses a token whose %s is no finite NumericDate (1e400 reads as an infinity)',
    async (claim) => {
      const { privateKey, jwk } = await keyPair('ec', 'ES256');
      const verifier = createAccessTokenVerifier(verifierOptions({ jwks: { keys: [jwk] } }));
      const text = JSON.stringify({ ...goodClaims(clock.now()), [claim]: 0 }).replace(
        `"${claim}":0`,
        `"${claim}":1e400`,
      );
      const token = await new CompactSign(new TextEncoder().encode(text))
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'at+jwt' })
        .sign(privateKey);
      const error = await expectCode(verifier.verify(token), 'invalid_token', 401);
      expect(error.description).toMatch(new RegExp(claim));
    },
  );

  it('RFC 8725 §3.1 uses a P-256 key without alg with ES256', async () => {
    const { privateKey, jwk } = await keyPair('ec');
    const verifier = createAccessTokenVerifier(verifierOptions({ jwks: { keys: [jwk] } }));
    await expect(verifier.verify(await sign(privateKey, 'ES256', jwk.kid))).resolves.toBeDefined();
  });

  it('RFC 8725 §3.1 binds the keys of a JWK Set fetched from jwks_uri the same way', async () => {
    const { privateKey, jwk } = await keyPair('rsa');
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
      for (const jwks of [createRemoteJwkSet(uri), uri]) {
        const verifier = createAccessTokenVerifier(verifierOptions({ jwks }));
        await expect(verifier.verify(await sign(privateKey, 'RS256', jwk.kid))).resolves.toBeDefined();
        await expectWrongAlgorithm(verifier.verify(await sign(privateKey, 'PS256', jwk.kid)));
      }
      // The cached set served both tokens: one fetch per resolver.
      expect(fetches).toBe(2);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
