// RFC 7523 §2.2 and §3 (on RFC 7521 §4.2): clients authenticating with a JWT they signed
// (`private_key_jwt`), at the token and introspection endpoints, through real HTTP.

import { decodeJwt, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter, type Client } from '../../src/index.js';
import { basicAuthorization, mounts, postForm, startServer, type RunningServer } from '../support/harness.js';
import { createTestProvider, registeredClient, testIssuer } from '../support/test-provider.js';
import { tokenVariants } from '../support/token-variants.js';

const assertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const tokenEndpoint = `${testIssuer}/oauth2/token`;

interface KeyPair {
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function keyPair(alg: 'RS256' | 'ES256' | 'EdDSA', kid?: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), ...(kid ? { kid } : {}) } };
}

function jwtClient(id: string, keys: readonly KeyPair[]): Client {
  return {
    id,
    grantTypes: ['client_credentials'],
    scopes: ['read'],
    audience: [],
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: keys.map((key) => key.jwk as Record<string, unknown>) },
  };
}

interface AssertionOptions {
  readonly alg?: string;
  readonly kid?: string;
  readonly iss?: string;
  readonly sub?: string;
  readonly aud?: string | string[];
  /** Seconds from now. */
  readonly exp?: number;
  readonly nbf?: number;
  /** A jti, or null for none. */
  readonly jti?: string | null;
}

/** An assertion from `clientId`, signed with `key`: the §3 claims unless told otherwise. */
function assertion(clientId: string, key: KeyPair, options: AssertionOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: options.alg ?? 'RS256', ...(options.kid ? { kid: options.kid } : {}) })
    .setIssuer(options.iss ?? clientId)
    .setSubject(options.sub ?? clientId)
    .setAudience(options.aud ?? testIssuer)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.exp ?? 60));
  if (options.nbf !== undefined) jwt.setNotBefore(now + options.nbf);
  if (options.jti !== null) jwt.setJti(options.jti ?? randomUUID());
  return jwt.sign(key.privateKey);
}

