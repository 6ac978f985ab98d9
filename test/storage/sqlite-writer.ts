// Child process for the durability test: writes clients and token records (some in bursts that
// share one commit) to a SQLite file forever, printing one line per acknowledged write, until it is killed.

import { createSqliteStore } from '../../src/storage/sqlite/index.js';

const filename = process.argv[2];
if (filename === undefined) throw new Error('usage: sqlite-writer <file>');
const store = createSqliteStore({ filename });
const now = Date.UTC(2026, 0, 1);

process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  await store.createClient({
    id: `client-${i}`,
    grantTypes: ['client_credentials'],
    scopes: ['read'],
    audience: [],
    createdAt: now,
  });
  process.stdout.write(`client client-${i}\n`);
  await store.createAccessTokenRecord({
    signature: `sig-${i}`,
    format: 'jwt',
    clientId: `client-${i}`,
    subject: `client-${i}`,
    scopes: ['read'],
    audience: [],
    issuedAt: now,
    expiresAt: now + 3600_000,
  });
  process.stdout.write(`token sig-${i}\n`);
  if (i % 5 === 0) {
    // A burst created at once is written by one group commit; each is acknowledged as its promise resolves.
    await Promise.all(
      Array.from({ length: 8 }, (_, j) =>
        store
          .createAccessTokenRecord({
            signature: `burst-${i}-${j}`,
            format: 'jwt',
            clientId: `client-${i}`,
            subject: `client-${i}`,
            scopes: ['read'],
            audience: [],
            issuedAt: now,
            expiresAt: now + 3600_000,
          })
          .then(() => process.stdout.write(`token burst-${i}-${j}\n`)),
      ),
    );
  }
  if (i % 10 === 0) {
    await store.transaction(async (tx) => {
      await tx.revokeTokenId(`jti-${i}`, now + 3600_000);
      await tx.updateClient({
        id: `client-${i}`,
        grantTypes: ['client_credentials'],
        scopes: ['read', 'write'],
        audience: [],
        createdAt: now,
      });
    });
    process.stdout.write(`revoked jti-${i}\n`);
  }
}
