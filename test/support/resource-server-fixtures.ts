// An authorization server with a rotating key set on a manual clock, and hand-made bad tokens.

import { createPublicKey } from 'node:crypto';
import { SignJWT, base64url, type JWTPayload } from 'jose';
import {
  accessTokenIntrospection,
  accessTokenRevocation,
  bcryptHasher,
  clientCredentialsGrant,
  compose,
  createKeySealer,
  createMemoryStore,
  createRotatingKeySet,
  createRouter,
  generateKeyEncryptionKey,
  generateSigningKey,
  jwtAccessTokenStrategy,
  type Client,
  type ManualClock,
  type RotatingKeySet,
  type RotatingKeySetOptions,
  type SigningAlgorithm,
  type SigningKey,
  type Storage,
} from '../../src/index.js';
import { startServer, type RunningServer } from './harness.js';
import { issueAccessToken, type Credentials } from './token-requests.js';
import { testIssuer } from './test-provider.js';

/** The resource server the tokens are for. */
export const apiAudience = 'https://api.test.example';

/** A client allowed to read and write invoices at the API. */
export const invoiceClient: Credentials = { id: 'invoice-client', secret: 'invoice-client-secret' };

/** The API itself, registered as a client that may introspect any token. */
export const apiClient: Credentials = { id: 'invoice-api', secret: 'invoice-api-secret' };

const hasher = bcryptHasher({ cost: 4 });

