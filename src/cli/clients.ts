// `tessera clients …`: register, list, show, update and delete clients, and rotate their secrets.

import { readFileSync, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import { asymmetricJwsAlgorithms, type Client } from '../core/index.js';
import { bcryptHasher } from '../secrets/index.js';
import {
  clientToMetadata,
  deleteRegisteredClient,
  patchRegisteredClient,
  registerClient,
  requireClient,
  rotateClientSecret,
  type ClientMetadataInput,
} from '../server/index.js';
import { addSettingOptions, configFromOptions } from './config-options.js';
import { CliError, exitCodes } from './exit-codes.js';
import { formatValue, printFields, printJson, printNote, printTable } from './output.js';
import { readStdin } from './stdin.js';
import { withStorage } from './storage-session.js';
import { repeatedMemberName } from '../server/json-member-names.js';
import { decodeUtf8 } from '../server/utf8.js';

type Options = Record<string, unknown>;

/**
 * Flags that set RFC 7591 metadata, on `create` and `update`. Only `create` names defaults: on
 * `update` a flag left out keeps the stored value.
 */
function addMetadataOptions(command: Command, { creating }: { creating: boolean }): Command {
  const fallback = (value: string) => (creating ? ` (default ${value})` : '');
  return command
    .option('--grant-types <types>', `grant_types, space- or comma-separated${fallback('client_credentials')}`)
    .option('--scope <scopes>', 'scope: the space-separated scopes the client may be granted')
    .addOption(
      new Option(
        '--token-endpoint-auth-method <method>',
        `token_endpoint_auth_method${fallback('client_secret_basic')}`,
      ).choices(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']),
    )
    .option('--audience <audiences>', 'audience values the client may request, space- or comma-separated')
    .option('--jwks <file-or-json>', 'jwks: a JWK Set file, or the JWK Set as inline JSON')
    .addOption(
      new Option(
        '--token-endpoint-auth-signing-alg <alg>',
        'token_endpoint_auth_signing_alg: the one algorithm private_key_jwt assertions may be signed with',
      ).choices([...asymmetricJwsAlgorithms]),
    )
    .option('--client-name <name>', 'client_name')
    .option('--introspection', 'let the client introspect any token, not only its own (a resource server)')
    .option('--no-introspection', 'let the client introspect only its own tokens')
    .option('--introspection-audience <list>', 'let the client introspect the tokens meant for these audiences')
    .option('--metadata <file-or-json>', 'RFC 7591 client metadata as a JSON file or inline JSON; flags override it')
    .option('--json', 'print JSON');
}

/** The metadata the flags describe, and nothing else. */
function metadataFromOptions(options: Options): ClientMetadataInput {
  // A spread, not Object.assign: a member named __proto__ stays a member, unknown metadata ignored
  // as the admin API ignores it, rather than becoming a prototype whose fields would be read.
  const metadata: ClientMetadataInput =
    typeof options.metadata === 'string' ? { ...readJsonArgument(options.metadata, '--metadata') } : {};
  // A secret on the command line stays in shell history and process lists; it is never taken
  // from there, and saying so beats printing a generated one as if the chosen one were kept.
  if (Object.hasOwn(metadata, 'client_secret')) {
    throw new CliError(
      '--metadata: client_secret cannot be given here; pass it on stdin with --secret-stdin',
      exitCodes.usage,
      'usage',
    );
  }
  if (typeof options.clientId === 'string') metadata.client_id = options.clientId;
  if (typeof options.grantTypes === 'string') metadata.grant_types = splitList(options.grantTypes);
  if (typeof options.scope === 'string') metadata.scope = options.scope.split(asciiSpaces).filter(Boolean).join(' ');
  if (typeof options.tokenEndpointAuthMethod === 'string') {
    metadata.token_endpoint_auth_method = options.tokenEndpointAuthMethod;
  }
  if (typeof options.audience === 'string') metadata.audience = splitList(options.audience);
  if (typeof options.jwks === 'string') metadata.jwks = readJsonArgument(options.jwks, '--jwks');
  if (typeof options.tokenEndpointAuthSigningAlg === 'string') {
    metadata.token_endpoint_auth_signing_alg = options.tokenEndpointAuthSigningAlg;
  }
  if (typeof options.clientName === 'string') metadata.client_name = options.clientName;
  if (typeof options.introspection === 'boolean') metadata.introspection = options.introspection;
  if (typeof options.introspectionAudience === 'string') {
    metadata.introspection = splitList(options.introspectionAudience);
  }
  return metadata;
}

/**
 * What separates values in a flag: ASCII white space (and commas in lists). Not `\s`, which
 * also splits at a no-break space or U+3000 inside a value the admin API would keep whole.
 */
const asciiSpaces = /[ \t\n\r]+/;

function splitList(value: string): string[] {
  return value.split(/[ \t\n\r,]+/).filter(Boolean);
}

/** Reads a JSON object given inline, or a file holding one. */
function readJsonArgument(value: string, flag: '--metadata' | '--jwks'): Record<string, unknown> {
  const example = flag === '--jwks' ? '{"keys":[…]}' : '{"client_name":"…"}';
  const inline = /^\s*[[{]/.test(value) || (!isReadableFile(value) && parsesAsJson(value));
  const text = inline ? value : readArgumentFile(value, flag);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    throw new CliError(
      `${flag}: not valid JSON (give a file path or inline JSON such as '${example}')`,
      exitCodes.usage,
      'usage',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`${flag}: must be a JSON object, such as '${example}'`, exitCodes.usage, 'usage');
  }
  const repeated = repeatedMemberName(text);
  if (repeated !== undefined) {
    throw new CliError(
      `${flag}: names ${JSON.stringify(repeated.slice(0, 60))} twice in one object`,
      exitCodes.usage,
      'usage',
    );
  }
  return parsed as Record<string, unknown>;
}

function isReadableFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** True for JSON text such as `null`, `42` or `"text"`: meant inline, though it does not start like an object. */
function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function readArgumentFile(path: string, flag: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new CliError(
      `${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      exitCodes.usage,
      'usage',
    );
  }
  // JSON is UTF-8 (RFC 8259 §8.1): other bytes are refused rather than stored as U+FFFD.
  const text = decodeUtf8(bytes);
  if (text === undefined) throw new CliError(`${flag}: ${path} is not valid UTF-8`, exitCodes.usage, 'usage');
  return text;
}

async function secretFromOptions(options: Options): Promise<string | undefined> {
  return options.secretStdin === true ? readStdin() : undefined;
}

function printClient(client: Client, options: Options, secret?: string): void {
  const metadata = clientToMetadata(client);
  const output = secret !== undefined ? { ...metadata, client_secret: secret, client_secret_expires_at: 0 } : metadata;
  if (options.json === true) {
    printJson(output);
    return;
  }
  printFields(output);
  if (secret !== undefined) printNote('The client secret is shown only this once; it is stored only as a hash.');
}

/** The most clients one `clients list` prints. */
const maxListLimit = 1_000_000;

/** Builds the `clients` command group. */
export function clientsCommand(): Command {
  const clients = new Command('clients').description('register and manage OAuth clients (RFC 7591 metadata)');

  addSettingOptions(
    addMetadataOptions(
      clients
        .command('create')
        .description('register a client; a generated secret is printed once and stored only hashed')
        .option('--client-id <id>', 'client_id (default: a random id)')
        .option('--secret-stdin', 'read the client secret from stdin instead of generating one'),
      { creating: true },
    ),
    ['secrets.bcryptCost'],
  ).action(async (options: Options, command: Command) => {
    const all = command.optsWithGlobals<Options>();
    const config = configFromOptions(all);
    const secret = await secretFromOptions(options);
    const registered = await withStorage(config, (storage) =>
      registerClient(storage, bcryptHasher({ cost: config.secrets.bcryptCost }), metadataFromOptions(options), secret),
    );
    // A secret supplied on stdin is the caller's own: it is not echoed back.
    printClient(registered.client, options, secret === undefined ? registered.clientSecret : undefined);
  });

  clients
    .command('list')
    .description('list registered clients')
    .option('--json', 'print JSON')
    .option('--limit <n>', 'most clients to list', '1000')
    .option('--after <client-id>', 'start after this client id')
    .action(async (options: Options, command: Command) => {
      const config = configFromOptions(command.optsWithGlobals());
      const limit = Number(options.limit);
      // Bounded so that every store can take it (SQLite and PostgreSQL refuse a 64-bit overflow).
      if (!Number.isInteger(limit) || limit < 1 || limit > maxListLimit) {
        throw new CliError(`--limit: must be a whole number from 1 to ${maxListLimit}`, exitCodes.usage, 'usage');
      }
      const found = await withStorage(
        config,
        (storage) =>
          storage.listClients({ limit, ...(typeof options.after === 'string' ? { after: options.after } : {}) }),
        { readOnly: true },
      );
      const metadata = found.map(clientToMetadata);
      if (options.json === true) {
        printJson({ clients: metadata });
        return;
      }
      if (metadata.length === 0) {
        printNote('no clients registered');
        return;
      }
      printTable(
        ['client_id', 'auth method', 'grant types', 'scope', 'audience'],
        metadata.map((client) => [
          client.client_id,
          formatValue(client.token_endpoint_auth_method),
          formatValue(client.grant_types),
          formatValue(client.scope) || '-',
          formatValue(client.audience) || '-',
        ]),
      );
    });

  clients
    .command('show')
    .description("show a client's metadata (never its secret)")
    .argument('<client-id>')
    .option('--json', 'print JSON')
    .action(async (clientId: string, options: Options, command: Command) => {
      const config = configFromOptions(command.optsWithGlobals());
      const client = await withStorage(config, (storage) => requireClient(storage, clientId), { readOnly: true });
      printClient(client, options);
    });

  addSettingOptions(
    addMetadataOptions(
      clients
        .command('update')
        .description(
          "change a client's metadata; flags not given keep their value. A client without a secret moved to a secret-based method gets a generated one, printed once",
        )
        .argument('<client-id>')
        .option('--secret-stdin', 'read a new client secret from stdin, set with the metadata change'),
      { creating: false },
    ),
    ['secrets.bcryptCost'],
  ).action(async (clientId: string, options: Options, command: Command) => {
    const config = configFromOptions(command.optsWithGlobals());
    const metadata = metadataFromOptions(options);
    const secret = await secretFromOptions(options);
    // Only what the flags name is sent: a round trip through metadata would drop what it cannot express.
    const updated = await withStorage(config, (storage) =>
      patchRegisteredClient(storage, bcryptHasher({ cost: config.secrets.bcryptCost }), clientId, metadata, secret),
    );
    // A secret supplied on stdin is the caller's own: it is not echoed back.
    printClient(updated.client, options, secret === undefined ? updated.clientSecret : undefined);
  });

  clients
    .command('delete')
    .description('delete a client so it can no longer authenticate (tokens it holds are not revoked by this)')
    .argument('<client-id>')
    .option('--json', 'print JSON')
    .action(async (clientId: string, options: Options, command: Command) => {
      const config = configFromOptions(command.optsWithGlobals());
      await withStorage(config, (storage) => deleteRegisteredClient(storage, clientId));
      if (options.json === true) printJson({ client_id: clientId, deleted: true });
      else printNote(`deleted client ${clientId}`);
    });

  addSettingOptions(
    clients
      .command('rotate-secret')
      .description('give a client a new secret (generated, or read from stdin); the old one stops working at once')
      .argument('<client-id>')
      .option('--secret-stdin', 'read the new secret from stdin instead of generating one')
      .option('--json', 'print JSON'),
    ['secrets.bcryptCost'],
  ).action(async (clientId: string, options: Options, command: Command) => {
    const config = configFromOptions(command.optsWithGlobals());
    const secret = await secretFromOptions(options);
    const rotated = await withStorage(config, (storage) =>
      rotateClientSecret(storage, bcryptHasher({ cost: config.secrets.bcryptCost }), clientId, secret),
    );
    printClient(rotated.client, options, secret === undefined ? rotated.clientSecret : undefined);
  });

  return clients;
}