describe.each(mounts)('private_key_jwt client authentication through %s', (mount) => {
  let server: RunningServer;
  let customPathServer: RunningServer;
  let tokenUrl: string;
  let rsa: KeyPair;
  let ec: KeyPair;
  let ed: KeyPair;
  let ecFirst: KeyPair;
  let ecSecond: KeyPair;
  let unregistered: KeyPair;
  // One RSA key, registered without alg, by a client that registered PS256 as its only algorithm.
  const pssOnly = generateKeyPairSync('rsa', { modulusLength: 2048 });

  beforeAll(async () => {
    rsa = await keyPair('RS256', 'rsa-1');
    ec = await keyPair('ES256');
    ed = await keyPair('EdDSA');
    ecFirst = await keyPair('ES256');
    ecSecond = await keyPair('ES256');
    unregistered = await keyPair('RS256', 'rsa-1');
    const clients: Client[] = [
      jwtClient('jwt-rsa', [rsa]),
      jwtClient('jwt-ec', [ec]),
      jwtClient('jwt-ed', [ed]),
      jwtClient('jwt-two-keys', [ecFirst, ecSecond]),
      {
        ...jwtClient('jwt-pss-only', []),
        jwks: { keys: [pssOnly.publicKey.export({ format: 'jwk' }) as Record<string, unknown>] },
        metadata: { token_endpoint_auth_signing_alg: 'PS256' },
      },
      {
        ...jwtClient('jwt-bad-alg', [rsa]),
        metadata: { token_endpoint_auth_signing_alg: 'HS256' },
      },
      { ...jwtClient('jwt-no-keys', []), jwks: { keys: [] } },
      await registeredClient({ id: 'secret-client', secret: 'secret-value' }),
    ];
    const { provider } = await createTestProvider({ clients });
    server = await startServer(createRouter(provider), mount);
    tokenUrl = `${server.url}/oauth2/token`;
    customPathServer = await startServer(createRouter(provider, { token: '/token' }), mount);
  });
  afterAll(async () => {
    await server.close();
    await customPathServer.close();
  });

  const requestToken = (clientAssertion: string, extra: Record<string, string> = {}) =>
    postForm(tokenUrl, {
      grant_type: 'client_credentials',
      client_assertion_type: assertionType,
      client_assertion: clientAssertion,
      ...extra,
    });

  async function expectInvalidClient(clientAssertion: string, extra: Record<string, string> = {}): Promise<void> {
    const answer = await requestToken(clientAssertion, extra);
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
    expect(answer.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"$/);
  }

  it('§2.2 issues a token to a client whose RS256 assertion names the issuer as audience', async () => {
    const answer = await requestToken(await assertion('jwt-rsa', rsa, { kid: 'rsa-1' }));
    expect(answer.status).toBe(200);
    expect(decodeJwt(String(answer.body.access_token))).toMatchObject({ client_id: 'jwt-rsa', sub: 'jwt-rsa' });
  });

  it('§3 accepts the token endpoint URL as the audience', async () => {
    const answer = await requestToken(await assertion('jwt-rsa', rsa, { aud: tokenEndpoint }));
    expect(answer.status).toBe(200);
  });

  it('§3 accepts an audience list that includes this server', async () => {
    const answer = await requestToken(await assertion('jwt-rsa', rsa, { aud: ['https://other.example', testIssuer] }));
    expect(answer.status).toBe(200);
  });

  it('§3 accepts the URL of the endpoint being called, under the issuer, when it is served at another path', async () => {
    const answer = await postForm(`${customPathServer.url}/token`, {
      grant_type: 'client_credentials',
      client_assertion_type: assertionType,
      client_assertion: await assertion('jwt-rsa', rsa, { aud: `${testIssuer}/token` }),
    });
    expect(answer.status).toBe(200);
  });

  it.each(['introspect', 'revoke'])(
    '§3 accepts the token endpoint the metadata publishes, under a moved token route, at /oauth2/%s',
    async (endpoint) => {
      const metadata = await (await fetch(`${customPathServer.url}/.well-known/oauth-authorization-server`)).json();
      expect(metadata.token_endpoint).toBe(`${testIssuer}/token`);
      const token = String((await requestToken(await assertion('jwt-rsa', rsa))).body.access_token);
      const answer = await fetch(`${customPathServer.url}/oauth2/${endpoint}`, {
        method: 'POST',
        body: new URLSearchParams({
          token,
          client_assertion_type: assertionType,
          client_assertion: await assertion('jwt-rsa', rsa, { aud: metadata.token_endpoint }),
        }),
      });
      expect(answer.status).toBe(200);
    },
  );

  it('§3 accepts the token endpoint set by compose() routes behind a proxy that strips the issuer path', async () => {
    const tenant = `${testIssuer}/tenant`;
    const { provider } = await createTestProvider({
      clients: [jwtClient('jwt-rsa', [rsa])],
      config: { issuer: tenant, routes: { token: '/token' } },
    });
    const proxied = await startServer(createRouter(provider), mount);
    try {
      const metadata = await (await fetch(`${proxied.url}/.well-known/oauth-authorization-server/tenant`)).json();
      expect(metadata.token_endpoint).toBe(`${tenant}/token`);
      const answer = await postForm(`${proxied.url}/oauth2/introspect`, {
        token: 'anything',
        client_assertion_type: assertionType,
        client_assertion: await assertion('jwt-rsa', rsa, { aud: metadata.token_endpoint }),
      });
      expect(answer.status).toBe(200);
      // The default route is no longer the token endpoint, so it is no audience of its own.
      const stale = await postForm(`${proxied.url}/oauth2/introspect`, {
        token: 'anything',
        client_assertion_type: assertionType,
        client_assertion: await assertion('jwt-rsa', rsa, { aud: `${tenant}/oauth2/token` }),
      });
      expect(stale.status).toBe(401);
    } finally {
      await proxied.close();
    }
  });

  it('§3 rule 3 does not take the audience from the Host header, which the caller chooses', async () => {
    const forOther = await assertion('jwt-rsa', rsa, { aud: 'http://other.example/oauth2/token' });
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: assertionType,
      client_assertion: forOther,
    }).toString();
    const status = await new Promise<number>((resolve, reject) => {
      const sent = httpRequest(
        tokenUrl,
        {
          method: 'POST',
          headers: { host: 'other.example', 'content-type': 'application/x-www-form-urlencoded' },
          agent: false,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      sent.on('error', reject);
      sent.end(body);
    });
    expect(status).toBe(401);
  });

  it('§2.2 accepts an ES256 assertion from a key registered without kid', async () => {
    const answer = await requestToken(await assertion('jwt-ec', ec, { alg: 'ES256' }));
    expect(answer.status).toBe(200);
  });

  it('§2.2 accepts an EdDSA (Ed25519) assertion', async () => {
    expect((await requestToken(await assertion('jwt-ed', ed, { alg: 'EdDSA' }))).status).toBe(200);
  });

  it('§2.2 with two registered keys and no kid, the one that verifies the signature is used', async () => {
    expect((await requestToken(await assertion('jwt-two-keys', ecSecond, { alg: 'ES256' }))).status).toBe(200);
    expect((await requestToken(await assertion('jwt-two-keys', ecFirst, { alg: 'ES256' }))).status).toBe(200);
  });

  it('RFC 7521 §4.2 accepts a client_id equal to the assertion subject', async () => {
    const answer = await requestToken(await assertion('jwt-rsa', rsa), { client_id: 'jwt-rsa' });
    expect(answer.status).toBe(200);
  });

  it('§3 rule 3 refuses an assertion meant for another server with invalid_client', async () => {
    await expectInvalidClient(await assertion('jwt-rsa', rsa, { aud: 'https://other.example/token' }));
  });

  it('§3 rules 1 and 2 refuse an assertion whose issuer is not the client', async () => {
    await expectInvalidClient(await assertion('jwt-rsa', rsa, { iss: 'someone-else' }));
  });

  it('§3 rule 2 refuses an assertion about another client, signed with this client’s key', async () => {
    // Whose keys verify an assertion is decided by its subject, never by the key that signed it.
    await expectInvalidClient(await assertion('jwt-rsa', rsa, { kid: 'rsa-1', sub: 'jwt-ec' }));
    await expectInvalidClient(await assertion('jwt-ec', rsa, { kid: 'rsa-1' }));
  });

  it('§3 rule 4 refuses an expired assertion', async () => {
    await expectInvalidClient(await assertion('jwt-rsa', rsa, { exp: -120 }));
  });

  it('§3 rule 4 refuses an assertion valid for more than an hour, which would have to be remembered that long', async () => {
    await expectInvalidClient(await assertion('jwt-rsa', rsa, { exp: 2 * 3600 }));
  });

  it('§3 rule 5 refuses an assertion not valid yet', async () => {
    await expectInvalidClient(await assertion('jwt-rsa', rsa, { nbf: 600 }));
  });

  it('§3 rule 7 refuses a replayed assertion: the same jti is accepted once', async () => {
    const once = await assertion('jwt-rsa', rsa);
    expect((await requestToken(once)).status).toBe(200);
    await expectInvalidClient(once);
    // The same jti in a new assertion is a replay as well.
    const jti = randomUUID();
    expect((await requestToken(await assertion('jwt-rsa', rsa, { jti }))).status).toBe(200);
    await expectInvalidClient(await assertion('jwt-rsa', rsa, { jti }));
  });

  it('§3 rule 4 accepts an exp with a fraction of a second (RFC 7519 §2 NumericDate) and still refuses its replay', async () => {
    const fractional = await assertion('jwt-rsa', rsa, { exp: 30.1234 });
    expect((await requestToken(fractional)).status).toBe(200);
    await expectInvalidClient(fractional);
  });

  it('§3 rule 7 refuses an assertion without jti, which could not be kept from replay', async () => {
    await expectInvalidClient(await assertion('jwt-rsa', rsa, { jti: null }));
  });

  it('§3 rule 7 refuses a jti with control characters, which the replay cache will not keep, with invalid_client', async () => {
    for (const jti of ['\u0000', `${randomUUID()}\u0000`, 'a\nb', '\u007f']) {
      await expectInvalidClient(await assertion('jwt-rsa', rsa, { jti }));
    }
    // The same assertion with a plain jti is fine: it is the jti that is refused.
    expect((await requestToken(await assertion('jwt-rsa', rsa, { jti: `${randomUUID()} x` }))).status).toBe(200);
  });

  it('§3 rule 9 refuses an assertion signed by a key the client did not register, even with its kid', async () => {
    await expectInvalidClient(await assertion('jwt-rsa', unregistered, { kid: 'rsa-1' }));
  });

  it('§3 rule 9 refuses an unsigned assertion (alg none)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = new UnsecuredJWT({ jti: randomUUID() })
      .setIssuer('jwt-rsa')
      .setSubject('jwt-rsa')
      .setAudience(testIssuer)
      .setExpirationTime(now + 60)
      .encode();
    await expectInvalidClient(unsigned);
  });

  it('§3 rule 9 refuses an assertion with a MAC keyed by the public key (HS256)', async () => {
    const macKey = new TextEncoder().encode(JSON.stringify(rsa.jwk));
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .setIssuer('jwt-rsa')
      .setSubject('jwt-rsa')
      .setAudience(testIssuer)
      .setExpirationTime(now + 60)
      .sign(macKey);
    await expectInvalidClient(forged);
  });

  it('RFC 7521 §4.2.1 and RFC 7515 §5.2 refuse a variant of a valid assertion (whitespace, padding, stray bits), which then still works once', async () => {
    const valid = await assertion('jwt-rsa', rsa);
    for (const variant of Object.values(tokenVariants(valid))) await expectInvalidClient(variant);
    expect((await requestToken(valid)).status).toBe(200);
  });

  it('RFC 7591 §2 and RFC 8725 §3.1 take only the token_endpoint_auth_signing_alg a client registered, though its key fits others', async () => {
    const signed = (alg: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg })
        .setIssuer('jwt-pss-only')
        .setSubject('jwt-pss-only')
        .setAudience(testIssuer)
        .setExpirationTime('1m')
        .setJti(randomUUID())
        .sign(pssOnly.privateKey);
    await expectInvalidClient(await signed('RS256'));
    expect((await requestToken(await signed('PS256'))).status).toBe(200);
  });

  it('RFC 7591 §2 refuses every assertion of a client whose stored token_endpoint_auth_signing_alg is not a public-key algorithm', async () => {
    await expectInvalidClient(await assertion('jwt-bad-alg', rsa, { kid: 'rsa-1' }));
  });

  it('RFC 7521 §4.2.1 refuses a client_assertion that is not a JWT with invalid_client', async () => {
    await expectInvalidClient('not-a-jwt');
  });

  it('§2.2 refuses an assertion from a client registered for a secret, or with no keys', async () => {
    const secretClientKey = await keyPair('RS256');
    await expectInvalidClient(await assertion('secret-client', secretClientKey));
    await expectInvalidClient(await assertion('jwt-no-keys', rsa));
    await expectInvalidClient(await assertion('nobody', rsa));
  });

  it('RFC 6749 §2.3 refuses a client_secret from a client registered for private_key_jwt', async () => {
    const answer = await postForm(tokenUrl, {
      grant_type: 'client_credentials',
      client_id: 'jwt-rsa',
      client_secret: 'guess',
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
  });

  it('RFC 7521 §4.2.1 refuses a valid assertion sent with a client_secret in the body with 401 invalid_client', async () => {
    await expectInvalidClient(await assertion('jwt-rsa', rsa), { client_id: 'jwt-rsa', client_secret: 'guess' });
  });

  it('RFC 7521 §4.2.1 refuses a valid assertion sent with Basic credentials with 401 invalid_client and a Basic challenge', async () => {
    const answer = await postForm(
      tokenUrl,
      {
        grant_type: 'client_credentials',
        client_assertion_type: assertionType,
        client_assertion: await assertion('secret-client', rsa),
      },
      { authorization: basicAuthorization('secret-client', 'secret-value') },
    );
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
    expect(answer.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"$/);
  });

  it('RFC 7521 §4.2 refuses client_assertion without client_assertion_type with invalid_request', async () => {
    const answer = await postForm(tokenUrl, {
      grant_type: 'client_credentials',
      client_assertion: await assertion('jwt-rsa', rsa),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('RFC 7521 §4.2 refuses an assertion type other than jwt-bearer with invalid_client', async () => {
    const answer = await postForm(tokenUrl, {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
      client_assertion: await assertion('jwt-rsa', rsa),
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
  });

  it('RFC 7521 §4.2 refuses a client_id that is not the assertion subject with invalid_request', async () => {
    const answer = await requestToken(await assertion('jwt-rsa', rsa), { client_id: 'jwt-ec' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('RFC 7662 §2.1 authenticates an introspecting client by its assertion', async () => {
    const token = String((await requestToken(await assertion('jwt-rsa', rsa))).body.access_token);
    const answer = await postForm(`${server.url}/oauth2/introspect`, {
      token,
      client_assertion_type: assertionType,
      client_assertion: await assertion('jwt-rsa', rsa),
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ active: true, client_id: 'jwt-rsa' });
  });

  it('RFC 7009 §2.1 authenticates a revoking client by its assertion; the token is then inactive', async () => {
    const token = String((await requestToken(await assertion('jwt-ec', ec, { alg: 'ES256' }))).body.access_token);
    const revocation = await fetch(`${server.url}/oauth2/revoke`, {
      method: 'POST',
      body: new URLSearchParams({
        token,
        client_assertion_type: assertionType,
        client_assertion: await assertion('jwt-ec', ec, { alg: 'ES256' }),
      }),
    });
    expect(revocation.status).toBe(200);
    const introspection = await postForm(`${server.url}/oauth2/introspect`, {
      token,
      client_assertion_type: assertionType,
      client_assertion: await assertion('jwt-ec', ec, { alg: 'ES256' }),
    });
    expect(introspection.status).toBe(200);
    expect(introspection.body).toEqual({ active: false });
  });

  it('§5.2 never echoes the assertion in an error', async () => {
    const refused = await assertion('jwt-rsa', rsa, { aud: 'https://other.example' });
    const answer = await requestToken(refused);
    expect(answer.status).toBe(401);
    const text = JSON.stringify(answer.body);
    expect(text).not.toContain(refused);
    expect(text).not.toContain(refused.split('.')[2]!);
  });
});
