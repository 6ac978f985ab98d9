// A TLS certificate or key that cannot be read or used stops `serve` as a configuration error.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createWorkspace, runTessera, type Workspace } from './support/tessera-process.js';

const serveOnAnyPorts = ['serve', '--port', '0', '--admin-port', '0', '--issuer', 'https://localhost'];
const workspaces: Workspace[] = [];

function workspace(): Workspace {
  const created = createWorkspace();
  workspaces.push(created);
  return created;
}

afterAll(() => {
  for (const ws of workspaces) ws.remove();
});

describe('serve with TLS files it cannot use', () => {
  it('names a certificate file that does not exist and exits 2', async () => {
    const ws = workspace();
    writeFileSync(join(ws.dir, 'tls.key'), 'not used');
    const result = await runTessera(ws, [...serveOnAnyPorts, '--tls-cert', 'missing.crt', '--tls-key', 'tls.key']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('server.tlsCert: cannot read missing.crt: ENOENT');
  });

  it('refuses files that are not a certificate and key, without echoing the key file, and exits 2', async () => {
    const ws = workspace();
    writeFileSync(join(ws.dir, 'tls.crt'), 'not a certificate');
    writeFileSync(join(ws.dir, 'tls.key'), 'secret-key-material-that-must-not-be-echoed');
    const result = await runTessera(ws, [...serveOnAnyPorts, '--tls-cert', 'tls.crt', '--tls-key', 'tls.key']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('server.tlsCert and server.tlsKey: not a usable certificate and key');
    expect(result.stderr + result.stdout).not.toContain('secret-key-material');
  });
});
