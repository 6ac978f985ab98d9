// Server configuration: defaults, a YAML file, TESSERA_… environment variables and flags, in rising precedence.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { longestTimerMs } from '../core/timer-limit.js';
import { defaultBruteForceLimits, defaultMaxUnverifiedPerAddress } from '../protection/index.js';
import { setOwnMember } from './own-member.js';
import { decodeUtf8 } from './utf8.js';

const signingAlgorithmValues = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const port = (what: string) =>
  z
    .int({ error: `must be a whole-number ${what} port from 0 to 65535` })
    .min(0, { error: `must be a whole-number ${what} port from 0 to 65535` })
    .max(65535, { error: `must be a whole-number ${what} port from 0 to 65535` });

// Node's timers hold at most 2^31 − 1 ms; a longer delay is cut to 1 ms, so a setting meant to be
// long would end at once.
const timerLimitMs = longestTimerMs;
const timerLimitSeconds = Math.floor(timerLimitMs / 1000);

const milliseconds = (what: string) =>
  z
    .int({ error: `must be a whole number of milliseconds from 1 to ${timerLimitMs} (${what})` })
    .min(1, { error: `must be a whole number of milliseconds from 1 to ${timerLimitMs} (${what})` })
    .max(timerLimitMs, { error: `must be a whole number of milliseconds from 1 to ${timerLimitMs} (${what})` });

// The primary process of several workers waits shutdownTimeout + 2 s before it kills them.
const shutdownLimitMs = timerLimitMs - 2000;
const shutdownError = `must be a whole number of milliseconds from 0 to ${shutdownLimitMs} (time in-flight requests get on shutdown)`;

const timerSeconds = (unit: string) =>
  z
    .int({ error: `must be a whole number of ${unit} from 1 to ${timerLimitSeconds}` })
    .min(1, { error: `must be a whole number of ${unit} from 1 to ${timerLimitSeconds}` })
    .max(timerLimitSeconds, { error: `must be a whole number of ${unit} from 1 to ${timerLimitSeconds}` });

// What the admin API reads from `Authorization: Bearer <token>`: visible ASCII, no spaces. Wider
// than RFC 6750's b64token, so a token that worked before stays accepted.
const bearerToken = /^[\x21-\x7e]+$/;

const count = (unit: string, minimum: number) =>
  z
    .int({ error: `must be a whole number of ${unit}, ${minimum} or more` })
    .min(minimum, { error: `must be a whole number of ${unit}, ${minimum} or more` });

const nonEmpty = (what: string) =>
  z.string({ error: `must be ${what}` }).min(1, { error: `must be ${what}, not empty` });

