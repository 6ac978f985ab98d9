// Tessera's seed scenario, composed as examples/client-credentials/main.ts does (seed client with
// its cost-10 bcrypt hash, compose()'s default hasher, the how-to's token handler), with the
// runner's key, a chosen store for token records, and optionally the brute-force guard.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createTokenHandler } from '../../examples/client-credentials/token-handler.js';
import { handle, toNodeHandler } from '../../src/http/node.js';
import {
  bcryptHasher,
  cachedSecretHasher,
  clientCredentialsGrant,
  compose,
  createMemoryStore,
  createStaticKeySet,
  importSigningKey,
  jwtAccessTokenStrategy,
  pathnameOf,
  type Client,
  type HttpRequest,
  type SigningAlgorithm,
  type Storage,
} from '../../src/index.js';
import {
  cachedClientStore,
  createBruteForceGuard,
  createGuardedHandler,
  limitedSecretHasher,
} from '../../src/protection/index.js';
import { listenForBenchmark, required } from './listen.js';

const alg = required('BENCH_ALG') as SigningAlgorithm;
const storeKind = process.env.BENCH_STORE ?? 'memory';
const issuer = 'http://127.0.0.1';

const seedClient: Client = {
  id: 'test-client',
  secretHash: '$2a$10$IxMdI6d.LIRZPpSfEwNoeu4rY3FhDREsxFJXikcgdRRAStxUlsuEO',
  grantTypes: ['client_credentials'],
  scopes: [],
  audience: [],
};

/** The database outlives a round of the benchmark: the seed client is added once. */
async function addSeedClient(store: Storage): Promise<void> {
  if (!(await store.getClient(seedClient.id))) await store.createClient(seedClient);
}

async function openStore(): Promise<Storage> {
  switch (storeKind) {
    case 'memory':
      return createMemoryStore({ clients: [seedClient] });
    case 'sqlite':
    case 'sqlite-normal': {
      const { createSqliteStore } = await import('../../src/storage/sqlite/index.js');
      const store = createSqliteStore({
        filename: required('BENCH_SQLITE_FILE'),
        synchronous: storeKind === 'sqlite-normal' ? 'normal' : 'full',
      });
      await addSeedClient(store);
      return store;
    }
    case 'postgres': {
      const { createPostgresStore } = await import('../../src/storage/postgres/index.js');
      const store = createPostgresStore({
        connectionString: required('BENCH_PG_URL'),
        schema: required('BENCH_PG_SCHEMA'),
      });
      await store.ping();
      await addSeedClient(store);
      return store;
    }
    default:
      throw new Error(`unknown BENCH_STORE ${storeKind}`);
  }
}

const keys = createStaticKeySet([await importSigningKey(readFileSync(required('BENCH_KEY_FILE'), 'utf8'), alg)]);
const storage = await openStore();
// SQL stores get the client cache the server puts in front of them; memory needs none.
const clients = storeKind === 'memory' ? storage : cachedClientStore(storage);
const provider = compose(
  // Stateless: no token records at all, as the jose ceilings keep none (an informational row).
  { issuer, accessTokenLifespan: 30 * 60, statelessAccessTokens: process.env.BENCH_STATELESS === '1' },
  clients,
  jwtAccessTokenStrategy({ keys, issuer }),
  // Unguarded: compose()'s default, bcrypt behind the verified-secret cache. Guarded: the same
  // with the hash-check queue inside the cache, as the server wires it.
  process.env.BENCH_GUARD === '1'
    ? cachedSecretHasher(limitedSecretHasher(bcryptHasher()), { changes: storage })
    : undefined,
  clientCredentialsGrant,
);
const tokenHandler = createTokenHandler(provider);
const route = async (request: HttpRequest): Promise<Response> => {
  const pathname = pathnameOf(request.url);
  if (pathname === '/token') return tokenHandler(request);
  if (pathname === '/.well-known/jwks.json') return provider.handleJwksRequest(request);
  return new Response('not found\n', { status: 404 });
};

let server;
if (process.env.BENCH_GUARD === '1') {
  const guarded = createGuardedHandler(route, { guard: createBruteForceGuard() });
  server = createServer((req, res) => handle((request) => guarded(request, req.socket.remoteAddress), req, res));
} else {
  server = createServer(toNodeHandler(route));
}
process.on('exit', () => void storage.close());
await listenForBenchmark(server);
