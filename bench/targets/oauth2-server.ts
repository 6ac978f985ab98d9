// Peer: @node-oauth/oauth2-server 5 on the same contract. Its model signs a JWT with `jose` and
// the runner's key, keeps token records in memory, and compares the plaintext client secret in
// constant time (the library leaves secret storage to the model; plaintext is what its examples do).

import { createPrivateKey, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import OAuth2Server, { Request as OAuthRequest, Response as OAuthResponse } from '@node-oauth/oauth2-server';
import { SignJWT } from 'jose';
import { listenForBenchmark, required } from './listen.js';

const alg = required('BENCH_ALG');
const key = createPrivateKey(readFileSync(required('BENCH_KEY_FILE'), 'utf8'));
const issuer = 'http://127.0.0.1';
const secret = Buffer.from('foobar');
const client = { id: 'test-client', grants: ['client_credentials'], accessTokenLifetime: 1800 };
const records = new Map<string, unknown>();

const oauth = new OAuth2Server({
  model: {
    getClient: (clientId: string, clientSecret: string) => {
      const presented = Buffer.from(clientSecret ?? '');
      const matches = presented.length === secret.length && timingSafeEqual(presented, secret);
      return Promise.resolve(clientId === client.id && matches ? client : false);
    },
    getUserFromClient: () => Promise.resolve({ id: 'test-client' }),
    generateAccessToken: () => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ client_id: client.id })
        .setProtectedHeader({ alg, typ: 'at+jwt', kid: 'bench' })
        .setIssuer(issuer)
        .setSubject(client.id)
        .setAudience(issuer)
        .setIssuedAt(now)
        .setExpirationTime(now + 1800)
        .setJti(randomUUID())
        .sign(key);
    },
    saveToken: (token: { accessToken: string }, savedClient: unknown, user: unknown) => {
      records.set(token.accessToken.slice(-43), { client: savedClient, user });
      return Promise.resolve({ ...token, client: savedClient, user });
    },
    getAccessToken: () => Promise.resolve(false),
    verifyScope: () => Promise.resolve(false),
  } as never,
  allowExtendedTokenAttributes: false,
});

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const request = new OAuthRequest({
      method: req.method ?? 'POST',
      headers: req.headers as Record<string, string>,
      query: {},
      body: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString())),
    });
    const response = new OAuthResponse();
    oauth
      .token(request, response, { requireClientAuthentication: { client_credentials: true } })
      .then(() => {
        res.writeHead(response.status ?? 200, {
          ...response.headers,
          'content-type': 'application/json;charset=UTF-8',
        });
        res.end(JSON.stringify(response.body));
      })
      .catch((error: { code?: number; name?: string }) => {
        res.writeHead(error.code ?? 500, { 'content-type': 'application/json;charset=UTF-8' });
        res.end(JSON.stringify({ error: error.name ?? 'server_error' }));
      });
  });
});
await listenForBenchmark(server);
