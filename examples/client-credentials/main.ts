// The client credentials how-to as a runnable server: `npm start`, then curl /token.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  accessTokenIntrospection,
  accessTokenRevocation,
  clientCredentialsGrant,
  compose,
  createKeySealer,
  createRotatingKeySet,
  jwtAccessTokenStrategy,
  pathnameOf,
  SealedValueError,
  StorageUnavailableError,
} from '../../src/index.js';
import { answerHalfClosedClients, toNodeHandler } from '../../src/http/node.js';
import { cachedClientStore } from '../../src/protection/index.js';
import { openStorage } from '../../src/server/build-provider.js';
import { ConfigError } from '../../src/server/config.js';
import { resolveKeyEncryptionKey } from '../../src/server/key-encryption-key.js';
import { createTokenHandler } from './token-handler.js';

const port = portFrom(process.env.PORT);
const host = process.env.HOST ?? '0.0.0.0';
/** The issuer: ISSUER, or this server on localhost at the port it listens on (known once bound, for PORT=0). */
const issuerAt = (boundPort: number) => process.env.ISSUER ?? `http://localhost:${boundPort}`;

// Everything is kept in SQLite under ./data (created on first start), or in PostgreSQL when
// DATABASE_URL=postgres://… is set.
const dataDir = process.env.TESSERA_DATA_DIR ?? './data';

async function openSeedData() {
  const { storage, migration } = await openStorage({
    dataDir,
    database: { url: process.env.DATABASE_URL, poolSize: 10, schema: 'public', janitorInterval: 60 },
  });
  try {
    // test-client's secret "foobar" is kept only as this bcrypt hash; it is created only in a new database.
    if (migration.fromVersion === 0) {
      await storage.createClient({
        id: 'test-client',
        secretHash: '$2a$10$IxMdI6d.LIRZPpSfEwNoeu4rY3FhDREsxFJXikcgdRRAStxUlsuEO',
        grantTypes: ['client_credentials'],
        scopes: [],
        audience: [],
      });
    }

    // RSA-2048 keys sign the JWT access tokens; they are stored sealed under a key-encryption key
    // from TESSERA_KEY_ENCRYPTION_KEY, or (this being a development server) one generated into ./data.
    const kek = resolveKeyEncryptionKey(
      { mode: 'development', dataDir, keys: { encryptionKey: process.env.TESSERA_KEY_ENCRYPTION_KEY } },
      (message) => console.warn(`warning: ${message}`),
    );
    const keys = await createRotatingKeySet({ store: storage, sealer: createKeySealer(kek), algorithm: 'RS256' });
    return { storage, keys };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

/** Says in one line why the seed cannot start, as for a taken port below, not as a stack trace. */
function cannotStart(reason: string): never {
  console.error(`cannot start: ${reason}`);
  process.exit(1);
}

/** PORT as a number; unset or empty is 8080. */
function portFrom(value: string | undefined): number {
  if (value === undefined || value === '') return 8080;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535) {
    cannotStart(`PORT must be a port number from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/**
 * A lost key-encryption key, a database that cannot be opened, a data folder that is not one, a
 * DATABASE_URL or TESSERA_KEY_ENCRYPTION_KEY that cannot be read: said in one line. Anything else
 * is a fault, shown in full.
 */
function dataCannotOpen(error: unknown): never {
  if (error instanceof SealedValueError) {
    cannotStart(
      `the stored signing keys cannot be opened (${error.message}); put back the key-encryption key they ` +
        `were sealed under (${dataDir}/key-encryption-key or TESSERA_KEY_ENCRYPTION_KEY), or move ${dataDir} ` +
        `away to start again with a new database`,
    );
  }
  if (
    error instanceof StorageUnavailableError ||
    error instanceof ConfigError ||
    (error instanceof Error && 'syscall' in error)
  ) {
    cannotStart(error.message);
  }
  throw error;
}

const { storage, keys } = await openSeedData().catch(dataCannotOpen);

/** The provider for `issuer`; compose() refuses settings that cannot work, such as an ISSUER that is not an http(s) URL. */
async function composeProvider(issuer: string) {
  try {
    return compose(
      {
        issuer,
        accessTokenLifespan: 30 * 60,
        reportError: (error) => console.error(error),
        // The token endpoint is served at /token: the metadata names it, and private_key_jwt
        // assertions may name it as their audience at every endpoint.
        routes: { token: '/token' },
      },
      // Client records are read through a small cache that forgets a client as soon as it changes.
      cachedClientStore(storage),
      jwtAccessTokenStrategy({ keys, issuer }),
      undefined, // bcrypt when omitted
      clientCredentialsGrant,
      accessTokenIntrospection,
      accessTokenRevocation,
    );
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    await storage.close();
    cannotStart(error.message);
  }
}

/** The request handler: the how-to's /token, plus introspection, revocation, the JWK Set and metadata. */
function routeTo(provider: Awaited<ReturnType<typeof composeProvider>>) {
  const tokenHandler = createTokenHandler(provider);
  return toNodeHandler(async (request) => {
    const pathname = pathnameOf(request.url);
    if (pathname === provider.routes.token) return tokenHandler(request);
    if (pathname === provider.routes.jwks) return provider.handleJwksRequest(request);
    // Introspection, revocation, the JWK Set and metadata at the default paths.
    if (pathname === provider.routes.introspection) return provider.handleIntrospectionRequest(request);
    if (pathname === provider.routes.revocation) return provider.handleRevocationRequest(request);
    if (pathname === provider.routes.metadata) return provider.handleMetadataRequest(request);
    return new Response('not found\n', { status: 404 });
  });
}

// With a port given, the provider is ready before the server listens; with PORT=0 and no ISSUER,
// the issuer names the port the system gives, so it is made once the server is bound. Requests
// are served only after that: the handler is in place before the first connection is read.
const provider = port !== 0 || process.env.ISSUER !== undefined ? await composeProvider(issuerAt(port)) : undefined;
const server = createServer();
answerHalfClosedClients(server);
// A port that is taken or not ours to use is said in one line, not as a stack trace.
server.once('error', (error: NodeJS.ErrnoException) => {
  const reason =
    error.code === 'EADDRINUSE' ? 'the address is already in use (set PORT to another port)' : error.message;
  console.error(`cannot listen on ${host}:${port}: ${reason}`);
  void storage.close().finally(() => process.exit(1));
});
// PORT=0 asks the system for a free port: the one it gave is shown.
server.listen(port, host, () => {
  const boundPort = (server.address() as AddressInfo).port;
  void (provider ? Promise.resolve(provider) : composeProvider(issuerAt(boundPort))).then((ready) => {
    server.on('request', routeTo(ready));
    console.log(`serving on ${host}:${boundPort}`);
  });
});
