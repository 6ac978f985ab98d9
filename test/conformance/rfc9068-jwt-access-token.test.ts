// RFC 9068 JWT access tokens: header, claims and signature, verified with jose against the served JWK Set.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import {
  createManualClock,
  createRouter,
  signingAlgorithms,
  type Client,
  type SigningAlgorithm,
} from '../../src/index.js';
import { mounts, postForm, readJson, startServer, type RunningServer } from '../support/harness.js';
import { createTestProvider, hashSecret, testIssuer } from '../support/test-provider.js';

const secret = 'client-secret';
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

describe.each(mounts)('JWT access tokens through %s', (mount) => {
  const servers = new Map<SigningAlgorithm, RunningServer>();
  const jwksFor = new Map<SigningAlgorithm, JWTVerifyGetKey>();
  const clock = createManualClock(Date.UTC(2026, 0, 1, 12, 0, 0, 250));
  let clockServer: RunningServer;
  let clockJwks: JWTVerifyGetKey;

  beforeAll(async () => {
    const orders: Client = {
      id: 'orders',
      secretHash: await hashSecret(secret),
      grantTypes: ['client_credentials'],
      scopes: ['orders.read', 'orders.write'],
      audience: ['https://api.example.com'],
    };
    for (const alg of signingAlgorithms) {
      const { provider } = await createTestProvider({ clients: [orders], alg });
      const server = await startServer(createRouter(provider, { token: '/token' }), mount);
      servers.set(alg, server);
      jwksFor.set(alg, createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`)));
    }
    const { provider } = await createTestProvider({
      clients: [orders],
      config: { clock, accessTokenLifespan: 600 },
    });
    clockServer = await startServer(createRouter(provider, { token: '/token' }), mount);
    clockJwks = createRemoteJWKSet(new URL(`${clockServer.url}/.well-known/jwks.json`));
  });
  afterAll(async () => {
    await Promise.all([...servers.values(), clockServer].map((server) => server.close()));
  });

  async function issue(server: RunningServer, extra: Record<string, string> = {}): Promise<string> {
    const answer = await postForm(`${server.url}/token`, {
      grant_type: 'client_credentials',
      client_id: 'orders',
      client_secret: secret,
      ...extra,
    });
    expect(answer.status).toBe(200);
    return String(answer.body.access_token);
  }

  const rs256 = () => servers.get('RS256')!;
  const rs256Jwks = () => jwksFor.get('RS256')!;

  it('§2.1 the seed scenario, with its RSA key, signs with RS256', async () => {
    const token = await issue(rs256());
    expect(decodeProtectedHeader(token).alg).toBe('RS256');
    const jwks = (await readJson(await fetch(`${rs256().url}/.well-known/jwks.json`))).body as {
      keys: { kty: string }[];
    };
    expect(jwks.keys.map((key) => key.kty)).toEqual(['RSA']);
  });

  it.each(signingAlgorithms)('§2.1 a token signed with %s verifies against the served JWK Set', async (alg) => {
    const token = await issue(servers.get(alg)!);
    const { protectedHeader } = await jwtVerify(token, jwksFor.get(alg)!, {
      issuer: testIssuer,
      typ: 'at+jwt',
      algorithms: [alg],
    });
    expect(protectedHeader.alg).toBe(alg);
  });

  it('§2.1 sets the header typ to at+jwt', async () => {
    const token = await issue(rs256());
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
  });

  it('§2.1 names in kid a key published in the JWK Set', async () => {
    const token = await issue(rs256());
    const { kid } = decodeProtectedHeader(token);
    const jwks = (await readJson(await fetch(`${rs256().url}/.well-known/jwks.json`))).body as {
      keys: { kid: string }[];
    };
    expect(typeof kid).toBe('string');
    expect(jwks.keys.map((key) => key.kid)).toContain(kid);
  });

  it('§2.2 carries iss, sub, aud, exp, iat, jti and client_id', async () => {
    const token = await issue(rs256());
    const { payload } = await jwtVerify(token, rs256Jwks(), { issuer: testIssuer, typ: 'at+jwt' });
    expect(payload).toMatchObject({ iss: testIssuer, sub: 'orders', aud: testIssuer, client_id: 'orders' });
    expect(typeof payload.exp).toBe('number');
    expect(typeof payload.iat).toBe('number');
    expect(payload.jti).toMatch(/^[\w-]{16,}$/);
  });

  it('§2.2 (RFC 7519 §4.1.7) gives each token its own jti, a version 7 UUID that sorts by issue time', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { payload } = await jwtVerify(await issue(rs256()), rs256Jwks(), { issuer: testIssuer, typ: 'at+jwt' });
      ids.push(String(payload.jti));
      // A later millisecond for the next token, so their order is fixed by time alone.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(3);
    expect([...ids].sort()).toEqual(ids);
  });

  it('§2.2 uses the client id as sub for the client credentials grant', async () => {
    const token = await issue(rs256());
    const { payload } = await jwtVerify(token, rs256Jwks(), { issuer: testIssuer, subject: 'orders' });
    expect(payload.sub).toBe(payload.client_id);
  });

  it('§2.2 sets aud to the granted audience', async () => {
    const token = await issue(rs256(), { audience: 'https://api.example.com' });
    const { payload } = await jwtVerify(token, rs256Jwks(), {
      issuer: testIssuer,
      audience: 'https://api.example.com',
    });
    expect(payload.aud).toBe('https://api.example.com');
  });

  it('§2.2 sets iat to the issuing time and exp to iat plus the lifespan', async () => {
    const token = await issue(clockServer);
    const { payload } = await jwtVerify(token, clockJwks, { issuer: testIssuer, currentDate: new Date(clock.now()) });
    expect(payload.iat).toBe(Math.floor(clock.now() / 1000));
    expect(payload.exp! - payload.iat!).toBe(600);
  });

  it('§2.2 makes exp minus iat equal expires_in', async () => {
    const answer = await postForm(`${clockServer.url}/token`, {
      grant_type: 'client_credentials',
      client_id: 'orders',
      client_secret: secret,
    });
    const { payload } = await jwtVerify(String(answer.body.access_token), clockJwks, {
      currentDate: new Date(clock.now()),
    });
    expect(payload.exp! - payload.iat!).toBe(answer.body.expires_in);
  });

  it('§2.2 yields a token jose refuses once the clock passes exp', async () => {
    const token = await issue(clockServer);
    const afterExpiry = new Date(clock.now() + 601_000);
    await expect(jwtVerify(token, clockJwks, { currentDate: afterExpiry })).rejects.toBeInstanceOf(errors.JWTExpired);
  });

  it('§2.2 gives every token a unique jti', async () => {
    const tokens = await Promise.all(Array.from({ length: 8 }, () => issue(rs256())));
    const ids = await Promise.all(tokens.map(async (token) => (await jwtVerify(token, rs256Jwks())).payload.jti));
    expect(new Set(ids).size).toBe(tokens.length);
  });

  it('§2.2.3 carries the granted scopes as one space-separated scope claim', async () => {
    const token = await issue(rs256(), { scope: 'orders.read orders.write' });
    const { payload } = await jwtVerify(token, rs256Jwks());
    expect(payload.scope).toBe('orders.read orders.write');
  });

  it('§4 a token whose payload was altered fails verification against the JWK Set', async () => {
    const token = await issue(rs256());
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url');
    await expect(jwtVerify(`${header}.${forged}.${signature}`, rs256Jwks())).rejects.toBeInstanceOf(
      errors.JWSSignatureVerificationFailed,
    );
  });

  it.each(signingAlgorithms)('§4 the %s JWK Set publishes no private key members', async (alg) => {
    const answer = await readJson(await fetch(`${servers.get(alg)!.url}/.well-known/jwks.json`));
    const keys = (answer.body as { keys: Record<string, unknown>[] }).keys;
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      for (const member of privateMembers) expect(key).not.toHaveProperty(member);
      expect(key).toMatchObject({ alg, use: 'sig' });
      expect(typeof key.kid).toBe('string');
    }
  });

  it('§4 serves the JWK Set as application/jwk-set+json', async () => {
    const response = await fetch(`${rs256().url}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/);
    await response.arrayBuffer();
  });

  it('§4 refuses a POST to the JWK Set with 405', async () => {
    const answer = await readJson(await fetch(`${rs256().url}/.well-known/jwks.json`, { method: 'POST' }));
    expect(answer.status).toBe(405);
    expect(answer.body.error).toBe('invalid_request');
  });
});