export interface AuthorizationServer {
  readonly server: RunningServer;
  readonly url: string;
  readonly jwksUri: string;
  readonly keys: RotatingKeySet;
  readonly storage: Storage;
  /** How many times the JWK Set was requested. */
  readonly jwksRequests: () => number;
  /** Issues a token to {@link invoiceClient} over HTTP. */
  issue(scope?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts an authorization server whose keys rotate (JWKS max-age 300 s, refresh 60 s, so a next
 * key signs no sooner than 6 minutes after it was published), on `clock`.
 */
export async function startAuthorizationServer(options: {
  readonly clock: ManualClock;
  readonly algorithm?: SigningAlgorithm;
  /** Access-token lifetime in seconds. Default 600. */
  readonly accessTokenLifespan?: number;
  /** Another server's store, to run a second instance on the same data. */
  readonly storage?: Storage;
  readonly keySet?: Partial<RotatingKeySetOptions>;
}): Promise<AuthorizationServer> {
  const { clock, algorithm = 'ES256', accessTokenLifespan = 600 } = options;
  const clients: Client[] = [
    {
      id: invoiceClient.id,
      secretHash: await hasher.hash(invoiceClient.secret),
      grantTypes: ['client_credentials'],
      scopes: ['invoices:read', 'invoices:write'],
      audience: [apiAudience],
    },
    {
      id: apiClient.id,
      secretHash: await hasher.hash(apiClient.secret),
      grantTypes: ['client_credentials'],
      scopes: [],
      audience: [],
      metadata: { introspection: true },
    },
  ];
  const storage = options.storage ?? createMemoryStore({ clients });
  const keys = await createRotatingKeySet({
    store: storage,
    sealer: sealerForTests,
    clock,
    algorithm,
    jwksMaxAge: 300,
    refreshInterval: 60,
    maxTokenLifetime: accessTokenLifespan,
    rotationPeriod: Infinity,
    ...options.keySet,
  });
  const provider = compose(
    { issuer: testIssuer, clock, accessTokenLifespan },
    storage,
    jwtAccessTokenStrategy({ keys, issuer: testIssuer }),
    hasher,
    clientCredentialsGrant,
    accessTokenIntrospection,
    accessTokenRevocation,
  );
  const router = createRouter(provider);
  let jwksRequests = 0;
  const server = await startServer((request) => {
    if (new URL(request.url).pathname === '/.well-known/jwks.json') jwksRequests++;
    return router(request);
  });
  return {
    server,
    url: server.url,
    jwksUri: `${server.url}/.well-known/jwks.json`,
    keys,
    storage,
    jwksRequests: () => jwksRequests,
    issue: (scope = 'invoices:read') => issueAccessToken(server.url, invoiceClient, { scope, audience: apiAudience }),
    close: async () => {
      keys.close();
      await server.close();
    },
  };
}

/** One KEK for every test server, so a second instance can open the first one's keys. */
const sealerForTests = createKeySealer(generateKeyEncryptionKey());

/** The claims a good token for the API carries, at `now` (milliseconds). */
export function goodClaims(now: number, overrides: JWTPayload = {}): JWTPayload {
  const iat = Math.floor(now / 1000);
  return {
    iss: testIssuer,
    sub: invoiceClient.id,
    aud: apiAudience,
    client_id: invoiceClient.id,
    scope: 'invoices:read',
    iat,
    exp: iat + 600,
    jti: crypto.randomUUID(),
    ...overrides,
  };
}

/** Signs `payload` with a real key, with the header given (alg and kid default to the key's). */
export function signWith(
  key: SigningKey,
  payload: JWTPayload,
  header: { typ?: string | undefined; kid?: string } = {},
): Promise<string> {
  const protectedHeader: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header };
  if (header.typ === undefined && 'typ' in header) delete protectedHeader.typ;
  return new SignJWT(payload).setProtectedHeader(protectedHeader as { alg: string }).sign(key.privateKey);
}

/** The kinds of forged token every verifier must refuse with `invalid_token`. */
export type BadTokenKind =
  | 'alg none'
  | 'HS256 signed with the public key as secret'
  | 'wrong typ'
  | 'no typ'
  | 'wrong issuer'
  | 'wrong audience'
  | 'expired'
  | 'nbf in the future'
  | 'unknown kid'
  | 'tampered signature'
  | 'tampered claims'
  | 'no client_id';

export const badTokenKinds: readonly BadTokenKind[] = [
  'alg none',
  'HS256 signed with the public key as secret',
  'wrong typ',
  'no typ',
  'wrong issuer',
  'wrong audience',
  'expired',
  'nbf in the future',
  'unknown kid',
  'tampered signature',
  'tampered claims',
  'no client_id',
];

/**
 * Makes a bad token of `kind` at `now`: signed by the server's real active key (so only the named
 * fault is wrong), by a stranger's key, or not signed properly at all.
 */
export async function forgeToken(kind: BadTokenKind, keys: RotatingKeySet, now: number): Promise<string> {
  const key = await keys.getSigningKey();
  const seconds = Math.floor(now / 1000);
  switch (kind) {
    case 'alg none':
      return `${encodeJson({ alg: 'none', typ: 'at+jwt', kid: key.kid })}.${encodeJson(goodClaims(now))}.`;
    case 'HS256 signed with the public key as secret': {
      const publicPem = createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }).toString();
      return new SignJWT(goodClaims(now))
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })
        .sign(new TextEncoder().encode(publicPem));
    }
    case 'wrong typ':
      return signWith(key, goodClaims(now), { typ: 'JWT' });
    case 'no typ':
      return signWith(key, goodClaims(now), { typ: undefined });
    case 'wrong issuer':
      return signWith(key, goodClaims(now, { iss: 'https://elsewhere.example' }));
    case 'wrong audience':
      return signWith(key, goodClaims(now, { aud: 'https://other-api.example' }));
    case 'expired':
      return signWith(key, goodClaims(now, { iat: seconds - 3600, exp: seconds - 600 }));
    case 'nbf in the future':
      return signWith(key, goodClaims(now, { nbf: seconds + 600 }));
    case 'unknown kid':
      return signWith(await strangerKey(key.alg), goodClaims(now));
    case 'tampered signature': {
      const [header, payload, signature] = (await signWith(key, goodClaims(now))).split('.');
      const bytes = base64url.decode(signature!);
      bytes[5]! ^= 0xff;
      return `${header}.${payload}.${base64url.encode(bytes)}`;
    }
    case 'tampered claims': {
      const [header, , signature] = (await signWith(key, goodClaims(now))).split('.');
      return `${header}.${encodeJson(goodClaims(now, { scope: 'invoices:read invoices:admin' }))}.${signature}`;
    }
    case 'no client_id': {
      const { client_id: _omitted, ...claims } = goodClaims(now);
      return signWith(key, claims);
    }
  }
}

const strangers = new Map<SigningAlgorithm, SigningKey>();

async function strangerKey(alg: SigningAlgorithm): Promise<SigningKey> {
  let key = strangers.get(alg);
  if (!key) {
    key = await generateSigningKey(alg);
    strangers.set(alg, key);
  }
  return key;
}

function encodeJson(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}
