// `tessera token`, `introspect` and `revoke`: a client's view of a running server, over HTTP.

import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { SignJWT } from 'jose';
import { jwtBearerAssertionType } from '../client-auth/index.js';
import { maxResponseBytes, readBoundedText, ResponseTooLargeError } from '../resource-server/bounded-response.js';
import { defaultRoutes } from '../provider/index.js';
import { CliError, exitCodes } from './exit-codes.js';
import { printFields, printJson, printNote } from './output.js';
import { readStdin } from './stdin.js';

type Options = Record<string, unknown>;

interface Endpoints {
  /** The issuer the metadata names, or the one given: the audience of client assertions. */
  readonly issuer: string;
  readonly token: string;
  readonly introspection: string;
  readonly revocation: string;
}

/** Flags every client-side command shares. */
function addClientOptions(command: Command): Command {
  return command
    .option('--issuer <url>', 'the authorization server (its metadata names the endpoints; also TESSERA_ISSUER)')
    .option('--client-id <id>', 'the client to authenticate as (also TESSERA_CLIENT_ID)')
    .option('--client-secret <secret>', 'its secret (prefer TESSERA_CLIENT_SECRET or --client-secret-stdin)')
    .option('--client-secret-stdin', 'read the client secret from stdin')
    .option(
      '--private-key <file>',
      'authenticate with private_key_jwt: a PEM private key (RSA, P-256/384/521 or Ed25519) whose public half the client registered',
    )
    .option('--key-id <kid>', 'the kid of that key, put in each assertion header')
    .addOption(
      new Option(
        '--auth-method <method>',
        'how to send the client credentials (private_key_jwt with --private-key)',
      ).choices(['client_secret_basic', 'client_secret_post', 'private_key_jwt']),
    )
    .option('--timeout <seconds>', `seconds to wait for each answer of the server (default ${defaultTimeoutSeconds})`)
    .option('--json', 'print JSON');
}

const defaultTimeoutSeconds = 30;
/** The longest a timer holds, in whole seconds. */
const maxTimeoutSeconds = 2_147_483;

/** The --timeout value in seconds, or a usage error. */
function timeoutOf(options: Options): number {
  if (options.timeout === undefined) return defaultTimeoutSeconds;
  const text = String(options.timeout).trim();
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(seconds > 0 && seconds <= maxTimeoutSeconds)) {
    throw new CliError(
      `--timeout: must be a number of seconds above 0, at most ${maxTimeoutSeconds}`,
      exitCodes.usage,
      'usage',
    );
  }
  return seconds;
}

/**
 * One HTTP exchange, its whole body (at most 1 MiB) read within the time allowed. Redirects are
 * not followed: a request carrying credentials (a secret in the body, an assertion, a token to
 * check) goes only to the URL it was meant for (RFC 9110 §15.4), and a redirect is an answer this
 * command cannot use.
 */
async function exchange(
  url: string,
  init: RequestInit,
  timeoutSeconds: number,
): Promise<{ readonly status: number; readonly ok: boolean; readonly text: string }> {
  try {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.timeout(Math.ceil(timeoutSeconds * 1000)),
    });
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => undefined);
      throw new CliError(
        `${shownUrl(url)} answered ${response.status} with a redirect, which is not followed: credentials go only where they were meant to`,
        exitCodes.failure,
        'invalid_response',
      );
    }
    return { status: response.status, ok: response.ok, text: await readBoundedText(response) };
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof ResponseTooLargeError) {
      throw new CliError(
        `the answer from ${shownUrl(url)} is larger than ${maxResponseBytes} bytes; the rest was not read`,
        exitCodes.failure,
        'invalid_response',
      );
    }
    if (error instanceof Error && error.name === 'TimeoutError') {
      throw new CliError(
        `no answer from ${shownUrl(url)} within ${timeoutSeconds} s (--timeout)`,
        exitCodes.failure,
        'timeout',
      );
    }
    throw unreachable(url, error);
  }
}

/** How the client proves who it is: a secret, or a key that signs a fresh assertion per request. */
type ClientCredentials =
  | { readonly method: 'client_secret_basic' | 'client_secret_post'; readonly id: string; readonly secret: string }
  | {
      readonly method: 'private_key_jwt';
      readonly id: string;
      readonly key: KeyObject;
      readonly alg: string;
      readonly kid: string | undefined;
    };

