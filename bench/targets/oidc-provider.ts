// Peer: oidc-provider 9 on the same contract (client_credentials, client_secret_basic, an RS256 or
// ES256 JWT access token). It keeps the client secret in plaintext, as its clients are configured.

import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import { listenForBenchmark, required } from './listen.js';

const alg = required('BENCH_ALG');
const jwk = createPrivateKey(readFileSync(required('BENCH_KEY_FILE'), 'utf8')).export({ format: 'jwk' });
const issuer = 'http://127.0.0.1';
const resource = 'http://127.0.0.1/api';

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'test-client',
      client_secret: 'foobar',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [{ ...jwk, alg, use: 'sig', kid: 'bench' }] },
  routes: { token: '/token' },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: '',
        audience: resource,
        accessTokenTTL: 1800,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg } },
      }),
    },
  },
});
provider.on('server_error', (_ctx: unknown, error: Error) => console.error(error));

await listenForBenchmark(createServer(provider.callback()));