/** The configuration schema, zod 4. Every field has a default except secrets and file paths. */
export const configSchema = z
  .strictObject({
    mode: z
      .enum(['production', 'development'], { error: 'must be "production" or "development"' })
      .default('production'),
    issuer: z
      .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL such as https://auth.example.com' })
      // Every token and the metadata publish the issuer: a password in it would be published too
      // (and it is no secret setting, so it is not hidden in messages either, save this one).
      .refine((value) => !URL.canParse(value) || (new URL(value).username === '' && new URL(value).password === ''), {
        error: 'must have no user name or password (RFC 3986 §3.2.1): every token and the metadata publish the issuer',
        params: { hideValue: true },
        abort: true,
      })
      .refine((value) => !/[?#]/.test(value), { error: 'must have no query or fragment (RFC 8414 §2)' })
      // Tokens (`iss`) and the metadata carry the issuer as written, and the endpoint URLs in the
      // metadata are built from it: a spelling the URL parser changes would publish endpoints
      // and an issuer that differ from the URLs clients reach (RFC 8414 §3.3 compares them as strings).
      .refine((value) => !URL.canParse(value) || /[?#]/.test(value) || canonicalUrl(value) === stripSlashes(value), {
        error: (issue) =>
          `must be written as the URL parser writes it, "${canonicalUrl(String(issue.input))}": tokens and the metadata carry the issuer as written (RFC 8414 §3.3)`,
      })
      .optional(),
    allowInsecureIssuer: z.boolean({ error: 'must be true or false' }).default(false),
    dataDir: nonEmpty('a directory path').default('./data'),
    database: z
      .strictObject({
        url: z
          .string({ error: 'must be a string' })
          .regex(/^(postgres(ql)?:\/\/|sqlite:|memory:$)/, {
            error: 'must be postgres://user@host:port/database, sqlite:<file path> or memory:',
          })
          // The driver would fail on it at connection time, as if the database were unreachable.
          .refine((value) => !/^postgres(ql)?:/.test(value) || parsesAsPostgresUrl(value), {
            error:
              'must be a valid URL: postgres://user:password@host:port/database, with special characters in the password percent-encoded',
          })
          .optional(),
        // Two at least: one connection listens for change notifications while another serves.
        poolSize: z
          .int({ error: 'must be a whole number from 2 to 1000' })
          .min(2, { error: 'must be a whole number from 2 to 1000' })
          .max(1000, { error: 'must be a whole number from 2 to 1000' })
          .default(10),
        schema: z
          .string({ error: 'must be a string' })
          .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
            error: 'must be a PostgreSQL identifier: letters, digits and _, not starting with a digit',
          })
          .default('public'),
        // A longer delay than a timer holds would fire at once, every millisecond.
        janitorInterval: z
          .int({ error: 'must be a whole number of seconds from 0 (off) to 2147483' })
          .min(0, { error: 'must be a whole number of seconds from 0 (off) to 2147483' })
          .max(2_147_483, { error: 'must be a whole number of seconds from 0 (off) to 2147483' })
          .default(60),
      })
      .prefault({}),
    server: z
      .strictObject({
        host: nonEmpty('a host name or IP address').default('0.0.0.0'),
        port: port('TCP').default(8080),
        workers: z
          .int({ error: 'must be a whole number from 1 to 256' })
          .min(1, { error: 'must be a whole number from 1 to 256' })
          .max(256, { error: 'must be a whole number from 1 to 256' })
          .default(1),
        trustProxy: z
          .union([z.boolean(), z.int().min(0).max(100)], {
            error: 'must be true, false, or the number of proxy hops to trust (0 to 100)',
          })
          .default(false),
        forwardedHeader: z
          .enum(['x-forwarded-for', 'forwarded'], { error: 'must be "x-forwarded-for" or "forwarded"' })
          .default('x-forwarded-for'),
        headersTimeout: milliseconds('time to receive all request headers').default(10_000),
        requestTimeout: milliseconds('time to receive a whole request').default(30_000),
        keepAliveTimeout: milliseconds('idle time of a kept-alive connection').default(5_000),
        // 0 is allowed here alone: no grace, in-flight requests are cut off at once.
        shutdownTimeout: z
          .int({ error: shutdownError })
          .min(0, { error: shutdownError })
          .max(shutdownLimitMs, { error: shutdownError })
          .default(10_000),
        maxHeaderSize: z
          .int({ error: 'must be a whole number of bytes from 1024 to 1048576' })
          .min(1024, { error: 'must be a whole number of bytes from 1024 to 1048576' })
          .max(1_048_576, { error: 'must be a whole number of bytes from 1024 to 1048576' })
          .default(16_384),
        maxBodyBytes: z
          .int({ error: 'must be a whole number of bytes from 1 to 10485760' })
          .min(1, { error: 'must be a whole number of bytes from 1 to 10485760' })
          .max(10_485_760, { error: 'must be a whole number of bytes from 1 to 10485760' })
          .default(65_536),
        tlsCert: nonEmpty('a path to a PEM certificate file').optional(),
        tlsKey: nonEmpty('a path to a PEM private key file').optional(),
      })
      // node:http refuses a headers timeout longer than the whole request's.
      .refine((server) => server.headersTimeout <= server.requestTimeout, {
        path: ['headersTimeout'],
        error: 'must not be longer than server.requestTimeout (the headers are part of the request)',
      })
      .prefault({}),
    admin: z
      .strictObject({
        enabled: z.boolean({ error: 'must be true or false' }).default(true),
        host: nonEmpty('a host name or IP address').default('127.0.0.1'),
        port: port('TCP').default(8081),
        token: z
          .string({ error: 'must be a string' })
          .min(16, { error: 'must be at least 16 characters long (use a random string)' })
          .regex(bearerToken, {
            error: 'must be usable as a Bearer token (RFC 6750): visible ASCII characters only, no spaces',
          })
          .optional(),
      })
      .prefault({}),
    tokens: z
      .strictObject({
        lifespan: z
          .int({ error: 'must be a whole number of seconds from 1 to 86400' })
          .min(1, { error: 'must be a whole number of seconds from 1 to 86400' })
          .max(86_400, { error: 'must be a whole number of seconds from 1 to 86400' })
          .default(3600),
        stateless: z.boolean({ error: 'must be true or false' }).default(false),
        format: z.enum(['jwt', 'opaque'], { error: 'must be "jwt" or "opaque"' }).default('jwt'),
        hmacSecrets: z
          .array(
            z.string().refine((value) => Buffer.byteLength(value) >= 32, { error: 'must be at least 32 bytes' }),
            {
              error: 'must be a list of secrets, newest first',
            },
          )
          .default([]),
      })
      .prefault({}),
    keys: z
      .strictObject({
        algorithm: z
          .enum(signingAlgorithmValues, { error: 'must be one of RS256, PS256, ES256, EdDSA' })
          .default('RS256'),
        encryptionKey: z
          .string({ error: 'must be a string' })
          .regex(/^\s*([0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}={0,2})\s*$/, {
            error: 'must be 32 random bytes as 64 hex digits or 43 base64/base64url characters',
          })
          .optional(),
        previousEncryptionKeys: z.array(z.string(), { error: 'must be a list of key-encryption keys' }).default([]),
        rotationPeriod: z
          .int({ error: 'must be a whole number of seconds (0 turns automatic rotation off)' })
          .min(0, { error: 'must be a whole number of seconds (0 turns automatic rotation off)' })
          .default(30 * 86_400),
        jwksMaxAge: z
          .int({ error: 'must be a whole number of seconds from 0 to 86400' })
          .min(0, { error: 'must be a whole number of seconds from 0 to 86400' })
          .max(86_400, { error: 'must be a whole number of seconds from 0 to 86400' })
          .default(300),
        refreshInterval: z
          .int({ error: 'must be a whole number of seconds from 1 to 3600' })
          .min(1, { error: 'must be a whole number of seconds from 1 to 3600' })
          .max(3600, { error: 'must be a whole number of seconds from 1 to 3600' })
          .default(60),
      })
      .prefault({}),
    secrets: z
      .strictObject({
        // Each step doubles the time of every check of a secret: cost 15 takes seconds, and a
        // higher one would hold the token endpoint for minutes per request.
        bcryptCost: z
          .int({ error: 'must be a whole number from 4 to 15' })
          .min(4, { error: 'must be a whole number from 4 to 15' })
          .max(15, { error: 'must be a whole number from 4 to 15' })
          .default(10),
      })
      .prefault({}),
    protection: z
      .strictObject({
        failuresPerClientAndAddress: count('failed authentications', 1).default(
          defaultBruteForceLimits.failuresPerClientAndAddress,
        ),
        failuresPerAddress: count('failed authentications', 1).default(defaultBruteForceLimits.failuresPerAddress),
        // Counters and blocks in memory expire through timers.
        windowSeconds: timerSeconds('seconds').default(defaultBruteForceLimits.windowSeconds),
        blockSeconds: timerSeconds('seconds').default(defaultBruteForceLimits.blockSeconds),
        unverifiedPerAddress: count('credentials in flight', 1).default(defaultMaxUnverifiedPerAddress),
        redisUrl: z
          .string({ error: 'must be a string' })
          .regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' })
          .refine((value) => URL.canParse(value), {
            error: 'must be a valid redis:// or rediss:// URL, with special characters in the password percent-encoded',
          })
          .optional(),
        redisKeyPrefix: nonEmpty('a key prefix').default('tessera'),
        hashConcurrency: count('concurrent hash checks', 1).default(1),
        hashQueue: count('waiting hash checks', 0).default(16),
        secretCacheSize: count('entries', 1).default(10_000),
        secretCacheTtl: count('seconds', 1).default(600),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` }).default('info'),
      })
      .prefault({}),
  })
  // Each worker process would get its own throwaway store: clients added through the admin API,
  // signing keys and token records would differ from worker to worker.
  .refine((config) => config.server.workers === 1 || config.database.url !== 'memory:', {
    path: ['server', 'workers'],
    error: 'must be 1 with database.url memory: (each worker would have a store of its own); use SQLite or PostgreSQL',
  })
  // Two listeners cannot share a fixed port on one address; 0 asks the system for a free port each.
  .refine((config) => !config.admin.enabled || config.admin.port === 0 || !sharesAddress(config), {
    path: ['admin', 'port'],
    error:
      'must differ from server.port when both listen on the same address (a wildcard such as 0.0.0.0 covers every address)',
  });

/** True when the public and admin listeners would bind one port on a common address. */
function sharesAddress(config: { server: { host: string; port: number }; admin: { host: string; port: number } }) {
  if (config.server.port !== config.admin.port) return false;
  const wildcards = ['0.0.0.0', '::'];
  // `localhost` may resolve to either loopback address; brackets only quote an IPv6 address.
  const loopback = ['localhost', '127.0.0.1', '::1'];
  const plain = (host: string) => host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const server = plain(config.server.host);
  const admin = plain(config.admin.host);
  return (
    server === admin ||
    wildcards.includes(server) ||
    wildcards.includes(admin) ||
    ((server === 'localhost' || admin === 'localhost') && loopback.includes(server) && loopback.includes(admin))
  );
}

/** `url` as the URL parser writes it, without trailing slashes (the issuer drops them). */
function canonicalUrl(url: string): string {
  return stripSlashes(new URL(url).href);
}

function stripSlashes(text: string): string {
  return text.replace(/\/+$/, '');
}

/**
 * Whether the PostgreSQL driver can read `value`: it encodes spaces and stray `%` first, and takes
 * `user@/database?host=/socket/folder` (an empty host) too.
 */
function parsesAsPostgresUrl(value: string): boolean {
  let text = value;
  try {
    if (/ |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(text)) text = encodeURI(text).replace(/%25(\d\d)/g, '%$1');
  } catch {
    return false;
  }
  return URL.canParse(text) || URL.canParse(text.replace('@/', '@host/'));
}

/** The validated configuration. */
export type ServerConfig = z.infer<typeof configSchema>;

/** How a value from the environment or a flag is read before validation. */
type SettingKind = 'string' | 'integer' | 'boolean' | 'boolean-or-integer' | 'list';

/** One setting with every way to give it; README's configuration reference lists these. */
export interface SettingDefinition {
  /** Dotted path in the file and in error messages, e.g. `server.port`. */
  readonly key: string;
  readonly env?: readonly string[];
  /** The long flag without dashes, on commands that accept it. */
  readonly flag?: string;
  readonly kind: SettingKind;
  /** Never echoed in an error message. */
  readonly secret?: boolean;
  readonly description: string;
}

/** Every setting. Order is the order of README's reference. */
export const settings: readonly SettingDefinition[] = [
  {
    key: 'mode',
    env: ['TESSERA_MODE'],
    kind: 'string',
    description:
      '`production` or `development`. Development generates a key-encryption key into the data folder; production refuses to start without one.',
  },
  {
    key: 'issuer',
    env: ['TESSERA_ISSUER'],
    flag: 'issuer',
    kind: 'string',
    description:
      'The issuer URL: `iss` of every token and base of metadata, so written as the URL parser writes it (lower-case host, no default port, no spaces, no user name or password) and published as written. Default `http://localhost:<bound public port>`; set it for production and for several instances.',
  },
  {
    key: 'allowInsecureIssuer',
    env: ['TESSERA_ALLOW_INSECURE_ISSUER'],
    flag: 'allow-insecure-issuer',
    kind: 'boolean',
    description: 'Lets `serve` start with an `http://` issuer on a host other than localhost.',
  },
  {
    key: 'dataDir',
    env: ['TESSERA_DATA_DIR'],
    flag: 'data-dir',
    kind: 'string',
    description: 'Folder for the default SQLite database and the development key-encryption key.',
  },
  {
    key: 'database.url',
    env: ['DATABASE_URL', 'TESSERA_DATABASE_URL'],
    flag: 'database-url',
    kind: 'string',
    secret: true,
    description:
      '`postgres://…` for PostgreSQL (special characters in the password percent-encoded), `sqlite:<path>` for SQLite, `memory:` for a throwaway store. Default `sqlite:<dataDir>/tessera.db`.',
  },
  {
    key: 'database.poolSize',
    env: ['TESSERA_DATABASE_POOL_SIZE'],
    kind: 'integer',
    description: 'PostgreSQL connections per process, 2 to 1000.',
  },
  {
    key: 'database.schema',
    env: ['TESSERA_DATABASE_SCHEMA'],
    kind: 'string',
    description: 'PostgreSQL schema holding the tables; created when missing.',
  },
  {
    key: 'database.janitorInterval',
    env: ['TESSERA_JANITOR_INTERVAL'],
    kind: 'integer',
    description:
      'Seconds between purges of expired token records, deny-list and replay entries (at most 2147483); 0 turns the janitor off.',
  },
  {
    key: 'server.host',
    env: ['TESSERA_HOST'],
    flag: 'host',
    kind: 'string',
    description: 'Address of the public listener.',
  },
  {
    key: 'server.port',
    env: ['TESSERA_PORT'],
    flag: 'port',
    kind: 'integer',
    description: 'Port of the public listener; 0 picks a free one (logged).',
  },
  {
    key: 'server.workers',
    env: ['TESSERA_WORKERS'],
    flag: 'workers',
    kind: 'integer',
    description: 'Worker processes sharing the public port (node:cluster); 1 with a `memory:` database.',
  },
  {
    key: 'server.trustProxy',
    env: ['TESSERA_TRUST_PROXY'],
    flag: 'trust-proxy',
    kind: 'boolean-or-integer',
    description:
      'Take the client address from the header `server.forwardedHeader` names: `true` trusts every hop, a number trusts that many proxies.',
  },
  {
    key: 'server.forwardedHeader',
    env: ['TESSERA_FORWARDED_HEADER'],
    flag: 'forwarded-header',
    kind: 'string',
    description:
      'The header trusted proxies name the client in: `x-forwarded-for`, or `forwarded` for the RFC 7239 `Forwarded` header (its `for` parameters).',
  },
  {
    key: 'server.headersTimeout',
    env: ['TESSERA_HEADERS_TIMEOUT'],
    kind: 'integer',
    description: 'Milliseconds a client has to send all request headers; at most `server.requestTimeout`.',
  },
  {
    key: 'server.requestTimeout',
    env: ['TESSERA_REQUEST_TIMEOUT'],
    kind: 'integer',
    description: 'Milliseconds a client has to send a whole request, at most 2147483647 (the longest timer).',
  },
  {
    key: 'server.keepAliveTimeout',
    env: ['TESSERA_KEEP_ALIVE_TIMEOUT'],
    kind: 'integer',
    description: 'Milliseconds an idle kept-alive connection stays open, at most 2147483647.',
  },
  {
    key: 'server.shutdownTimeout',
    env: ['TESSERA_SHUTDOWN_TIMEOUT'],
    kind: 'integer',
    description: 'Milliseconds in-flight requests get to finish after SIGTERM/SIGINT, at most 2147481647.',
  },
  {
    key: 'server.maxHeaderSize',
    env: ['TESSERA_MAX_HEADER_SIZE'],
    kind: 'integer',
    description: 'Largest accepted request header block, in bytes.',
  },
  {
    key: 'server.maxBodyBytes',
    env: ['TESSERA_MAX_BODY_BYTES'],
    kind: 'integer',
    description: 'Largest accepted request body, in bytes.',
  },
  {
    key: 'server.tlsCert',
    env: ['TESSERA_TLS_CERT'],
    flag: 'tls-cert',
    kind: 'string',
    description: 'PEM certificate (chain) file; with `server.tlsKey` the public listener speaks HTTPS.',
  },
  {
    key: 'server.tlsKey',
    env: ['TESSERA_TLS_KEY'],
    flag: 'tls-key',
    kind: 'string',
    description: 'PEM private key file for `server.tlsCert`.',
  },
  { key: 'admin.enabled', env: ['TESSERA_ADMIN_ENABLED'], kind: 'boolean', description: 'Starts the admin listener.' },
  {
    key: 'admin.host',
    env: ['TESSERA_ADMIN_HOST'],
    flag: 'admin-host',
    kind: 'string',
    description: 'Address of the admin listener.',
  },
  {
    key: 'admin.port',
    env: ['TESSERA_ADMIN_PORT'],
    flag: 'admin-port',
    kind: 'integer',
    description: 'Port of the admin listener; 0 picks a free one (logged).',
  },
  {
    key: 'admin.token',
    env: ['TESSERA_ADMIN_TOKEN'],
    kind: 'string',
    secret: true,
    description:
      'Bearer token for the admin API and `/metrics`: at least 16 characters, visible ASCII only (no spaces), as a Bearer header carries it; the alphabet of RFC 6750 (letters, digits, `-._~+/`, trailing `=`) is the safe choice. Without one those answer 401.',
  },
  {
    key: 'tokens.lifespan',
    env: ['TESSERA_ACCESS_TOKEN_LIFESPAN'],
    kind: 'integer',
    description: 'Access-token lifetime in seconds.',
  },
  {
    key: 'tokens.stateless',
    env: ['TESSERA_STATELESS_ACCESS_TOKENS'],
    kind: 'boolean',
    description: 'Issue JWTs without a token record (revocation then uses a `jti` deny-list).',
  },
  {
    key: 'tokens.format',
    env: ['TESSERA_ACCESS_TOKEN_FORMAT'],
    kind: 'string',
    description: '`jwt` (RFC 9068) or `opaque` (`tsr_at_…`, HMAC-SHA256).',
  },
  {
    key: 'tokens.hmacSecrets',
    env: ['TESSERA_HMAC_SECRETS'],
    kind: 'list',
    secret: true,
    description: 'Secrets for opaque tokens, newest first, each at least 32 bytes; comma-separated in the environment.',
  },
  {
    key: 'keys.algorithm',
    env: ['TESSERA_SIGNING_ALGORITHM'],
    kind: 'string',
    description: 'Algorithm of newly generated signing keys.',
  },
  {
    key: 'keys.encryptionKey',
    env: ['TESSERA_KEY_ENCRYPTION_KEY'],
    kind: 'string',
    secret: true,
    description:
      'Key-encryption key sealing private keys at rest: 32 random bytes, hex or base64url. Prefer the environment to the file.',
  },
  {
    key: 'keys.previousEncryptionKeys',
    env: ['TESSERA_PREVIOUS_KEY_ENCRYPTION_KEYS'],
    kind: 'list',
    secret: true,
    description:
      'Older key-encryption keys, comma-separated in the environment: keys sealed under them still open, and `serve` seals them again under the current one.',
  },
  {
    key: 'keys.rotationPeriod',
    env: ['TESSERA_KEY_ROTATION_PERIOD'],
    kind: 'integer',
    description: 'Seconds a key signs before automatic rotation; 0 turns it off.',
  },
  {
    key: 'keys.jwksMaxAge',
    env: ['TESSERA_JWKS_MAX_AGE'],
    kind: 'integer',
    description: 'Seconds verifiers may cache the JWK Set; a new key is published at least this long before it signs.',
  },
  {
    key: 'keys.refreshInterval',
    env: ['TESSERA_KEY_REFRESH_INTERVAL'],
    kind: 'integer',
    description: 'Longest time, in seconds, an instance trusts its cached keys before reading the store again.',
  },
  {
    key: 'secrets.bcryptCost',
    env: ['TESSERA_BCRYPT_COST'],
    flag: 'bcrypt-cost',
    kind: 'integer',
    description: 'bcrypt cost for newly hashed client secrets, 4 to 15; each step doubles the time of a check.',
  },
  {
    key: 'protection.failuresPerClientAndAddress',
    env: ['TESSERA_FAILURES_PER_CLIENT_AND_ADDRESS'],
    kind: 'integer',
    description: 'Failed client authentications of one client id from one address, within the window, before 429.',
  },
  {
    key: 'protection.failuresPerAddress',
    env: ['TESSERA_FAILURES_PER_ADDRESS'],
    kind: 'integer',
    description: 'Failed client authentications from one address, any client id, within the window, before 429.',
  },
  {
    key: 'protection.windowSeconds',
    env: ['TESSERA_FAILURE_WINDOW'],
    kind: 'integer',
    description: 'Seconds over which failures are counted, at most 2147483.',
  },
  {
    key: 'protection.blockSeconds',
    env: ['TESSERA_FAILURE_BLOCK'],
    kind: 'integer',
    description: 'Seconds a source over a limit is answered 429 (`Retry-After`), at most 2147483.',
  },
  {
    key: 'protection.unverifiedPerAddress',
    env: ['TESSERA_UNVERIFIED_PER_ADDRESS'],
    kind: 'integer',
    description:
      'Distinct credentials not yet verified that one address may have in hash checks at once; more get 429 with `Retry-After: 1`.',
  },
  {
    key: 'protection.redisUrl',
    env: ['TESSERA_REDIS_URL'],
    kind: 'string',
    secret: true,
    description: 'Redis for failure counts shared by every instance (`redis://127.0.0.1:6379`); memory when unset.',
  },
  {
    key: 'protection.redisKeyPrefix',
    env: ['TESSERA_REDIS_KEY_PREFIX'],
    kind: 'string',
    description: 'Prefix of the failure counters in Redis; instances that share limits use the same one.',
  },
  {
    key: 'protection.hashConcurrency',
    env: ['TESSERA_HASH_CONCURRENCY'],
    kind: 'integer',
    description: 'Secret-hash checks running at once.',
  },
  {
    key: 'protection.hashQueue',
    env: ['TESSERA_HASH_QUEUE'],
    kind: 'integer',
    description: 'Secret-hash checks that may wait; beyond that a check is answered 503 `temporarily_unavailable`.',
  },
  {
    key: 'protection.secretCacheSize',
    env: ['TESSERA_SECRET_CACHE_SIZE'],
    kind: 'integer',
    description: 'Verified secrets remembered (as HMACs, never plaintext).',
  },
  {
    key: 'protection.secretCacheTtl',
    env: ['TESSERA_SECRET_CACHE_TTL'],
    kind: 'integer',
    description: 'Seconds a verified secret is trusted without a new hash check.',
  },
  {
    key: 'log.level',
    env: ['TESSERA_LOG_LEVEL'],
    flag: 'log-level',
    kind: 'string',
    description: 'Lowest level logged: fatal, error, warn, info, debug, trace or silent.',
  },
];

/** A configuration that cannot be used; the message names the key, the problem and the expected form. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Where the values come from. */
export interface ConfigSources {
  /** A YAML file; when absent, `TESSERA_CONFIG` names one, else there is none. */
  readonly file?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Values from flags by setting key (`server.port`), as the parser gave them. */
  readonly flags?: Readonly<Record<string, unknown>>;
}

/**
 * Loads and validates the configuration. Precedence: flags > environment > file > defaults.
 *
 * @throws ConfigError for an unreadable file or an invalid value.
 */
export function loadConfig(sources: ConfigSources = {}): ServerConfig {
  const env = sources.env ?? {};
  const merged: Record<string, unknown> = {};
  const origins = new Map<string, string>();

  const file = sources.file ?? env.TESSERA_CONFIG;
  if (file) {
    const fromFile = readConfigFile(file);
    mergeInto(merged, fromFile);
    for (const key of leafKeys(fromFile)) origins.set(key, `in ${file}`);
  }
  for (const setting of settings) {
    for (const name of setting.env ?? []) {
      const raw = env[name];
      if (raw === undefined || raw === '') continue;
      setPath(merged, setting.key, readScalar(raw, setting.kind));
      origins.set(setting.key, `from environment variable ${name}`);
      break;
    }
  }
  for (const [key, value] of Object.entries(sources.flags ?? {})) {
    if (value === undefined) continue;
    const setting = settings.find((candidate) => candidate.key === key);
    setPath(merged, key, typeof value === 'string' && setting ? readScalar(value, setting.kind) : value);
    origins.set(key, `from flag --${setting?.flag ?? key}`);
  }

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(
      ['invalid configuration:', ...result.error.issues.map((issue) => describeIssue(issue, merged, origins))].join(
        '\n  ',
      ),
    );
  }
  return result.data;
}

function readConfigFile(file: string): Record<string, unknown> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(resolve(file));
  } catch (error) {
    throw new ConfigError(
      `cannot read configuration file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  // YAML 1.2 §5.2: UTF-8 (or UTF-16/32, which no one writes by hand). A byte that is not UTF-8
  // would otherwise become U+FFFD inside a value (an issuer, a path) and be used so.
  const text = decodeUtf8(bytes);
  if (text === undefined) throw new ConfigError(`configuration file ${file} is not valid UTF-8`);
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError(`configuration file ${file} is not valid YAML: ${message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`configuration file ${file} must hold a mapping of settings, e.g. "server:\\n  port: 8080"`);
  }
  // A section with nothing but comments under it (`admin:`) reads as null: it sets nothing.
  const sections = new Set(
    settings.filter((setting) => setting.key.includes('.')).map((setting) => setting.key.split('.')[0]),
  );
  return Object.fromEntries(Object.entries(parsed).filter(([name, value]) => !(value === null && sections.has(name))));
}