async function clientCredentials(options: Options): Promise<ClientCredentials> {
  const id = stringOption(options.clientId) ?? process.env.TESSERA_CLIENT_ID;
  if (!id) throw new CliError('--client-id is required (or TESSERA_CLIENT_ID)', exitCodes.usage, 'usage');
  const keyFile = stringOption(options.privateKey);
  const method = stringOption(options.authMethod) ?? (keyFile ? 'private_key_jwt' : 'client_secret_basic');
  if (method === 'private_key_jwt') {
    if (!keyFile) throw new CliError('private_key_jwt needs --private-key', exitCodes.usage, 'usage');
    const key = readPrivateKey(keyFile);
    return { method, id, key, alg: signingAlgorithmOf(key), kid: stringOption(options.keyId) };
  }
  if (keyFile) {
    throw new CliError(`--private-key is for private_key_jwt, not ${method}`, exitCodes.usage, 'usage');
  }
  if (stringOption(options.keyId)) {
    throw new CliError('--key-id names the key of --private-key; give both, or neither', exitCodes.usage, 'usage');
  }
  const secret =
    options.clientSecretStdin === true
      ? await readStdin()
      : (stringOption(options.clientSecret) ?? process.env.TESSERA_CLIENT_SECRET);
  if (!secret) {
    throw new CliError(
      '--client-secret, --client-secret-stdin or TESSERA_CLIENT_SECRET is required',
      exitCodes.usage,
      'usage',
    );
  }
  return { method: method as 'client_secret_basic' | 'client_secret_post', id, secret };
}

function readPrivateKey(file: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`--private-key: cannot read ${file}: ${(error as Error).message}`, exitCodes.usage, 'usage');
  }
  try {
    return createPrivateKey(pem);
  } catch {
    // The file's content is not repeated: it is a private key, or meant to be one.
    throw new CliError(`--private-key: ${file} holds no PEM private key`, exitCodes.usage, 'usage');
  }
}

/** The JWS algorithm a key signs with: RS256, ES256/384/512 by curve, or EdDSA. */
function signingAlgorithmOf(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec') {
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'secp521r1') return 'ES512';
  }
  // RSA-PSS-only keys, X25519 and the rest are not offered: the error names the type.
  throw new CliError(
    `--private-key: a ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''} key cannot sign a client assertion`,
    exitCodes.usage,
    'usage',
  );
}

/** RFC 7523 §3: a one-minute assertion for `audience`, with a fresh jti. */
function clientAssertion(credentials: Extract<ClientCredentials, { method: 'private_key_jwt' }>, audience: string) {
  return new SignJWT({})
    .setProtectedHeader({ alg: credentials.alg, ...(credentials.kid ? { kid: credentials.kid } : {}) })
    .setIssuer(credentials.id)
    .setSubject(credentials.id)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('1m')
    .setJti(randomUUID())
    .sign(credentials.key);
}

