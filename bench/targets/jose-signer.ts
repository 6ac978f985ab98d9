// The signing ceiling: a bare node:http server whose only work per request is one `jose` SignJWT
// with the same key and a claim set like Tessera's.

import { randomUUID, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { SignJWT } from 'jose';
import { listenForBenchmark, required } from './listen.js';

const alg = required('BENCH_ALG');
const key = createPrivateKey(readFileSync(required('BENCH_KEY_FILE'), 'utf8'));
const issuer = 'http://127.0.0.1';

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const now = Math.floor(Date.now() / 1000);
    new SignJWT({ client_id: 'test-client' })
      .setProtectedHeader({ alg, typ: 'at+jwt', kid: 'bench' })
      .setIssuer(issuer)
      .setSubject('test-client')
      .setAudience(issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + 1800)
      .setJti(randomUUID())
      .sign(key)
      .then((token) => {
        const body = JSON.stringify({ access_token: token, expires_in: 1800, scope: '', token_type: 'bearer' });
        res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store' });
        res.end(body);
      })
      .catch(() => {
        res.writeHead(500);
        res.end();
      });
  });
});
await listenForBenchmark(server);
