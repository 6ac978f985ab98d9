import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkIssuerIsSecure, ConfigError, loadConfig, resolveIssuer, settings } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('has working defaults: production, SQLite under ./data, public 0.0.0.0:8080, admin 127.0.0.1:8081, bcrypt cost 10', () => {
    const config = loadConfig();
    expect(config).toMatchObject({
      mode: 'production',
      dataDir: './data',
      server: { host: '0.0.0.0', port: 8080, workers: 1, trustProxy: false },
      admin: { enabled: true, host: '127.0.0.1', port: 8081 },
      secrets: { bcryptCost: 10 },
      database: { schema: 'public' },
    });
    expect(config.database.url).toBeUndefined();
    expect(resolveIssuer(config)).toBe('http://localhost:8080');
  });

  it('takes flags over environment over file over defaults, key by key', () => {
    const path = file('layers.yaml', 'server:\n  port: 1111\n  host: 10.0.0.1\n  workers: 3\nlog:\n  level: warn\n');
    const config = loadConfig({
      file: path,
      env: { TESSERA_PORT: '2222', TESSERA_HOST: '10.0.0.2' },
      flags: { 'server.port': '3333' },
    });
    expect(config.server.port).toBe(3333);
    expect(config.server.host).toBe('10.0.0.2');
    expect(config.server.workers).toBe(3);
    expect(config.log.level).toBe('warn');
  });

  it.each([
    ['a setting', 'server:\n  port: 1111\n  port: 2222\n'],
    ['a section', 'server:\n  port: 1111\nserver:\n  host: 10.0.0.1\n'],
    ['a key in JSON-style flow', '{"tokens": {"lifespan": 600, "lifespan": 60}}\n'],
  ])('refuses a file naming %s twice, rather than keeping one of the two values', (_title, text) => {
    expect(() => loadConfig({ file: file('twice.yaml', text) })).toThrow(
      /twice\.yaml is not valid YAML: Map keys must be unique/,
    );
  });

  it('reads the file named by TESSERA_CONFIG when no file is given', () => {
    const path = file('named.yaml', 'tokens:\n  lifespan: 600\n');
    expect(loadConfig({ env: { TESSERA_CONFIG: path } }).tokens.lifespan).toBe(600);
  });

  it('prefers DATABASE_URL to TESSERA_DATABASE_URL', () => {
    const config = loadConfig({ env: { DATABASE_URL: 'postgres://a@h/db', TESSERA_DATABASE_URL: 'sqlite:x.db' } });
    expect(config.database.url).toBe('postgres://a@h/db');
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
  ])('reads TESSERA_TRUST_PROXY=%s', (raw, expected) => {
    expect(loadConfig({ env: { TESSERA_TRUST_PROXY: raw } }).server.trustProxy).toBe(expected);
  });

  it('reads the header trusted proxies name the client in: x-forwarded-for by default, forwarded (RFC 7239) when set', () => {
    expect(loadConfig().server.forwardedHeader).toBe('x-forwarded-for');
    expect(loadConfig({ env: { TESSERA_FORWARDED_HEADER: 'forwarded' } }).server.forwardedHeader).toBe('forwarded');
    expect(loadConfig({ flags: { 'server.forwardedHeader': 'forwarded' } }).server.forwardedHeader).toBe('forwarded');
    expect(() => loadConfig({ env: { TESSERA_FORWARDED_HEADER: 'x-real-ip' } })).toThrow(
      'server.forwardedHeader from environment variable TESSERA_FORWARDED_HEADER: must be "x-forwarded-for" or "forwarded" (got "x-real-ip")',
    );
  });

  it('accepts TESSERA_SHUTDOWN_TIMEOUT=0 (no grace on shutdown) and refuses a negative one', () => {
    expect(loadConfig({ env: { TESSERA_SHUTDOWN_TIMEOUT: '0' } }).server.shutdownTimeout).toBe(0);
    expect(() => loadConfig({ env: { TESSERA_SHUTDOWN_TIMEOUT: '-1' } })).toThrow(
      'server.shutdownTimeout from environment variable TESSERA_SHUTDOWN_TIMEOUT: must be a whole number of milliseconds from 0 to 2147481647',
    );
  });

  it('refuses at load what would fail later: a pool of one connection, a headers timeout past the request timeout, a janitor interval past what a timer holds', () => {
    expect(() => loadConfig({ env: { TESSERA_DATABASE_POOL_SIZE: '1' } })).toThrow(
      'database.poolSize from environment variable TESSERA_DATABASE_POOL_SIZE: must be a whole number from 2 to 1000',
    );
    expect(loadConfig({ env: { TESSERA_DATABASE_POOL_SIZE: '2' } }).database.poolSize).toBe(2);
    expect(() => loadConfig({ env: { TESSERA_HEADERS_TIMEOUT: '60000' } })).toThrow(
      /server\.headersTimeout .*must not be longer than server\.requestTimeout/,
    );
    const equal = loadConfig({ env: { TESSERA_HEADERS_TIMEOUT: '60000', TESSERA_REQUEST_TIMEOUT: '60000' } });
    expect(equal.server.headersTimeout).toBe(60_000);
    expect(() => loadConfig({ env: { TESSERA_JANITOR_INTERVAL: '2147484' } })).toThrow(
      'database.janitorInterval from environment variable TESSERA_JANITOR_INTERVAL: must be a whole number of seconds from 0 (off) to 2147483',
    );
    expect(loadConfig({ env: { TESSERA_JANITOR_INTERVAL: '2147483' } }).database.janitorInterval).toBe(2_147_483);
  });

  it('refuses several workers over a memory: store, which each worker would have to itself', () => {
    expect(() => loadConfig({ env: { TESSERA_DATABASE_URL: 'memory:', TESSERA_WORKERS: '2' } })).toThrow(
      /server\.workers .*must be 1 with database\.url memory:/,
    );
    expect(loadConfig({ env: { TESSERA_DATABASE_URL: 'memory:', TESSERA_WORKERS: '1' } }).server.workers).toBe(1);
    expect(loadConfig({ env: { TESSERA_WORKERS: '2' } }).server.workers).toBe(2);
  });

  it.each([
    ['the default hosts (0.0.0.0 covers 127.0.0.1)', {}],
    ['one host', { 'server.host': '127.0.0.1' }],
    ['an IPv6 wildcard', { 'server.host': '::', 'admin.host': '::1' }],
    ['localhost and 127.0.0.1, one loopback', { 'server.host': 'localhost', 'admin.host': '127.0.0.1' }],
    ['[::1] and localhost', { 'server.host': '[::1]', 'admin.host': 'localhost' }],
    ['::1 written with and without brackets', { 'server.host': '::1', 'admin.host': '[::1]' }],
  ])('refuses an admin port equal to the public port on %s, which could never both be bound', (_title, hosts) => {
    const flags = { 'server.port': '9000', 'admin.port': '9000', ...hosts };
    expect(() => loadConfig({ flags })).toThrow(ConfigError);
    expect(() => loadConfig({ flags })).toThrow(/admin\.port from flag --admin-port: must differ from server\.port/);
  });

  it.each([
    ['both ephemeral (0)', { 'server.port': '0', 'admin.port': '0' }],
    [
      'two specific addresses',
      { 'server.host': '127.0.0.1', 'admin.host': '127.0.0.2', 'server.port': '9000', 'admin.port': '9000' },
    ],
    ['the admin API turned off', { 'admin.enabled': 'false', 'server.port': '9000', 'admin.port': '9000' }],
    [
      'the two loopback addresses, neither written as localhost',
      { 'server.host': '127.0.0.1', 'admin.host': '::1', 'server.port': '9000', 'admin.port': '9000' },
    ],
  ])('accepts the same port with %s', (_title, flags) => {
    expect(loadConfig({ flags }).admin.port).toBe(Number(flags['admin.port']));
  });

  it('splits TESSERA_HMAC_SECRETS on commas, newest first', () => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(32);
    expect(loadConfig({ env: { TESSERA_HMAC_SECRETS: `${a}, ${b}` } }).tokens.hmacSecrets).toEqual([a, b]);
  });

  it.each([
    [
      'a port out of range',
      { env: { TESSERA_ADMIN_PORT: '70000' } },
      'admin.port from environment variable TESSERA_ADMIN_PORT: must be a whole-number TCP port from 0 to 65535 (got 70000)',
    ],
    [
      'a word for a number',
      { flags: { 'server.workers': 'many' } },
      'server.workers from flag --workers: must be a whole number from 1 to 256 (got "many")',
    ],
    [
      'an unknown mode',
      { env: { TESSERA_MODE: 'staging' } },
      'mode from environment variable TESSERA_MODE: must be "production" or "development"',
    ],
    [
      'a database URL of another kind',
      { env: { DATABASE_URL: 'mysql://x' } },
      'database.url from environment variable DATABASE_URL: must be postgres://',
    ],
    [
      'a PostgreSQL URL the driver cannot read',
      { flags: { 'database.url': 'postgres://tessera:pw@[bad/tessera' } },
      'database.url from flag --database-url: must be a valid URL: postgres://user:password@host:port/database',
    ],
    [
      'a Redis URL that cannot be read',
      { env: { TESSERA_REDIS_URL: 'redis://:pw@cache.example:99999' } },
      'protection.redisUrl from environment variable TESSERA_REDIS_URL: must be a valid redis:// or rediss:// URL',
    ],
    [
      'a bcrypt cost that would take minutes per check',
      { flags: { 'secrets.bcryptCost': '16' } },
      'secrets.bcryptCost from flag --bcrypt-cost: must be a whole number from 4 to 15 (got 16)',
    ],
    [
      'an issuer with a query',
      { flags: { issuer: 'https://a.example/?x=1' } },
      'issuer from flag --issuer: must have no query or fragment',
    ],
    [
      'a short admin token',
      { env: { TESSERA_ADMIN_TOKEN: 'short' } },
      'admin.token from environment variable TESSERA_ADMIN_TOKEN: must be at least 16 characters',
    ],
  ])('names key, source, problem and expected form for %s', (_title, sources, message) => {
    expect(() => loadConfig(sources)).toThrow(ConfigError);
    expect(() => loadConfig(sources)).toThrow(message);
  });

  it.each([
    'postgres://tessera@/tessera?host=/var/run/postgresql',
    'postgresql://%2Fvar%2Frun%2Fpostgresql/tessera',
    'postgres://tessera:p w@db.example/tessera',
    'postgres://tessera:pw@[::1]:5432/tessera?sslmode=require',
  ])('accepts a PostgreSQL URL the driver reads: %s', (url) => {
    expect(loadConfig({ env: { DATABASE_URL: url } }).database.url).toBe(url);
  });

  it('RFC 3986 §3.2.1: refuses an issuer with a user name or password, without showing it, since every token would publish it', () => {
    let message = '';
    try {
      loadConfig({ env: { TESSERA_ISSUER: 'https://ops:issuer-password-1@auth.example.com' } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(
      'issuer from environment variable TESSERA_ISSUER: must have no user name or password (RFC 3986 §3.2.1)',
    );
    expect(message).toContain('(value hidden)');
    expect(message).not.toContain('issuer-password-1');
  });

  it.each([
    ['a space in the path', 'https://auth.example.com/a b', 'https://auth.example.com/a%20b'],
    ['a dot segment', 'https://auth.example.com/tenant/..', 'https://auth.example.com'],
    ['a backslash', 'https://auth.example.com\\tenant', 'https://auth.example.com/tenant'],
    ['an upper-case host', 'https://AUTH.example.com', 'https://auth.example.com'],
    ['the default port', 'https://auth.example.com:443/tenant', 'https://auth.example.com/tenant'],
    ['a full-width letter in the host', 'https://\uff41uth.example.com', 'https://auth.example.com'],
  ])(
    'RFC 8414 §3.3: refuses an issuer with %s, which tokens and the metadata would carry as written, naming the URL form',
    (_title, issuer, written) => {
      expect(() => loadConfig({ flags: { issuer } })).toThrow(
        `issuer from flag --issuer: must be written as the URL parser writes it, "${written}"`,
      );
    },
  );

  it.each([
    'https://auth.example.com',
    'https://auth.example.com/',
    'https://auth.example.com/tenant/',
    'http://[::1]:8080',
  ])('accepts the issuer %s, written as the URL parser writes it (trailing slashes aside)', (issuer) => {
    expect(loadConfig({ flags: { issuer } }).issuer).toBe(issuer);
  });

  it('never shows the value of a secret setting', () => {
    let message = '';
    try {
      loadConfig({ env: { TESSERA_ADMIN_TOKEN: 'tiny-secret' } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('(value hidden)');
    expect(message).not.toContain('tiny-secret');
  });

  it('never shows a value given where a section belongs, since it may be a secret meant for a setting inside', () => {
    const path = file(
      'scalar-sections.yaml',
      'database: postgres://tessera:db-password-1@db.example/tessera\nadmin: admin-token-value-12345\nkeys: 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n',
    );
    let message = '';
    try {
      loadConfig({ file: path });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(
      `database in ${path}: must be a mapping of settings (url, poolSize, schema, janitorInterval) (got a string)`,
    );
    expect(message).toMatch(/admin in .*: must be a mapping of settings/);
    expect(message).toMatch(/keys in .*: must be a mapping of settings/);
    for (const secret of ['db-password-1', 'admin-token-value', '00112233']) expect(message).not.toContain(secret);
  });

  it.each([
    ['TESSERA_DATABASE_SCHEMA', 'audit_x', 'database in', 'must be a mapping of settings'],
    ['TESSERA_FAILURES_PER_ADDRESS', '7', 'protection in', 'must be a mapping of settings'],
  ])(
    'still refuses a section the file gives as a single value when %s sets a setting inside it, rather than dropping the file value',
    (name, envValue, where, problem) => {
      const path = file(
        `scalar-section-${name}.yaml`,
        'database: postgres://tessera:db-password-2@db.example/tessera\nprotection: redis://:redis-password-2@cache.example:6379\n',
      );
      let message = '';
      try {
        loadConfig({ file: path, env: { [name]: envValue } });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain(`${where} ${path}: ${problem}`);
      for (const secret of ['db-password-2', 'redis-password-2']) expect(message).not.toContain(secret);
    },
  );

  it('RFC 3986 §3.2.1: never shows an issuer with a password, also when it fails another check too (a scheme not http)', () => {
    let message = '';
    try {
      loadConfig({ env: { TESSERA_ISSUER: 'ftp://user:issuer-password-3@host.example' } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('issuer from environment variable TESSERA_ISSUER: must be an absolute http(s) URL');
    expect(message).not.toContain('issuer-password-3');
  });

  it('names where a bad entry of a list setting came from, without showing the entry', () => {
    let message = '';
    try {
      loadConfig({ file: file('short-hmac.yaml', 'tokens:\n  hmacSecrets: [too-short-hmac-secret]\n') });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/tokens\.hmacSecrets\.0 in .*short-hmac\.yaml: must be at least 32 bytes/);
    expect(message).not.toContain('too-short-hmac-secret');
  });

  it.each(['correct horse battery staple', 'admin-token-with-ä-umlaut', 'admin-token-with\ttab-in-it'])(
    'refuses an admin token no Bearer header can carry (%s), without showing it',
    (token) => {
      let message = '';
      try {
        loadConfig({ env: { TESSERA_ADMIN_TOKEN: token } });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain(
        'admin.token from environment variable TESSERA_ADMIN_TOKEN: must be usable as a Bearer token (RFC 6750)',
      );
      expect(message).not.toContain(token);
    },
  );

  it('accepts admin tokens in the forms README suggests (base64, base64url, hex), and any other visible ASCII the admin API reads', () => {
    for (const token of [
      'token=with=inner=equals',
      'older-token-with-!#$%&*',
      'q2Jx8V+3/0aZ1bC4dE5fG6hI7jK8lM9nO0pQ1rS2tU4=',
      'dGVzc2VyYS1hZG1pbi10b2tlbg_-',
      'a'.repeat(64),
    ]) {
      expect(loadConfig({ env: { TESSERA_ADMIN_TOKEN: token } }).admin.token).toBe(token);
    }
  });

  it.each([
    ['TESSERA_HEADERS_TIMEOUT', 'server.headersTimeout', '2147483648', 'from 1 to 2147483647'],
    ['TESSERA_REQUEST_TIMEOUT', 'server.requestTimeout', '2147483648', 'from 1 to 2147483647'],
    ['TESSERA_KEEP_ALIVE_TIMEOUT', 'server.keepAliveTimeout', '2147483648', 'from 1 to 2147483647'],
    ['TESSERA_SHUTDOWN_TIMEOUT', 'server.shutdownTimeout', '2147481648', 'from 0 to 2147481647'],
    ['TESSERA_FAILURE_WINDOW', 'protection.windowSeconds', '2147484', 'from 1 to 2147483'],
    ['TESSERA_FAILURE_BLOCK', 'protection.blockSeconds', '2147484', 'from 1 to 2147483'],
  ])('refuses %s past what a timer holds, naming the limit', (name, key, value, limit) => {
    expect(() => loadConfig({ env: { [name]: value } })).toThrow(`${key} from environment variable ${name}: must be`);
    expect(() => loadConfig({ env: { [name]: value } })).toThrow(limit);
  });

  it('accepts timer settings at their limits', () => {
    const config = loadConfig({
      env: {
        TESSERA_REQUEST_TIMEOUT: '2147483647',
        TESSERA_HEADERS_TIMEOUT: '2147483647',
        TESSERA_KEEP_ALIVE_TIMEOUT: '2147483647',
        TESSERA_SHUTDOWN_TIMEOUT: '2147481647',
        TESSERA_FAILURE_WINDOW: '2147483',
        TESSERA_FAILURE_BLOCK: '2147483',
      },
    });
    expect(config.server).toMatchObject({ requestTimeout: 2_147_483_647, shutdownTimeout: 2_147_481_647 });
    expect(config.protection).toMatchObject({ windowSeconds: 2_147_483, blockSeconds: 2_147_483 });
  });

  it('names unknown keys in the file, at the top and in sections', () => {
    const path = file('unknown.yaml', 'colour: blue\nadmin:\n  tokn: x\n');
    expect(() => loadConfig({ file: path })).toThrow(/colour: unknown setting/);
    expect(() => loadConfig({ file: path })).toThrow(
      /admin\.tokn: unknown setting \(known here: enabled, host, port, token\)/,
    );
  });

  it.each([
    ['at the top', '__proto__:\n  server:\n    port: 9000\n', /^ {2}__proto__: unknown setting/m],
    ['in a section', 'server:\n  __proto__:\n    port: 9000\n', /^ {2}server\.__proto__: unknown setting/m],
  ])(
    'names a key __proto__ %s as an unknown setting, and no object of the process gains its members',
    (_, yaml, named) => {
      const path = file('proto.yaml', yaml);
      let message = '';
      try {
        loadConfig({ file: path });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(named);
      // Only the one key is named: no other section reads a member through a polluted prototype.
      expect(message.match(/unknown setting/g)).toHaveLength(1);
      expect(({} as Record<string, unknown>).server).toBeUndefined();
      expect(({} as Record<string, unknown>).port).toBeUndefined();
    },
  );

  it('takes a section with only comments under it as setting nothing', () => {
    const path = file('empty-section.yaml', 'admin:\n  # token: from the environment\nserver:\n  port: 9000\n');
    const config = loadConfig({ file: path });
    expect(config.admin).toMatchObject({ enabled: true, port: 8081 });
    expect(config.server.port).toBe(9000);
    expect(() => loadConfig({ file: file('null-leaf.yaml', 'server:\n  port:\n') })).toThrow(
      /server\.port in .*null-leaf\.yaml: must be a whole-number TCP port/,
    );
  });

  it('refuses a file that is a list rather than a mapping', () => {
    expect(() => loadConfig({ file: file('list.yaml', '- a\n- b\n') })).toThrow('must hold a mapping of settings');
  });

  it('gives every setting an environment variable or a flag, and a description', () => {
    for (const setting of settings) {
      expect(setting.env?.length ?? (setting.flag ? 1 : 0), setting.key).toBeGreaterThan(0);
      expect(setting.description.length, setting.key).toBeGreaterThan(10);
    }
  });
});

describe('checkIssuerIsSecure', () => {
  it.each(['http://localhost:8080', 'http://127.0.0.1:9000', 'https://auth.example.com', 'http://[::1]:8080'])(
    'accepts %s',
    (issuer) => {
      expect(() => checkIssuerIsSecure(loadConfig({ flags: { issuer } }))).not.toThrow();
    },
  );

  it('refuses http:// elsewhere unless allowInsecureIssuer is set', () => {
    expect(() => checkIssuerIsSecure(loadConfig({ flags: { issuer: 'http://auth.example.com' } }))).toThrow(
      ConfigError,
    );
    expect(() =>
      checkIssuerIsSecure(loadConfig({ flags: { issuer: 'http://auth.example.com', allowInsecureIssuer: true } })),
    ).not.toThrow();
  });
});

describe('README', () => {
  it("lists every setting, its environment variables and its flag in the operations section's reference", () => {
    const defaults = loadConfig();
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(
      readme.indexOf('<!-- section:operations -->'),
      readme.indexOf('<!-- /section:operations -->'),
    );
    for (const setting of settings) {
      const row = section.split('\n').find((line) => line.startsWith(`| \`${setting.key}\` |`));
      expect(row, setting.key).toBeDefined();
      for (const name of setting.env ?? []) expect(row, setting.key).toContain(`\`${name}\``);
      if (setting.flag) expect(row, setting.key).toContain(`\`--${setting.flag}\``);
      const fallback = setting.key
        .split('.')
        .reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], defaults);
      if (fallback !== undefined && !Array.isArray(fallback)) {
        expect(row!.split('|')[4], setting.key).toContain(`\`${String(fallback)}\``);
      }
    }
  });
});
