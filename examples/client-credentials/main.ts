// The client credentials how-to as a runnable server: `npm start`, then curl /token.

import { createServer } from 'node:http';
import {
  accessTokenIntrospection,
  accessTokenRevocation,
  clientCredentialsGrant,
  compose,
  createMemoryStore,
  createStaticKeySet,
  defaultRoutes,
  generateSigningKey,
  jwtAccessTokenStrategy,
} from '../../src/index.js';
import { toNodeHandler } from '../../src/http/node.js';
import { createTokenHandler } from './token-handler.js';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '0.0.0.0';
const issuer = process.env.ISSUER ?? `http://localhost:${port}`;

// An RSA-2048 key signs the JWT access tokens; it lives only as long as the process.
const keys = createStaticKeySet([await generateSigningKey('RS256')]);

// test-client's secret "foobar" is kept only as this bcrypt hash.
const storage = createMemoryStore({
  clients: [
    {
      id: 'test-client',
      secretHash: '$2a$10$IxMdI6d.LIRZPpSfEwNoeu4rY3FhDREsxFJXikcgdRRAStxUlsuEO',
      grantTypes: ['client_credentials'],
      scopes: [],
      audience: [],
    },
  ],
});

const provider = compose(
  { issuer, accessTokenLifespan: 30 * 60, reportError: (error) => console.error(error) },
  storage,
  jwtAccessTokenStrategy({ keys, issuer }),
  undefined, // bcrypt when omitted
  clientCredentialsGrant,
  accessTokenIntrospection,
  accessTokenRevocation,
);

const tokenHandler = createTokenHandler(provider);
const server = createServer(
  toNodeHandler(async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === '/token') return tokenHandler(request);
    if (pathname === '/.well-known/jwks.json') return provider.handleJwksRequest(request);
    // Introspection, revocation and metadata at the router's default paths; the metadata
    // names this example's /token as the token endpoint.
    if (pathname === defaultRoutes.introspection) return provider.handleIntrospectionRequest(request);
    if (pathname === defaultRoutes.revocation) return provider.handleRevocationRequest(request);
    if (pathname === defaultRoutes.metadata) return provider.handleMetadataRequest(request, { token: '/token' });
    return new Response('not found\n', { status: 404 });
  }),
);
server.listen(port, host, () => console.log(`serving on ${host}:${port}`));
