// The ceiling of node:http on this machine: answers every request with a fixed small JSON body.

import { createServer } from 'node:http';
import { listenForBenchmark } from './listen.js';

const body = Buffer.from('{"access_token":"x","expires_in":1800,"scope":"","token_type":"bearer"}');

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'content-length': body.byteLength });
    res.end(body);
  });
});
await listenForBenchmark(server);