/** Turns an environment or flag string into the type its setting expects; anything odd is left for the schema to reject. */
function readScalar(raw: string, kind: SettingKind): unknown {
  const value = raw.trim();
  const asBoolean = /^(true|yes|on|1)$/i.test(value) ? true : /^(false|no|off|0)$/i.test(value) ? false : undefined;
  switch (kind) {
    case 'string':
      return raw;
    case 'integer':
      return /^-?\d+$/.test(value) ? Number(value) : raw;
    case 'boolean':
      return asBoolean ?? raw;
    case 'list':
      return raw
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean);
    case 'boolean-or-integer':
      if (/^(true|yes|on|false|no|off)$/i.test(value)) return asBoolean;
      return /^\d+$/.test(value) ? Number(value) : raw;
  }
}

function describeIssue(issue: z.core.$ZodIssue, input: Record<string, unknown>, origins: Map<string, string>): string {
  const key = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const parent = key ? `${key}.` : '';
    const known = settings
      .filter((setting) => setting.key.startsWith(parent) && !setting.key.slice(parent.length).includes('.'))
      .map((setting) => setting.key.slice(parent.length));
    const sections = [...new Set(settings.map((setting) => setting.key.split('.')[0]!))];
    const expected = key ? known : [...new Set([...known, ...sections])];
    return issue.keys
      .map((name) => `${parent}${name}: unknown setting (known here: ${expected.join(', ')})`)
      .join('\n  ');
  }
  const setting = settings.find((candidate) => candidate.key === key);
  const parts = key.split('.');
  const origin = parts
    .map((_part, index) => origins.get(parts.slice(0, parts.length - index).join('.')))
    .find((found) => found !== undefined);
  const value = getPath(input, key);
  const section = settings.some((candidate) => candidate.key.startsWith(key ? `${key}.` : ''));
  if (section && issue.code === 'invalid_type') {
    // A section given as a single value: that value may be a secret meant for a setting inside
    // (`database: postgres://user:password@…`), so only its kind is named.
    const inside = settings
      .filter((candidate) => candidate.key.startsWith(`${key}.`))
      .map((candidate) => candidate.key.slice(key.length + 1));
    return `${key}${origin ? ` ${origin}` : ''}: must be a mapping of settings (${inside.join(', ')}) (got ${kindOf(value)})`;
  }
  // A value is repeated only for a known setting that is not secret: never for a section, nor
  // for an entry of a list, which may belong to a secret setting.
  // A URL with a user name or password in it is never repeated, whichever check it failed.
  const hidden =
    (issue.code === 'custom' && issue.params?.hideValue === true) ||
    (typeof value === 'string' && urlWithUserInfo.test(value));
  const shown =
    value === undefined
      ? ''
      : setting && !setting.secret && !hidden
        ? ` (got ${JSON.stringify(value)?.slice(0, 80)})`
        : ' (value hidden)';
  return `${key || '(root)'}${origin ? ` ${origin}` : ''}: ${issue.message}${shown}`;
}

