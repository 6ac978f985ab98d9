// `tessera token`, `introspect` and `revoke`: a client's view of a running server, over HTTP.

import { Command, Option } from 'commander';
import { defaultRoutes } from '../provider/index.js';
import { CliError, exitCodes } from './exit-codes.js';
import { printFields, printJson, printNote } from './output.js';
import { readStdin } from './stdin.js';

type Options = Record<string, unknown>;

interface Endpoints {
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
    .addOption(
      new Option('--auth-method <method>', 'how to send the client credentials')
        .choices(['client_secret_basic', 'client_secret_post'])
        .default('client_secret_basic'),
    )
    .option('--json', 'print JSON');
}

async function clientCredentials(options: Options): Promise<{ id: string; secret: string }> {
  const id = stringOption(options.clientId) ?? process.env.TESSERA_CLIENT_ID;
  if (!id) throw new CliError('--client-id is required (or TESSERA_CLIENT_ID)', exitCodes.usage, 'usage');
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
  return { id, secret };
}

function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Finds the endpoints from RFC 8414 metadata, falling back to Tessera's default paths. */
async function discoverEndpoints(options: Options): Promise<Endpoints> {
  const issuerText = stringOption(options.issuer) ?? process.env.TESSERA_ISSUER;
  if (!issuerText) throw new CliError('--issuer is required (or TESSERA_ISSUER)', exitCodes.usage, 'usage');
  let issuer: URL;
  try {
    issuer = new URL(issuerText);
    if (!/^https?:$/.test(issuer.protocol)) throw new TypeError('not http(s)');
  } catch {
    throw new CliError(`--issuer: "${issuerText}" is not an http(s) URL`, exitCodes.usage, 'usage');
  }
  const base = issuer.href.replace(/\/+$/, '');
  // RFC 8414 §3.1: the well-known segment goes between the host and any issuer path.
  const metadataUrl = `${issuer.origin}${defaultRoutes.metadata}${issuer.pathname.replace(/\/+$/, '')}`;
  const fallback: Endpoints = {
    token: `${base}${defaultRoutes.token}`,
    introspection: `${base}${defaultRoutes.introspection}`,
    revocation: `${base}${defaultRoutes.revocation}`,
  };
  let response: Response;
  try {
    response = await fetch(metadataUrl, { headers: { accept: 'application/json' } });
  } catch (error) {
    throw unreachable(metadataUrl, error);
  }
  if (!response.ok) return fallback;
  const metadata = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  return {
    token: stringOption(metadata.token_endpoint) ?? fallback.token,
    introspection: stringOption(metadata.introspection_endpoint) ?? fallback.introspection,
    revocation: stringOption(metadata.revocation_endpoint) ?? fallback.revocation,
  };
}

function unreachable(url: string, error: unknown): CliError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
  return new CliError(`cannot reach ${url}: ${cause}`, exitCodes.failure, 'unreachable');
}

/** POSTs a form with client authentication; returns the parsed JSON body, or throws the OAuth error. */
async function postForm(
  url: string,
  form: Record<string, string | undefined>,
  credentials: { id: string; secret: string },
  method: string,
): Promise<Record<string, unknown>> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) if (value !== undefined) body.set(name, value);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (method === 'client_secret_post') {
    body.set('client_id', credentials.id);
    body.set('client_secret', credentials.secret);
  } else {
    // RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
    const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
    headers.authorization = `Basic ${Buffer.from(`${encode(credentials.id)}:${encode(credentials.secret)}`).toString('base64')}`;
  }
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body });
  } catch (error) {
    throw unreachable(url, error);
  }
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // Not JSON: reported below by status.
  }
  if (!response.ok) {
    const error = typeof parsed.error === 'string' ? parsed.error : `http_${response.status}`;
    const description = typeof parsed.error_description === 'string' ? `: ${parsed.error_description}` : '';
    throw new CliError(`the server answered ${response.status} ${error}${description}`, exitCodes.refused, error, {
      status: response.status,
    });
  }
  return parsed;
}

/** The header and claims of a JWT, decoded without verification; undefined for other tokens. */
function decodeJwt(token: string): { header: unknown; claims: unknown } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown,
      claims: JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown,
    };
  } catch {
    return undefined;
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
    const credentials = await clientCredentials(options);
    const endpoint = stringOption(options.tokenEndpoint) ?? (await discoverEndpoints(options)).token;
    const response = await postForm(
      endpoint,
      {
        grant_type: 'client_credentials',
        scope: stringOption(options.scope),
        audience: stringOption(options.audience),
      },
      credentials,
      String(options.authMethod),
    );
    const accessToken = typeof response.access_token === 'string' ? response.access_token : '';
    const decoded = decodeJwt(accessToken);
    if (options.json === true) {
      printJson({ ...response, ...(decoded ? { claims: decoded.claims } : {}) });
      return;
    }
    printFields(response);
    if (decoded) {
      process.stdout.write('\nheader (decoded, not verified):\n');
      printFields(decoded.header as Record<string, unknown>);
      process.stdout.write('\nclaims (decoded, not verified):\n');
      printFields(decoded.claims as Record<string, unknown>);
    }
  });
}

/** Builds the `introspect` command. */
export function introspectCommand(): Command {
  return addClientOptions(
    new Command('introspect')
      .description('ask the server whether a token is active (RFC 7662); "-" reads the token from stdin')
      .argument('<token>')
      .option('--token-type-hint <hint>', 'access_token or refresh_token'),
  ).action(async (token: string, options: Options) => {
    const credentials = await clientCredentials(options);
    const value = await tokenArgument(token);
    const endpoint = (await discoverEndpoints(options)).introspection;
    const response = await postForm(
      endpoint,
      { token: value, token_type_hint: stringOption(options.tokenTypeHint) },
      credentials,
      String(options.authMethod),
    );
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
    const credentials = await clientCredentials(options);
    const value = await tokenArgument(token);
    const endpoint = (await discoverEndpoints(options)).revocation;
    await postForm(
      endpoint,
      { token: value, token_type_hint: stringOption(options.tokenTypeHint) },
      credentials,
      String(options.authMethod),
    );
    // RFC 7009 §2.2: 200 means the token is revoked or was never valid; the server does not say which.
    if (options.json === true) printJson({ revoked: true });
    else printNote('revoked (or the token was already invalid)');
  });
}
