// A provider with the seed client and a few more, built from real parts (memory store, bcrypt at cost 4).

import {
  accessTokenIntrospection,
  accessTokenRevocation,
  bcryptHasher,
  clientCredentialsGrant,
  compose,
  createManualClock,
  createMemoryStore,
  createRouter,
  createStaticKeySet,
  generateSigningKey,
  jwtAccessTokenStrategy,
  opaqueHmacStrategy,
  type AccessTokenStrategy,
  type Client,
  type ComposeConfig,
  type SigningAlgorithm,
} from '../../src/index.js';
import { mounts, startServer, type Mount } from './harness.js';

/** The how-to's client: secret "foobar", stored as the how-to's cost-10 bcrypt hash. */
export const seedClient: Client = {
  id: 'test-client',
  secretHash: '$2a$10$IxMdI6d.LIRZPpSfEwNoeu4rY3FhDREsxFJXikcgdRRAStxUlsuEO',
  grantTypes: ['client_credentials'],
  scopes: [],
  audience: [],
};

export const testIssuer = 'https://auth.test.example';

/** The HMAC secret of opaque tokens in tests. */
export const testHmacSecret = 'test-hmac-secret-that-is-at-least-32-bytes';

const hasher = bcryptHasher({ cost: 4 });

/** Hashes a secret at test cost. */
export function hashSecret(secret: string): Promise<string> {
  return hasher.hash(secret);
}

/** Builds a provider around a memory store holding `clients` (plus the seed client). */
export async function createTestProvider(
  options: {
    readonly clients?: readonly Client[];
    readonly config?: Partial<ComposeConfig>;
    readonly alg?: SigningAlgorithm;
    /** The access-token format; JWT when omitted. */
    readonly format?: 'jwt' | 'opaque';
  } = {},
) {
  const keys = createStaticKeySet([await generateSigningKey(options.alg ?? 'RS256')]);
  const issuer = options.config?.issuer ?? testIssuer;
  const storage = createMemoryStore({ clients: [seedClient, ...(options.clients ?? [])] });
  const strategy: AccessTokenStrategy =
    options.format === 'opaque'
      ? opaqueHmacStrategy({ secrets: [testHmacSecret] })
      : jwtAccessTokenStrategy({ keys, issuer });
  const provider = compose(
    { accessTokenLifespan: 1800, ...options.config, issuer },
    storage,
    strategy,
    hasher,
    clientCredentialsGrant,
    accessTokenIntrospection,
    accessTokenRevocation,
  );
  return { provider, storage, keys, strategy, hasher };
}

/** A confidential client whose secret is `credentials.secret`, hashed at test cost. */
export async function registeredClient(
  credentials: { readonly id: string; readonly secret: string },
  extra: Partial<Client> = {},
): Promise<Client> {
  return {
    id: credentials.id,
    secretHash: await hashSecret(credentials.secret),
    grantTypes: ['client_credentials'],
    scopes: ['read'],
    audience: [],
    ...extra,
  };
}

/** A public client: it registered `none` and has no secret. */
export const publicTestClient: Client = {
  id: 'public-client',
  grantTypes: [],
  scopes: [],
  audience: [],
  tokenEndpointAuthMethod: 'none',
};

/** Every conformance mount paired with both access-token formats. */
export const mountsAndFormats = mounts.flatMap((mount) =>
  (['jwt', 'opaque'] as const).map((format) => [mount, format] as const),
);

/**
 * Serves a full provider (token, introspection, revocation) for `clients` on a manual clock,
 * through `mount`, issuing tokens of `format` that live `lifespan` seconds.
 */
export async function startLifecycleServer(options: {
  readonly mount: Mount;
  readonly format: 'jwt' | 'opaque';
  readonly clients: readonly Client[];
  readonly lifespan: number;
}) {
  const clock = createManualClock();
  const built = await createTestProvider({
    clients: options.clients,
    config: { clock, accessTokenLifespan: options.lifespan },
    format: options.format,
  });
  const server = await startServer(createRouter(built.provider), options.mount);
  return { ...built, clock, server, url: server.url };
}