function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Finds the endpoints from RFC 8414 metadata, falling back to Tessera's default paths. */
async function discoverEndpoints(options: Options): Promise<Endpoints> {
  const issuerText = stringOption(options.issuer) ?? process.env.TESSERA_ISSUER;
  if (!issuerText) throw new CliError('--issuer is required (or TESSERA_ISSUER)', exitCodes.usage, 'usage');
  const issuer = httpUrl(issuerText, '--issuer');
  if (/[?#]/.test(issuerText)) {
    throw new CliError('--issuer: must have no query or fragment (RFC 8414 §2)', exitCodes.usage, 'usage');
  }
  const base = issuer.href.replace(/\/+$/, '');
  // RFC 8414 §3.1: the well-known segment goes between the host and any issuer path.
  const metadataUrl = `${issuer.origin}${defaultRoutes.metadata}${issuer.pathname.replace(/\/+$/, '')}`;
  const fallback: Endpoints = {
    issuer: base,
    token: `${base}${defaultRoutes.token}`,
    introspection: `${base}${defaultRoutes.introspection}`,
    revocation: `${base}${defaultRoutes.revocation}`,
  };
  const response = await exchange(metadataUrl, { headers: { accept: 'application/json' } }, timeoutOf(options));
  if (!response.ok) return fallback;
  let parsed: unknown;
  try {
    parsed = JSON.parse(response.text) as unknown;
  } catch {
    // Not JSON: no endpoints named.
  }
  // A body that is not an RFC 8414 metadata object names no endpoints: the default paths are used.
  if (!isObject(parsed)) return fallback;
  const metadata = parsed;
  // RFC 8414 §3.3: metadata naming another issuer (or none) must not be used, nor may the server be
  // trusted with the credentials. The issuer asked about is the one given, its terminating "/"
  // dropped as §3.1 drops it, and as Tessera's server publishes it.
  const expected = issuerText.replace(/\/+$/, '');
  if (metadata.issuer !== expected) {
    const named = typeof metadata.issuer === 'string' ? `the issuer "${metadata.issuer}"` : 'no issuer';
    throw new CliError(
      `the metadata at ${metadataUrl} names ${named}, not "${expected}" (RFC 8414 §3.3); it is not used`,
      exitCodes.failure,
      'issuer_mismatch',
    );
  }
  const endpoint = (member: string, otherwise: string): string => {
    const named = stringOption(metadata[member]);
    if (named === undefined) return otherwise;
    // The credentials are sent there: an http(s) URL without a user name or password, and never
    // plain http for an https issuer (RFC 6749 §3.2 asks TLS of the token endpoint).
    const url = URL.canParse(named) ? new URL(named) : undefined;
    const problem =
      !url || !/^https?:$/.test(url.protocol)
        ? 'that is not an http(s) URL'
        : url.username !== '' || url.password !== ''
          ? 'with a user name or password in it'
          : issuer.protocol === 'https:' && url.protocol === 'http:'
            ? 'on plain http:// for an https:// issuer'
            : undefined;
    if (problem !== undefined) {
      throw new CliError(
        `the metadata at ${metadataUrl} names a ${member} ${problem}; nothing was sent to it`,
        exitCodes.failure,
        'invalid_response',
      );
    }
    return named;
  };
  return {
    issuer: expected,
    token: endpoint('token_endpoint', fallback.token),
    introspection: endpoint('introspection_endpoint', fallback.introspection),
    revocation: endpoint('revocation_endpoint', fallback.revocation),
  };
}

/** `text` as an http(s) URL, or a usage error naming `flag`. */
function httpUrl(text: string, flag: string): URL {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (!url || !/^https?:$/.test(url.protocol)) {
    // Not repeated: a value that does not parse may still hold a password (`https://ops:p w@…`).
    throw new CliError(`${flag}: not an http(s) URL`, exitCodes.usage, 'usage');
  }
  // Not repeated: what stands before the "@" is a password, or may be one.
  if (url.username !== '' || url.password !== '') {
    throw new CliError(`${flag}: must have no user name or password (RFC 3986 §3.2.1)`, exitCodes.usage, 'usage');
  }
  return url;
}

function unreachable(url: string, error: unknown): CliError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
  return new CliError(`cannot reach ${shownUrl(url)}: ${cause}`, exitCodes.failure, 'unreachable');
}

/**
 * `url` as messages show it: without its query or fragment, which may carry a key or a token
 * (`?api_key=…`); a user name and password never get this far.
 */