/** `scheme://…@`: an authority holding userinfo (RFC 3986 §3.2.1), as in `https://user:password@host`. */
const urlWithUserInfo = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*@/;

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}

function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(source)) {
    // Own members only, and defined rather than assigned: a key named __proto__ is a key, to be
    // refused as an unknown setting, not the way to Object.prototype or to a new prototype.
    const existing = Object.hasOwn(target, name) ? target[name] : undefined;
    if (isPlainObject(value) && isPlainObject(existing)) mergeInto(existing, value);
    else setOwnMember(target, name, isPlainObject(value) ? structuredClone(value) : value);
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    // A section the file gave as a single value (`database: postgres://…`) stays as it is, to be
    // refused as not a mapping: replaced by a mapping of this one setting, it would vanish unsaid.
    if (node[part] !== undefined && !isPlainObject(node[part])) return;
    if (!isPlainObject(node[part])) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

function getPath(source: Record<string, unknown>, key: string): unknown {
  let node: unknown = source;
  for (const part of key.split('.')) {
    if (!isPlainObject(node)) return undefined;
    node = node[part];
  }
  return node;
}

function leafKeys(source: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(source).flatMap(([name, value]) =>
    isPlainObject(value) ? leafKeys(value, `${prefix}${name}.`) : [`${prefix}${name}`],
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The issuer the server uses: configured, or `http://localhost:<port>`. */
export function resolveIssuer(config: ServerConfig, boundPort = config.server.port): string {
  return (config.issuer ?? `http://localhost:${boundPort}`).replace(/\/+$/, '');
}

/**
 * Refuses a plain-HTTP issuer on a host other than localhost unless allowed: tokens and secrets
 * would cross the network in the clear (RFC 6749 §3.2 requires TLS at the token endpoint).
 *
 * @throws ConfigError
 */
export function checkIssuerIsSecure(config: ServerConfig): void {
  const issuer = new URL(resolveIssuer(config));
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname) || issuer.hostname.endsWith('.localhost');
  if (issuer.protocol === 'http:' && !local && !config.allowInsecureIssuer) {
    throw new ConfigError(
      `issuer: "${issuer.origin}" uses http:// on a host other than localhost; use an https:// issuer, or set allowInsecureIssuer (--allow-insecure-issuer) when TLS ends at a proxy you trust`,
    );
  }
  if (Boolean(config.server.tlsCert) !== Boolean(config.server.tlsKey)) {
    throw new ConfigError('server.tlsCert and server.tlsKey: give both files, or neither');
  }
}
