// The PostgreSQL schema, one versioned step at a time. Never edit a released step: add a new one.

import type { MigrationStep } from '../index.js';

/** A schema change; `sql` receives the quoted schema name to qualify every table with. */
export interface PostgresMigration extends MigrationStep {
  readonly sql: (schema: string) => string;
}

/** Every PostgreSQL migration, in version order. */
export const postgresMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'create clients, token records, deny-list, signing keys, HMAC secrets and replay cache',
    // Client ids sort by code point ("C" collation), the same order on every server whatever its locale.
    sql: (s) => `
      CREATE TABLE ${s}.clients (
        id text COLLATE "C" PRIMARY KEY,
        secret_hash text,
        grant_types json NOT NULL,
        scopes json NOT NULL,
        default_scopes json,
        audience json NOT NULL,
        token_endpoint_auth_method text,
        jwks json,
        metadata json,
        created_at bigint,
        secret_updated_at bigint,
        extra json
      );

      CREATE TABLE ${s}.access_tokens (
        signature text PRIMARY KEY,
        format text NOT NULL,
        client_id text NOT NULL,
        subject text NOT NULL,
        scopes json NOT NULL,
        audience json NOT NULL,
        issued_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        request_id text,
        extra_claims json,
        extra json
      );
      CREATE INDEX access_tokens_expires_at ON ${s}.access_tokens (expires_at);

      CREATE TABLE ${s}.revoked_token_ids (
        jti text PRIMARY KEY,
        expires_at bigint NOT NULL
      );
      CREATE INDEX revoked_token_ids_expires_at ON ${s}.revoked_token_ids (expires_at);

      CREATE TABLE ${s}.signing_keys (
        kid text PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        alg text NOT NULL,
        state text NOT NULL,
        public_jwk json NOT NULL,
        sealed_private_key text NOT NULL,
        created_at bigint NOT NULL,
        activated_at bigint,
        retired_at bigint,
        remove_after bigint,
        extra json
      );

      CREATE TABLE ${s}.hmac_secrets (
        id text PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        sealed_secret text NOT NULL,
        created_at bigint NOT NULL,
        extra json
      );

      CREATE TABLE ${s}.replay_cache (
        jti text PRIMARY KEY,
        expires_at bigint NOT NULL
      );
      CREATE INDEX replay_cache_expires_at ON ${s}.replay_cache (expires_at);
    `,
  },
];