function shownUrl(url: string): string {
  if (!URL.canParse(url)) return 'the server';
  const { origin, pathname, search, hash } = new URL(url);
  return `${origin}${pathname}${search !== '' || hash !== '' ? '?…' : ''}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * POSTs a form with client authentication; returns the parsed JSON body (`{}` when it is not a
 * JSON object), or throws the OAuth error.
 */
async function postForm(
  url: string,
  form: Record<string, string | undefined>,
  credentials: ClientCredentials,
  audience: string,
  timeoutSeconds: number,
): Promise<Record<string, unknown>> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) if (value !== undefined) body.set(name, value);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (credentials.method === 'private_key_jwt') {
    body.set('client_assertion_type', jwtBearerAssertionType);
    body.set('client_assertion', await clientAssertion(credentials, audience));
  } else if (credentials.method === 'client_secret_post') {
    body.set('client_id', credentials.id);
    body.set('client_secret', credentials.secret);
  } else {
    // RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
    const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
    headers.authorization = `Basic ${Buffer.from(`${encode(credentials.id)}:${encode(credentials.secret)}`).toString('base64')}`;
  }
  const response = await exchange(url, { method: 'POST', headers, body }, timeoutSeconds);
  let json: unknown;
  try {
    json = JSON.parse(response.text) as unknown;
  } catch {
    // Not JSON: an error is reported by its status, a success by the caller.
  }
  const parsed = isObject(json) ? json : {};
  if (!response.ok) {
    const error = typeof parsed.error === 'string' ? parsed.error : `http_${response.status}`;
    const description = typeof parsed.error_description === 'string' ? `: ${parsed.error_description}` : '';
    throw new CliError(`the server answered ${response.status} ${error}${description}`, exitCodes.refused, error, {
      status: response.status,
    });
  }
  return parsed;
}

/** A successful answer that lacks what its RFC requires: the server is not one this command can use. */
function unusableAnswer(url: string, expected: string): CliError {
  return new CliError(
    `the server at ${shownUrl(url)} answered 200 without ${expected}`,
    exitCodes.failure,
    'invalid_response',
  );
}

/**
 * The header and claims of a JWT, decoded without verification; undefined for other tokens,
 * including three-part tokens whose header or claims are not JSON objects.
 */
function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    return isObject(header) && isObject(claims) ? { header, claims } : undefined;
  } catch {
    return undefined;
  }
}

/** Refuses a token and a secret that would both be read from stdin: the first read would take all of it. */
function checkOneStdinReader(token: string, options: Options): void {
  if (token === '-' && options.clientSecretStdin === true) {
    throw new CliError(
      'the token ("-") and --client-secret-stdin cannot both come from stdin; give the secret in TESSERA_CLIENT_SECRET',
      exitCodes.usage,
      'usage',
    );
  }
}

async function tokenArgument(token: string): Promise<string> {
  const value = token === '-' ? await readStdin() : token;
  if (!value) throw new CliError('the token is empty', exitCodes.usage, 'usage');
  return value;
}

/** Builds the `token` command. */
export function tokenCommand(): Command {
  return addClientOptions(
    new Command('token')
      .description('request an access token with the client credentials grant and show it with its decoded claims')
      .option('--scope <scopes>', 'space-separated scopes to request')
      .option('--audience <audience>', 'audience to request')
      .option('--token-endpoint <url>', 'token endpoint to use instead of the one in the metadata'),
  ).action(async (options: Options) => {
    timeoutOf(options);
    const credentials = await clientCredentials(options);
    const given = stringOption(options.tokenEndpoint);
    if (given) httpUrl(given, '--token-endpoint');
    // With an endpoint given, its URL is the assertion audience (RFC 7523 §3 allows it).
    const endpoints = given ? { token: given, issuer: given } : await discoverEndpoints(options);
    const response = await postForm(
      endpoints.token,
      {
        grant_type: 'client_credentials',
        scope: stringOption(options.scope),
        audience: stringOption(options.audience),
      },
      credentials,
      endpoints.issuer,
      timeoutOf(options),
    );
    // RFC 6749 §5.1: a successful answer is a JSON object with an access_token.
    const accessToken = response.access_token;
    if (typeof accessToken !== 'string' || accessToken === '') {
      throw unusableAnswer(endpoints.token, 'a JSON object holding an access_token (RFC 6749 §5.1)');
    }
    const decoded = decodeJwt(accessToken);
    if (options.json === true) {
      printJson({ ...response, ...(decoded ? { claims: decoded.claims } : {}) });
      return;
    }
    printFields(response);
    if (decoded) {
      process.stdout.write('\nheader (decoded, not verified):\n');
      printFields(decoded.header);
      process.stdout.write('\nclaims (decoded, not verified):\n');
      printFields(decoded.claims);
    }
  });
}

/**
 * What `introspect` and `revoke` share: the token (or stdin) and its hint, posted with the
 * client's credentials to the endpoint `pick` names. Options are checked before anything is read.
 */
async function postToken(
  token: string,
  options: Options,
  pick: (endpoints: Endpoints) => string,
): Promise<{ response: Record<string, unknown>; endpoint: string }> {
  checkOneStdinReader(token, options);
  timeoutOf(options);
  const credentials = await clientCredentials(options);
  const value = await tokenArgument(token);
  const endpoints = await discoverEndpoints(options);
  const endpoint = pick(endpoints);
  const response = await postForm(
    endpoint,
    { token: value, token_type_hint: stringOption(options.tokenTypeHint) },
    credentials,
    endpoints.issuer,
    timeoutOf(options),
  );
  return { response, endpoint };
}

/** Builds the `introspect` command. */
export function introspectCommand(): Command {
  return addClientOptions(
    new Command('introspect')
      .description('ask the server whether a token is active (RFC 7662); "-" reads the token from stdin')
      .argument('<token>')
      .option('--token-type-hint <hint>', 'access_token or refresh_token'),
  ).action(async (token: string, options: Options) => {
    const { response, endpoint } = await postToken(token, options, (endpoints) => endpoints.introspection);
    // RFC 7662 §2.2: the answer is a JSON object whose `active` is a boolean.
    if (typeof response.active !== 'boolean') {
      throw unusableAnswer(endpoint, 'a JSON object holding a boolean "active" (RFC 7662 §2.2)');
    }
    if (options.json === true) printJson(response);
    else printFields(response);
  });
}

/** Builds the `revoke` command. */
export function revokeCommand(): Command {
  return addClientOptions(
    new Command('revoke')
      .description('revoke one of the client\'s own tokens (RFC 7009); "-" reads the token from stdin')
      .argument('<token>')
      .option('--token-type-hint <hint>', 'access_token or refresh_token'),
  ).action(async (token: string, options: Options) => {
    await postToken(token, options, (endpoints) => endpoints.revocation);
    // RFC 7009 §2.2: 200 means the token is revoked or was never valid; the server does not say which.
    if (options.json === true) printJson({ revoked: true });
    else printNote('revoked (or the token was already invalid)');
  });
}
