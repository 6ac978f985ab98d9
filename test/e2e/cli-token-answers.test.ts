// `tessera token`, `introspect` and `revoke` against a server that answers oddly: bodies that are not
// the JSON objects the RFCs require end with a clear message and the documented exit code.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeSelfSignedCertificate } from './support/self-signed-certificate.js';
import { createWorkspace, parseJson, runTessera, type Workspace } from './support/tessera-process.js';

let workspace: Workspace;
let fake: Server;
let issuer: string;
/** What the fake server answers, by path; anything else is a 404. */
let answers: Record<
  string,
  { status: number; type?: string; body: string; headers?: Record<string, string> } | 'never'
> = {};
/** The requests the fake server received, as "METHOD /path". */
let received: string[] = [];

beforeAll(async () => {
  workspace = createWorkspace();
  fake = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    received.push(`${request.method ?? ''} ${path}`);
    const answer = answers[path];
    request.resume();
    if (!answer) {
      response.writeHead(404).end();
      return;
    }
    if (answer === 'never') return;
    response
      .writeHead(answer.status, { 'content-type': answer.type ?? 'application/json', ...answer.headers })
      .end(answer.body);
  });
  fake.listen(0, '127.0.0.1');
  await new Promise((resolve) => fake.once('listening', resolve));
  issuer = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
});
beforeEach(() => {
  answers = {};
  received = [];
});
afterAll(() => {
  fake.closeAllConnections();
  fake.close();
  workspace.remove();
});

const client = () => ['--issuer', issuer, '--client-id', 'odd', '--client-secret', 'odd-client-secret'];
const run = (args: readonly string[]) => runTessera(workspace, args);
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('tessera token against odd answers', () => {
  it('falls back to the default endpoints when the metadata is JSON null', async () => {
    answers = {
      '/.well-known/oauth-authorization-server': { status: 200, body: 'null' },
      '/oauth2/token': { status: 200, body: '{"access_token":"opaque-token","token_type":"Bearer"}' },
    };
    const result = await run(['token', ...client()]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^access_token\s+opaque-token$/m);
  });

  it.each([
    ['JSON null', 'null'],
    ['a JSON list', '[1]'],
    ['HTML', '<html>maintenance</html>'],
  ])('an error answer whose body is %s exits 5 with the status', async (_title, body) => {
    answers = { '/oauth2/token': { status: 503, body } };
    const result = await run(['token', ...client(), '--json']);
    expect(result.code).toBe(5);
    expect(result.stderr).toBe('tessera: the server answered 503 http_503\n');
    expect(parseJson(result)).toMatchObject({ error: 'http_503' });
  });

  it.each([
    ['JSON null', 'null'],
    ['a JSON list', '[1]'],
    ['HTML', '<html>hello</html>'],
    ['an object without an access_token', '{"token_type":"Bearer"}'],
  ])('a 200 answer that is %s exits 1 naming what is missing', async (_title, body) => {
    answers = { '/oauth2/token': { status: 200, body } };
    const result = await run(['token', ...client()]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `tessera: the server at ${issuer}/oauth2/token answered 200 without a JSON object holding an access_token (RFC 6749 §5.1)\n`,
    );
  });

  it.each([
    ['a header that is JSON null', `${base64url(null)}.${base64url({ sub: 'a' })}.sig`],
    ['claims that are JSON null', `${base64url({ alg: 'none' })}.${base64url(null)}.sig`],
    ['claims that are a list', `${base64url({ alg: 'none' })}.${base64url([1])}.sig`],
  ])('a three-part access token with %s is shown as it is, not decoded', async (_title, token) => {
    answers = { '/oauth2/token': { status: 200, body: JSON.stringify({ access_token: token, token_type: 'Bearer' }) } };
    const result = await run(['token', ...client()]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`access_token  ${token}\ntoken_type    Bearer\n`);
    const json = await run(['token', ...client(), '--json']);
    expect(json.code).toBe(0);
    expect(parseJson(json)).toStrictEqual({ access_token: token, token_type: 'Bearer' });
  });
});

