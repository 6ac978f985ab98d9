// The SQLite schema, one versioned step at a time. Never edit a released step: add a new one.

import type { MigrationStep } from '../index.js';

/** A schema change and the SQL that makes it. */
export interface SqliteMigration extends MigrationStep {
  readonly sql: string;
}

/**
 * Every SQLite migration, in version order. STRICT tables refuse values of the wrong type instead
 * of storing them as something else.
 */
export const sqliteMigrations: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'create clients, token records, deny-list, signing keys, HMAC secrets and replay cache',
    sql: `
      CREATE TABLE clients (
        id TEXT NOT NULL PRIMARY KEY,
        secret_hash TEXT,
        grant_types TEXT NOT NULL,
        scopes TEXT NOT NULL,
        default_scopes TEXT,
        audience TEXT NOT NULL,
        token_endpoint_auth_method TEXT,
        jwks TEXT,
        metadata TEXT,
        created_at INTEGER,
        secret_updated_at INTEGER,
        extra TEXT
      ) STRICT;

      CREATE TABLE access_tokens (
        signature TEXT NOT NULL PRIMARY KEY,
        format TEXT NOT NULL,
        client_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        scopes TEXT NOT NULL,
        audience TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        request_id TEXT,
        extra_claims TEXT,
        extra TEXT
      ) STRICT;
      CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

      CREATE TABLE revoked_token_ids (
        jti TEXT NOT NULL PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX revoked_token_ids_expires_at ON revoked_token_ids (expires_at);

      CREATE TABLE signing_keys (
        kid TEXT NOT NULL PRIMARY KEY,
        seq INTEGER NOT NULL,
        alg TEXT NOT NULL,
        state TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        sealed_private_key TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        activated_at INTEGER,
        retired_at INTEGER,
        remove_after INTEGER,
        extra TEXT
      ) STRICT;

      CREATE TABLE hmac_secrets (
        id TEXT NOT NULL PRIMARY KEY,
        seq INTEGER NOT NULL,
        sealed_secret TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        extra TEXT
      ) STRICT;

      CREATE TABLE replay_cache (
        jti TEXT NOT NULL PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX replay_cache_expires_at ON replay_cache (expires_at);
    `,
  },
  {
    version: 2,
    name: 'create the change log that tells other processes on the file what changed',
    // AUTOINCREMENT: a number is never handed out twice, even after the oldest rows are pruned,
    // so a reader that finds a number missing knows rows were pruned before it read them.
    sql: `
      CREATE TABLE change_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        writer TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT
      ) STRICT;
    `,
  },
];
