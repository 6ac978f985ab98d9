// What the web-standard core costs before any OAuth work: node:http through Tessera's node adapter
// (a web Request in, a web Response out), reading the body and answering fixed JSON.

import { createServer } from 'node:http';
import { toNodeFetchHandler } from '../../src/http/node.js';
import { listenForBenchmark } from './listen.js';

const body = '{"access_token":"x","expires_in":1800,"scope":"","token_type":"bearer"}';

const server = createServer(
  toNodeFetchHandler(async (request) => {
    await request.text();
    return new Response(body, {
      headers: { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store' },
    });
  }),
);
await listenForBenchmark(server);
