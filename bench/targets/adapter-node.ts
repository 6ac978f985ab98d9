// What Tessera's node:http adapter costs before any OAuth work: the bounded-body request in,
// a provider JSON response out, reading the body and answering fixed JSON.

import { createServer } from 'node:http';
import { toNodeHandler } from '../../src/http/node.js';
import { readRequestBody, writeJson } from '../../src/index.js';
import { listenForBenchmark } from './listen.js';

const body = { access_token: 'x', expires_in: 1800, scope: '', token_type: 'bearer' };

const server = createServer(
  toNodeHandler(async (request) => {
    await readRequestBody(request, 64 * 1024);
    return writeJson(body);
  }),
);
await listenForBenchmark(server);