describe('answers that would send the credentials elsewhere, or are too large', () => {
  it.each(['client_secret_basic', 'client_secret_post'])(
    'RFC 9110 §15.4: a redirect from the token endpoint is not followed (exit 1), so the secret (%s) goes nowhere else',
    async (method) => {
      answers = {
        '/oauth2/token': { status: 307, body: '', headers: { location: `${issuer}/elsewhere/token` } },
        '/elsewhere/token': { status: 200, body: '{"access_token":"stolen","token_type":"Bearer"}' },
      };
      const result = await run(['token', ...client(), '--auth-method', method]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `tessera: ${issuer}/oauth2/token answered 307 with a redirect, which is not followed: credentials go only where they were meant to\n`,
      );
      expect(received).not.toContain('POST /elsewhere/token');
    },
  );

  it('a redirect from the metadata is not followed either (exit 1)', async () => {
    answers = {
      '/.well-known/oauth-authorization-server': { status: 302, body: '', headers: { location: `${issuer}/moved` } },
    };
    const result = await run(['token', ...client()]);
    expect(result.code).toBe(1);
    expect(received).toEqual(['GET /.well-known/oauth-authorization-server']);
  });

  it.each([
    ['a scheme other than http(s)', 'file:///etc/passwd', 'that is not an http(s) URL'],
    [
      'a user name and password',
      'http://user:endpoint-password@127.0.0.1:9/token',
      'with a user name or password in it',
    ],
    ['no URL at all', 'token', 'that is not an http(s) URL'],
  ])(
    'metadata naming a token_endpoint with %s is refused (exit 1), sending nothing and showing no password',
    async (_title, endpoint, problem) => {
      answers = {
        '/.well-known/oauth-authorization-server': {
          status: 200,
          body: JSON.stringify({ issuer, token_endpoint: endpoint }),
        },
      };
      const result = await run(['token', ...client()]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `tessera: the metadata at ${issuer}/.well-known/oauth-authorization-server names a token_endpoint ${problem}; nothing was sent to it\n`,
      );
      expect(result.stderr).not.toContain('endpoint-password');
      expect(received).toEqual(['GET /.well-known/oauth-authorization-server']);
    },
  );

  it('RFC 6749 §3.2: metadata of an https:// issuer naming a plain http:// token_endpoint is refused (exit 1), the secret never sent', async () => {
    const { certFile, keyFile } = writeSelfSignedCertificate(workspace.dir);
    let secureIssuer = '';
    const secure = createHttpsServer(
      { cert: readFileSync(certFile), key: readFileSync(keyFile) },
      (request, response) => {
        request.resume();
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ issuer: secureIssuer, token_endpoint: `${issuer}/oauth2/token` }));
      },
    );
    secure.listen(0, '127.0.0.1');
    await once(secure, 'listening');
    secureIssuer = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
    try {
      const result = await runTessera(
        workspace,
        ['token', '--issuer', secureIssuer, '--client-id', 'odd', '--client-secret', 'odd-client-secret'],
        { env: { NODE_EXTRA_CA_CERTS: certFile } },
      );
      expect(result.stderr).toBe(
        `tessera: the metadata at ${secureIssuer}/.well-known/oauth-authorization-server names a token_endpoint on plain http:// for an https:// issuer; nothing was sent to it\n`,
      );
      expect(result.code).toBe(1);
      expect(received).toEqual([]);
    } finally {
      secure.closeAllConnections();
      secure.close();
    }
  });

  it('an answer over 1 MiB is refused (exit 1) without being read to its end', async () => {
    answers = {
      '/oauth2/token': {
        status: 200,
        body: JSON.stringify({ access_token: 'x'.repeat(2 * 1024 * 1024), token_type: 'Bearer' }),
      },
    };
    const result = await run(['token', ...client(), '--json']);
    expect(result.code).toBe(1);
    expect(parseJson(result)).toMatchObject({ error: 'invalid_response' });
    expect(result.stderr).toContain(`the answer from ${issuer}/oauth2/token is larger than 1048576 bytes`);
  });
});

