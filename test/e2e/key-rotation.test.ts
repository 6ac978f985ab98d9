// Key rotation seen from outside: tokens and JWK Sets across rotations, on a manual clock, over HTTP.

import { afterEach, describe, expect, it } from 'vitest';
import { decodeProtectedHeader, type JWK } from 'jose';
import { createManualClock, OAuthError } from '../../src/index.js';
import {
  createAccessTokenVerifier,
  createRemoteJwkSet,
  type AccessTokenVerifier,
} from '../../src/resource-server/index.js';
import {
  apiAudience,
  startAuthorizationServer,
  type AuthorizationServer,
} from '../support/resource-server-fixtures.js';
import { testIssuer } from '../support/test-provider.js';

const minute = 60_000;
const servers: AuthorizationServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Starts a server with 10-minute tokens; its next key may sign 6 minutes after publication. */
async function start(
  clock: ReturnType<typeof createManualClock>,
  options: Parameters<typeof startAuthorizationServer>[0] = { clock },
) {
  const server = await startAuthorizationServer({ ...options, clock });
  servers.push(server);
  return server;
}

function verifierFor(server: AuthorizationServer, clock: ReturnType<typeof createManualClock>): AccessTokenVerifier {
  return createAccessTokenVerifier({
    issuer: testIssuer,
    audience: apiAudience,
    jwks: createRemoteJwkSet(server.jwksUri),
    clock,
    clockTolerance: 0,
  });
}

async function publishedKids(server: AuthorizationServer): Promise<string[]> {
  const { keys } = (await (await fetch(server.jwksUri)).json()) as { keys: JWK[] };
  return keys.map((key) => key.kid!);
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid;

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof OAuthError ? error.code : String(error);
  }
}

describe('key rotation', () => {
  it('tokens signed before a rotation still verify after it, until they expire', async () => {
    const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
    const as = await start(clock);
    const verifier = verifierFor(as, clock);
    const before = await as.issue();
    clock.advance(6 * minute);
    expect((await as.keys.rotate()).rotated).toBe(true);
    const after = await as.issue();
    expect(kidOf(after)).not.toBe(kidOf(before));
    await expect(verifier.verify(before)).resolves.toBeDefined();
    await expect(verifier.verify(after)).resolves.toBeDefined();
    clock.advance(4 * minute - 1);
    await expect(verifier.verify(before)).resolves.toBeDefined();
    clock.advance(1);
    expect(await codeOf(verifier.verify(before))).toBe('invalid_token');
    await expect(verifier.verify(after)).resolves.toBeDefined();
  });

  it('a verifier that cached the JWK Set before a rotation accepts the new key without fetching again', async () => {
    const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
    const as = await start(clock);
    const verifier = verifierFor(as, clock);
    await verifier.verify(await as.issue());
    const fetches = as.jwksRequests();
    const cachedKids = await publishedKids(as);
    clock.advance(6 * minute);
    const { activeKid } = await as.keys.rotate();
    // The key now signing was in the set the verifier cached: it was published as next.
    expect(cachedKids).toContain(activeKid);
    const token = await as.issue();
    expect(kidOf(token)).toBe(activeKid);
    await expect(verifier.verify(token)).resolves.toBeDefined();
    expect(as.jwksRequests()).toBe(fetches + 1);
  });

  it('a key signs only after it was published for the JWKS max-age plus the refresh interval', async () => {
    const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
    const as = await start(clock);
    const response = await fetch(as.jwksUri);
    expect(response.headers.get('cache-control')).toMatch(/max-age=300/);
    const { nextKid } = await as.keys.rotate({ immediate: true });
    expect(await publishedKids(as)).toContain(nextKid);
    clock.advance(6 * minute - 1);
    expect(await as.keys.rotate()).toMatchObject({ rotated: false, reason: 'not-pre-published' });
    expect(kidOf(await as.issue())).not.toBe(nextKid);
    clock.advance(1);
    expect(await as.keys.rotate()).toMatchObject({ rotated: true, activeKid: nextKid });
    expect(kidOf(await as.issue())).toBe(nextKid);
  });

  it('a retired key drops out of the JWK Set once its last token has expired', async () => {
    const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
    const as = await start(clock);
    const old = await as.issue();
    const oldKid = kidOf(old)!;
    clock.advance(6 * minute);
    await as.keys.rotate();
    // Tokens live 10 minutes; another instance may sign with the old key for up to 1 more minute.
    clock.advance(11 * minute - 1);
    expect(await publishedKids(as)).toContain(oldKid);
    clock.advance(1);
    expect(await publishedKids(as)).not.toContain(oldKid);
    expect((await as.keys.listKeys()).map((key) => key.kid)).not.toContain(oldKid);
  });

  it('rotates by itself after the rotation period, and cached verifiers accept the new key', async () => {
    const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
    const as = await start(clock, { clock, keySet: { rotationPeriod: 3600 } });
    const verifier = verifierFor(as, clock);
    const first = await as.issue();
    await verifier.verify(first);
    const fetches = as.jwksRequests();
    clock.advance(60 * minute);
    const second = await as.issue();
    expect(kidOf(second)).not.toBe(kidOf(first));
    await expect(verifier.verify(second)).resolves.toBeDefined();
    expect(as.jwksRequests()).toBe(fetches);
  });

  it('two instances on one store rotating at once leave exactly one active key and publish the same set', async () => {
    const clock = createManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
    const first = await start(clock);
    const second = await start(clock, { clock, storage: first.storage });
    clock.advance(6 * minute);
    const results = await Promise.all([first.keys.rotate(), second.keys.rotate()]);
    expect(results.filter((result) => result.rotated)).toHaveLength(1);
    const states = (await first.storage.listSigningKeys()).map((key) => key.state);
    expect(states.filter((state) => state === 'active')).toHaveLength(1);
    expect(states.filter((state) => state === 'next')).toHaveLength(1);
    expect((await publishedKids(first)).sort()).toEqual((await publishedKids(second)).sort());
    const fromSecond = await second.issue();
    expect(kidOf(fromSecond)).toBe(kidOf(await first.issue()));
    await expect(verifierFor(first, clock).verify(fromSecond)).resolves.toBeDefined();
  });
});
