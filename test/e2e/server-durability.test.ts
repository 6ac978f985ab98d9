// A SQLite-backed `tessera serve` killed with SIGKILL while issuing tokens and registering clients
// loses nothing it had acknowledged: after a restart every acknowledged token still introspects
// as active and every acknowledged client exists.

import { afterAll, describe, expect, it } from 'vitest';
import {
  basic,
  createWorkspace,
  parseJson,
  requestToken,
  runTessera,
  startTessera,
  type ServerProcess,
} from './support/tessera-process.js';

// A fixed issuer: by default it follows the bound port, which changes across a restart on port 0.
const workspace = createWorkspace({ TESSERA_ISSUER: 'https://auth.durable.test' });
let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.stop('SIGKILL');
  workspace.remove();
});

describe('SIGKILL durability on SQLite', () => {
  it('keeps every acknowledged token record and client across a kill -9', async () => {
    const secret = String(
      parseJson(await runTessera(workspace, ['clients', 'create', '--client-id', 'writer', '--json'])).client_secret,
    );
    server = await startTessera(workspace);
    const running = server;

    const tokens: string[] = [];
    const clients: string[] = [];
    let killed = false;
    const issue = async () => {
      while (!killed) {
        try {
          const { status, body } = await requestToken(running.publicUrl, 'writer', secret);
          if (status === 200) tokens.push(String(body.access_token));
        } catch {
          return; // the connection died with the process: not acknowledged
        }
      }
    };
    const register = async (worker: number) => {
      for (let index = 0; !killed; index++) {
        const id = `durable-${worker}-${index}`;
        try {
          const response = await fetch(`${running.adminUrl}/clients`, {
            method: 'POST',
            headers: { authorization: `Bearer ${workspace.adminToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ client_id: id }),
          });
          if (response.status === 201) clients.push(id);
        } catch {
          return;
        }
      }
    };
    const load = Promise.all([issue(), issue(), issue(), register(0), register(1)]);
    while (tokens.length < 40 || clients.length < 10) await new Promise((resolve) => setTimeout(resolve, 10));
    running.child.kill('SIGKILL');
    killed = true;
    await running.exited;
    await load;

    server = await startTessera(workspace);
    const restarted = server;
    const inactive: number[] = [];
    for (const [index, token] of tokens.entries()) {
      const response = await fetch(`${restarted.publicUrl}/oauth2/introspect`, {
        method: 'POST',
        headers: { authorization: basic('writer', secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      });
      if (((await response.json()) as { active: boolean }).active !== true) inactive.push(index);
    }
    expect(inactive, `of ${tokens.length}`).toEqual([]);
    const listed = (await (
      await fetch(`${restarted.adminUrl}/clients?limit=1000`, {
        headers: { authorization: `Bearer ${workspace.adminToken}` },
      })
    ).json()) as { clients: { client_id: string }[] };
    const stored = new Set(listed.clients.map((client) => client.client_id));
    for (const id of clients) expect(stored.has(id), id).toBe(true);
  });
});