describe('metadata for another issuer (RFC 8414 §3.3)', () => {
  const secret = 'odd-client-secret';
  const metadata = (named: unknown, path = '') =>
    JSON.stringify({ issuer: named, token_endpoint: `${issuer}${path}/oauth2/token` });
  const token = { status: 200, body: '{"access_token":"opaque-token","token_type":"Bearer"}' };

  it('RFC 8414 §3.3: token refuses metadata naming another issuer (exit 1), sends no token request and shows no secret', async () => {
    answers = {
      '/.well-known/oauth-authorization-server': { status: 200, body: metadata('https://impostor.example') },
      '/oauth2/token': token,
    };
    const result = await run(['token', ...client()]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `tessera: the metadata at ${issuer}/.well-known/oauth-authorization-server names the issuer "https://impostor.example", not "${issuer}" (RFC 8414 §3.3); it is not used\n`,
    );
    expect(received).toEqual(['GET /.well-known/oauth-authorization-server']);
    const json = await run(['token', ...client(), '--json']);
    expect(json.code).toBe(1);
    expect(parseJson(json)).toMatchObject({ error: 'issuer_mismatch' });
    for (const output of [result.stdout, result.stderr, json.stdout, json.stderr]) expect(output).not.toContain(secret);
  });

  it.each([
    ['no issuer', JSON.stringify({ token_endpoint: 'http://127.0.0.1:1/oauth2/token' }), 'no issuer'],
    ['an issuer that is not a string', JSON.stringify({ issuer: 42 }), 'no issuer'],
    ['the issuer with a terminating "/"', '<issuer>/', 'the issuer "<issuer>/"'],
    ['the issuer in upper case', '<ISSUER>', 'the issuer "<ISSUER>"'],
  ])('RFC 8414 §3.3: token refuses metadata naming %s (exit 1)', async (_title, body, named) => {
    const fill = (text: string) => text.replace('<issuer>', issuer).replace('<ISSUER>', issuer.toUpperCase());
    const served = body.startsWith('{') ? body : metadata(fill(body));
    answers = { '/.well-known/oauth-authorization-server': { status: 200, body: served }, '/oauth2/token': token };
    const result = await run(['token', ...client()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`names ${fill(named)}, not "${issuer}" (RFC 8414 §3.3)`);
    expect(received).toEqual(['GET /.well-known/oauth-authorization-server']);
  });

  it('RFC 8414 §3.3: introspect and revoke refuse it the same way, before sending the token', async () => {
    answers = {
      '/.well-known/oauth-authorization-server': { status: 200, body: metadata('https://impostor.example') },
      '/oauth2/introspect': { status: 200, body: '{"active":true}' },
      '/oauth2/revoke': { status: 200, body: '' },
    };
    for (const command of ['introspect', 'revoke']) {
      received = [];
      const result = await run([command, ...client(), 'some-token']);
      expect(result.code, command).toBe(1);
      expect(result.stderr, command).toContain('names the issuer "https://impostor.example"');
      expect(received, command).toEqual(['GET /.well-known/oauth-authorization-server']);
    }
  });

  it('uses metadata naming the issuer given, its terminating "/" aside', async () => {
    answers = {
      '/.well-known/oauth-authorization-server': { status: 200, body: metadata(issuer) },
      '/oauth2/token': token,
    };
    for (const given of [issuer, `${issuer}/`]) {
      received = [];
      const result = await run(['token', '--issuer', given, '--client-id', 'odd', '--client-secret', secret]);
      expect(result.code, given).toBe(0);
      expect(received, given).toEqual(['GET /.well-known/oauth-authorization-server', 'POST /oauth2/token']);
    }
  });

  it('RFC 8414 §3.1: for an issuer with a path, reads the metadata after the well-known path and checks its issuer', async () => {
    answers = {
      '/.well-known/oauth-authorization-server/tenant/a': {
        status: 200,
        body: metadata(`${issuer}/tenant/a`, '/tenant/a'),
      },
      '/tenant/a/oauth2/token': token,
    };
    for (const given of [`${issuer}/tenant/a`, `${issuer}/tenant/a/`]) {
      received = [];
      const result = await run(['token', '--issuer', given, '--client-id', 'odd', '--client-secret', secret]);
      expect(result.code, given).toBe(0);
      expect(received, given).toEqual([
        'GET /.well-known/oauth-authorization-server/tenant/a',
        'POST /tenant/a/oauth2/token',
      ]);
    }
    // The same document asked for as another tenant's names another issuer.
    answers = {
      '/.well-known/oauth-authorization-server/tenant/b': {
        status: 200,
        body: metadata(`${issuer}/tenant/a`, '/tenant/a'),
      },
    };
    const other = await run([
      'token',
      '--issuer',
      `${issuer}/tenant/b`,
      '--client-id',
      'odd',
      '--client-secret',
      secret,
    ]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`names the issuer "${issuer}/tenant/a", not "${issuer}/tenant/b"`);
  });
});

describe('tessera introspect and revoke against odd answers', () => {
  it.each([
    ['JSON null', 'null'],
    ['a JSON list', '[1]'],
    ['an object without active', '{"scope":"read"}'],
  ])('introspect exits 1 on a 200 answer that is %s', async (_title, body) => {
    answers = { '/oauth2/introspect': { status: 200, body } };
    const result = await run(['introspect', ...client(), 'some-token']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `tessera: the server at ${issuer}/oauth2/introspect answered 200 without a JSON object holding a boolean "active" (RFC 7662 §2.2)\n`,
    );
  });

  it('introspect and revoke exit 5 on an error answer whose body is JSON null', async () => {
    answers = { '/oauth2/introspect': { status: 401, body: 'null' }, '/oauth2/revoke': { status: 401, body: 'null' } };
    for (const command of ['introspect', 'revoke']) {
      const result = await run([command, ...client(), 'some-token']);
      expect(result.code, command).toBe(5);
      expect(result.stderr, command).toBe('tessera: the server answered 401 http_401\n');
    }
  });

  it('revoke takes any 200 answer as done: RFC 7009 §2.2 says its body is ignored', async () => {
    answers = { '/oauth2/revoke': { status: 200, type: 'text/html', body: '<p>ok</p>' } };
    const result = await run(['revoke', ...client(), 'some-token', '--json']);
    expect(result.code).toBe(0);
    expect(parseJson(result)).toStrictEqual({ revoked: true });
  });
});

describe('client-side usage errors (exit 2, before any request)', () => {
  it.each([
    ['a --token-endpoint that is no URL', ['--token-endpoint', 'notaurl'], '--token-endpoint: not an http(s) URL'],
    [
      'a --token-endpoint of another scheme',
      ['--token-endpoint', 'ftp://files.example/token'],
      '--token-endpoint: not an http(s) URL',
    ],
    [
      'an --issuer with a query (RFC 8414 §2)',
      ['--issuer', 'http://127.0.0.1:1/?tenant=a'],
      '--issuer: must have no query or fragment (RFC 8414 §2)',
    ],
    [
      'an --issuer with an empty fragment (RFC 8414 §2)',
      ['--issuer', 'http://127.0.0.1:1/#'],
      '--issuer: must have no query or fragment (RFC 8414 §2)',
    ],
    [
      'an --issuer with a user name and password, not repeated (RFC 3986 §3.2.1)',
      ['--issuer', 'http://ops:issuer-password-1@127.0.0.1:1'],
      '--issuer: must have no user name or password (RFC 3986 §3.2.1)',
    ],
    [
      'a --token-endpoint with a user name and password, not repeated (RFC 3986 §3.2.1)',
      ['--token-endpoint', 'http://ops:endpoint-password-1@127.0.0.1:1/token'],
      '--token-endpoint: must have no user name or password (RFC 3986 §3.2.1)',
    ],
    [
      'a --token-endpoint that does not parse, its password not repeated (RFC 3986 §3.2.1)',
      ['--token-endpoint', 'http://ops:endpoint-password-2@[127.0.0.1:1/token'],
      '--token-endpoint: not an http(s) URL',
    ],
    [
      'an --issuer that does not parse, its password not repeated (RFC 3986 §3.2.1)',
      ['--issuer', 'https://ops:issuer%password@[auth.example'],
      '--issuer: not an http(s) URL',
    ],
    [
      '--key-id without --private-key',
      ['--key-id', 'k1'],
      '--key-id names the key of --private-key; give both, or neither',
    ],
  ])('token with %s', async (_title, flags, message) => {
    const result = await run(['token', ...client(), ...flags, '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`tessera: ${message}\n`);
    expect(parseJson(result)).toMatchObject({ error: 'usage', error_description: message });
  });

  it.each(['introspect', 'revoke'])('%s refuses to read both the token and the secret from stdin', async (command) => {
    const result = await runTessera(
      workspace,
      [command, '--issuer', issuer, '--client-id', 'odd', '--client-secret-stdin', '-'],
      { input: 'odd-client-secret\nsome-token\n' },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'tessera: the token ("-") and --client-secret-stdin cannot both come from stdin; give the secret in TESSERA_CLIENT_SECRET\n',
    );
  });
});

describe('a server that does not answer', () => {
  it('token gives up after --timeout seconds with exit 1', async () => {
    answers = { '/.well-known/oauth-authorization-server': 'never' };
    const result = await run(['token', ...client(), '--timeout', '1', '--json']);
    expect(result.code).toBe(1);
    const message = `no answer from ${issuer}/.well-known/oauth-authorization-server within 1 s (--timeout)`;
    expect(result.stderr).toBe(`tessera: ${message}\n`);
    expect(parseJson(result)).toStrictEqual({ error: 'timeout', error_description: message });
  });

  it('introspect gives up the same way when the endpoint does not answer', async () => {
    answers = { '/oauth2/introspect': 'never' };
    const result = await run(['introspect', ...client(), '--timeout', '0.5', 'some-token']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`tessera: no answer from ${issuer}/oauth2/introspect within 0.5 s (--timeout)\n`);
  });

  it.each(['0', '-1', 'soon', '2147484'])('refuses --timeout %s (exit 2)', async (value) => {
    const result = await run(['token', ...client(), `--timeout=${value}`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('tessera: --timeout: must be a number of seconds above 0, at most 2147483\n');
  });
});

describe('text from the server on a terminal', () => {
  it('shows control characters in an error description as escapes, not as terminal commands', async () => {
    answers = {
      '/oauth2/token': {
        status: 400,
        body: JSON.stringify({ error: 'invalid_scope', error_description: 'bad\u001b[2J\u0007scope' }),
      },
    };
    const result = await run(['token', ...client()]);
    expect(result.code).toBe(5);
    expect(result.stderr).toBe('tessera: the server answered 400 invalid_scope: bad\\x1b[2J\\x07scope\n');
  });

  it('shows control characters in the fields of a token answer as escapes; --json keeps them JSON-encoded', async () => {
    answers = {
      '/oauth2/token': {
        status: 200,
        body: JSON.stringify({ access_token: 'opaque', token_type: 'Bearer', note: 'a\u001b]0;title\u0007b\nc' }),
      },
    };
    const human = await run(['token', ...client()]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^note {10}a\\x1b\]0;title\\x07b\\x0ac$/m);
    const json = await run(['token', ...client(), '--json']);
    expect(parseJson(json).note).toBe('a\u001b]0;title\u0007b\nc');
  });
});
