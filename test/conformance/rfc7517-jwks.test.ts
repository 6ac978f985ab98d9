// RFC 7517 JWK Set at /.well-known/jwks.json, served from the rotating key set, for every algorithm.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calculateJwkThumbprint, jwtVerify, createLocalJWKSet, type JWK } from 'jose';
import { createManualClock, signingAlgorithms, type SigningAlgorithm } from '../../src/index.js';
import { startAuthorizationServer, type AuthorizationServer } from '../support/resource-server-fixtures.js';

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const keyTypes: Record<SigningAlgorithm, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
};

describe.each(signingAlgorithms)('JWK Set of %s keys', (algorithm) => {
  const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
  let as: AuthorizationServer;
  let response: Response;
  let jwks: { keys: JWK[] };

  beforeAll(async () => {
    as = await startAuthorizationServer({ clock, algorithm });
    await as.issue();
    // Past the pre-publication window, then rotate: the set holds an active, a next and a retired key.
    clock.advance(6 * 60_000);
    expect((await as.keys.rotate()).rotated).toBe(true);
    response = await fetch(as.jwksUri);
    jwks = (await response.json()) as { keys: JWK[] };
  });
  afterAll(() => as.close());

  it('§5 serves a JSON object whose "keys" member is an array of JWKs', () => {
    expect(response.status).toBe(200);
    expect(Array.isArray(jwks.keys)).toBe(true);
    expect(Object.keys(jwks)).toEqual(['keys']);
  });

  it('§5 serves the set to GET and HEAD only: POST gets 405 with Allow', async () => {
    const head = await fetch(as.jwksUri, { method: 'HEAD' });
    expect(head.status).toBe(200);
    // RFC 9110 §9.3.2: the header fields a GET would get, Content-Length included.
    expect(head.headers.get('content-length')).toBe(response.headers.get('content-length'));
    expect(head.headers.get('content-length')).not.toBeNull();
    const post = await fetch(as.jwksUri, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(await post.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('§8.5.1 labels the document application/jwk-set+json', () => {
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json');
  });

  it('§5 publishes exactly the next, active and retired keys a verifier may meet', async () => {
    const states = await as.keys.listKeys();
    expect(states.map((key) => key.state).sort()).toEqual(['active', 'next', 'retired']);
    expect(jwks.keys.map((key) => key.kid).sort()).toEqual(states.map((key) => key.kid).sort());
  });

  it('§4.1 §4.2 §4.4 gives each key its kty, "use": "sig" and the algorithm', () => {
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ ...keyTypes[algorithm], use: 'sig', alg: algorithm });
    }
  });

  it('§4.5 gives each key a distinct kid, its RFC 7638 SHA-256 thumbprint', async () => {
    expect(new Set(jwks.keys.map((key) => key.kid)).size).toBe(jwks.keys.length);
    for (const key of jwks.keys) expect(key.kid).toBe(await calculateJwkThumbprint(key, 'sha256'));
  });

  it('§5 never publishes a private key member', () => {
    for (const key of jwks.keys) {
      for (const member of privateMembers) expect(key).not.toHaveProperty(member);
    }
    expect(JSON.stringify(jwks)).not.toMatch(/PRIVATE KEY/);
  });

  it('§5 lets a verifier check a token from the active key with the published set', async () => {
    const token = await as.issue();
    const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: [algorithm],
      currentDate: new Date(clock.now()),
    });
    expect(protectedHeader.kid).toBe((await as.keys.getSigningKey()).kid);
  });

  it('allows caching for the pre-publication window: Cache-Control max-age equals jwksMaxAge', () => {
    expect(as.keys.jwksMaxAge).toBe(300);
    expect(response.headers.get('cache-control')).toMatch(/(^|[ ,])max-age=300($|[ ,])/);
  });
});
