// Client registration for the CLI and the admin API: RFC 7591 client metadata in, hashed secrets at rest.

import { createPublicKey, randomBytes, type JsonWebKey as NodeJsonWebKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { asymmetricJwsAlgorithms, type Client, type TokenEndpointAuthMethod } from '../core/index.js';
import { privateJwkMembers } from '../keys/key-set.js';
import type { SecretHasher } from '../secrets/index.js';
import {
  StorageConflictError,
  StorageInvalidTextError,
  StorageNotFoundError,
  type ClientManager,
  type ClientStore,
  type Transactional,
} from '../storage/index.js';
import { firstUnstorableField, isJsonKeptNumber } from '../storage/storable-text.js';
import { setOwnMember } from './own-member.js';

/** Why a registration call failed; the CLI turns `kind` into an exit code, the admin API into a status. */
export class ClientRegistrationError extends Error {
  override readonly name = 'ClientRegistrationError';
  constructor(
    /** `invalid_client_metadata` (RFC 7591 §3.2.2), `not_found` or `conflict`. */
    readonly kind: 'invalid_client_metadata' | 'not_found' | 'conflict',
    message: string,
  ) {
    super(message);
  }
}

/**
 * What registration needs of a store: client management, and transactions so that each change
 * reads and writes the client in one turn.
 */
export type ClientRegistry = ClientManager & Transactional<ClientManager>;

/** Grant types this server can serve to a registered client. */
export const supportedGrantTypes = ['client_credentials'] as const;

const authMethods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;

/**
 * The fields kept in the client's metadata, as they are, and what each must be. The descriptive
 * RFC 7591 §2 ones are strings, URL strings (of a web page or an image, so http or https) or an
 * array of strings; `introspection: true` lets the client introspect any token, a list of
 * audiences the tokens meant for them (`defaultIntrospectionPolicy` reads it there);
 * `token_endpoint_auth_signing_alg` is the one algorithm the client's assertions may be signed
 * with (`verifyClientAssertion` reads it there).
 */
const metadataFieldKinds = {
  client_name: 'string',
  client_uri: 'URL',
  logo_uri: 'URL',
  contacts: 'strings',
  tos_uri: 'URL',
  policy_uri: 'URL',
  software_id: 'string',
  software_version: 'string',
  introspection: 'introspection',
  token_endpoint_auth_signing_alg: 'algorithm',
} as const satisfies Record<string, 'string' | 'URL' | 'strings' | 'introspection' | 'algorithm'>;

type MetadataField = keyof typeof metadataFieldKinds;

const metadataFields = Object.keys(metadataFieldKinds) as MetadataField[];

const expectedForm = {
  string: 'a string',
  URL: 'an absolute http or https URL string',
  strings: 'an array of strings',
  introspection: 'true, false or a non-empty array of audience strings, none empty or holding a space',
  algorithm: `one of ${asymmetricJwsAlgorithms.join(', ')}`,
} as const;

/**
 * A token request names its audiences space-separated, so a listed audience that is empty or holds
 * a space could never be requested, nor be the audience of a token.
 */
function isAudienceValue(value: string): boolean {
  return value !== '' && !value.includes(' ');
}

/**
 * An absolute http(s) URL as written (RFC 3986 §4.3): scheme, `//` and authority, with no white
 * space, control character or backslash anywhere. The URL parser would quietly drop or mend
 * those, so a value it accepts may not be a URI at all, and the value is kept as given.
 */
function isWebUrl(value: string): boolean {
  if (!/^https?:\/\/[^/?#]/i.test(value) || /[\s\u0000-\u001f\u007f\\]/u.test(value)) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * A number that comes back from the store as the client sent it: one JSON keeps, and not a whole
 * number past 2^53, which has already lost digits when parsed.
 */
function isExactJsonNumber(value: number): boolean {
  return isJsonKeptNumber(value) && (!Number.isInteger(value) || Number.isSafeInteger(value));
}

/** The check of one metadata field. Null passes here: only an update may send it (to remove the field). */
function metadataFieldSchema(field: MetadataField) {
  const kind = metadataFieldKinds[field];
  const error = `${field} must be ${expectedForm[kind]}`;
  const schema =
    kind === 'algorithm'
      ? z.enum(asymmetricJwsAlgorithms, { error })
      : kind === 'introspection'
        ? z
            .union([z.boolean(), z.array(z.string({ error }), { error })], { error })
            .refine((value) => typeof value === 'boolean' || (value.length > 0 && value.every(isAudienceValue)), {
              error,
            })
        : kind === 'strings'
          ? z.array(z.string({ error }), { error })
          : kind === 'URL'
            ? z.string({ error }).refine(isWebUrl, { error })
            : z.string({ error });
  return schema.nullable().optional();
}

const scopeToken = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** RFC 7591 §2 client metadata as this server understands it; unknown fields are ignored (§2). */
const metadataSchema = z.object({
  client_id: z
    .string({ error: 'client_id must be a string' })
    .regex(/^[\x21-\x7e]{1,128}$/, { error: 'client_id must be 1 to 128 visible ASCII characters without spaces' })
    .optional(),
  grant_types: z
    .array(z.enum(supportedGrantTypes, { error: `grant_types may contain only ${supportedGrantTypes.join(', ')}` }), {
      error: 'grant_types must be an array of grant type names',
    })
    .min(1, { error: 'grant_types must name at least one grant type' })
    .optional(),
  scope: z
    .string({ error: 'scope must be a space-separated string' })
    .refine((value) => value.split(' ').every((token) => token === '' || scopeToken.test(token)), {
      error: 'scope must be space-separated scope tokens (RFC 6749 §3.3)',
    })
    .optional(),
  token_endpoint_auth_method: z
    .enum(authMethods, { error: `token_endpoint_auth_method must be one of ${authMethods.join(', ')}` })
    .optional(),
  audience: z
    .union([z.string(), z.array(z.string())], { error: 'audience must be a string or an array of strings' })
    .refine((value) => typeof value === 'string' || value.every(isAudienceValue), {
      error: 'audience must be a space-separated string or an array of audience values, none empty or holding a space',
    })
    .optional(),
  jwks: z.unknown().optional(),
  jwks_uri: z.unknown().optional(),
  ...(Object.fromEntries(metadataFields.map((field) => [field, metadataFieldSchema(field)])) as Record<
    MetadataField,
    ReturnType<typeof metadataFieldSchema>
  >),
});

/** The JWS algorithms a key may name in `alg`, by key type and curve; `private_key_jwt` accepts these. */
function algorithmsFor(key: KeyObject): readonly string[] {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
  if (type === 'ed25519') return ['EdDSA', 'Ed25519'];
  if (type !== 'ec') return [];
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === 'prime256v1'
    ? ['ES256']
    : curve === 'secp384r1'
      ? ['ES384']
      : curve === 'secp521r1'
        ? ['ES512']
        : [];
}

/**
 * Checks an RFC 7591 `jwks`: a JWK Set of at least one key, each a public key this server can
 * verify a client assertion with (RSA of 2048 bits or more, EC on P-256, P-384 or P-521, or
 * Ed25519), whose `alg` and `use`, when given, allow that. Returns the set with its keys alone.
 *
 * @throws ClientRegistrationError `invalid_client_metadata`, naming `jwks`
 */
function checkJwks(value: unknown): { readonly keys: readonly Record<string, unknown>[] } {
  const refuse = (message: string) => new ClientRegistrationError('invalid_client_metadata', `jwks ${message}`);
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw refuse('must be a JWK Set: {"keys": [...]}');
  }
  const keys = (value as { keys: unknown[] }).keys;
  if (keys.length === 0) throw refuse('must hold at least one key');
  keys.forEach((key, index) => {
    const which = `key ${index + 1}`;
    if (typeof key !== 'object' || key === null || Array.isArray(key)) throw refuse(`${which} must be a JSON object`);
    const members = key as Record<string, unknown>;
    if (Object.keys(members).some((member) => privateJwkMembers.has(member)))
      throw refuse('must hold public keys only');
    for (const [member, memberValue] of Object.entries(members)) {
      if (typeof memberValue === 'number' && !isExactJsonNumber(memberValue)) {
        throw refuse(
          `${which}: member "${member}" must be a number JSON keeps exactly: finite, not -0, and a whole number only up to 2^53 - 1`,
        );
      }
      const plain = ['string', 'number', 'boolean'].includes(typeof memberValue);
      const strings = Array.isArray(memberValue) && memberValue.every((entry) => typeof entry === 'string');
      if (!plain && !strings) {
        throw refuse(`${which}: member "${member}" must be a string, a number, a boolean or an array of strings`);
      }
    }
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: members as NodeJsonWebKey, format: 'jwk' });
    } catch {
      throw refuse(`${which} is not a valid public JWK`);
    }
    const algorithms = algorithmsFor(publicKey);
    if (algorithms.length === 0) {
      throw refuse(`${which} must be an RSA key, an EC key on P-256, P-384 or P-521, or an Ed25519 key`);
    }
    if (publicKey.asymmetricKeyType === 'rsa' && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
      throw refuse(`${which}: an RSA key must have at least 2048 bits`);
    }
    // RFC 7517 §4.3-4.5, as a verifier reads them: a key that fails one of these is never chosen.
    if (members.alg !== undefined && typeof members.alg !== 'string') throw refuse(`${which}: alg must be a string`);
    if (members.kid !== undefined && typeof members.kid !== 'string') throw refuse(`${which}: kid must be a string`);
    if (members.ext !== undefined && typeof members.ext !== 'boolean') throw refuse(`${which}: ext must be a boolean`);
    if (members.key_ops !== undefined) {
      const operations = members.key_ops;
      if (!Array.isArray(operations)) throw refuse(`${which}: key_ops must be an array`);
      if (new Set(operations).size !== operations.length) {
        throw refuse(`${which}: key_ops must not name an operation twice`);
      }
      if (!operations.includes('verify')) throw refuse(`${which}: key_ops must include "verify"`);
    }
    if (members.alg !== undefined && !algorithms.includes(members.alg)) {
      throw refuse(`${which}: alg must be one of ${algorithms.join(', ')} for this key`);
    }
    if (members.use !== undefined && members.use !== 'sig') throw refuse(`${which}: use must be "sig"`);
  });
  // RFC 7517 §5: other members of the set are ignored, so they are not stored either (nor can one
  // nested too deeply to be written fail the registration).
  return { keys: keys as Record<string, unknown>[] };
}

/** Whether a key of a checked JWK Set may verify signatures made with `alg`: its own `alg`, or its type's. */
function canSignWith(jwk: Record<string, unknown>, alg: string): boolean {
  if (jwk.alg !== undefined) return jwk.alg === alg;
  return algorithmsFor(createPublicKey({ key: jwk as NodeJsonWebKey, format: 'jwk' })).includes(alg);
}

/** RFC 7591 client metadata as accepted from the CLI or the admin API. */
export type ClientMetadataInput = Record<string, unknown>;

/** A client as RFC 7591 §3.2.1 / RFC 7592 §3 show it (never the secret hash). */
export type ClientMetadata = Record<string, unknown> & { readonly client_id: string };

/**
 * Validates metadata and builds the client it describes, keeping `base`'s secret and dates.
 *
 * @throws ClientRegistrationError `invalid_client_metadata`
 */
export function clientFromMetadata(input: ClientMetadataInput, base?: Client): Client {
  checkStorableMetadata(input);
  const result = metadataSchema.safeParse(input);
  if (!result.success) {
    throw new ClientRegistrationError(
      'invalid_client_metadata',
      result.error.issues.map((issue) => issue.message).join('; '),
    );
  }
  const metadata = result.data;
  if (base === undefined) {
    if (metadata.client_id === '.' || metadata.client_id === '..') {
      // URLs drop such a path segment (RFC 3986 §5.2.4), even percent-encoded, so /clients/{id} could never reach it.
      throw new ClientRegistrationError(
        'invalid_client_metadata',
        'client_id cannot be "." or "..": no admin API path could address that client',
      );
    }
    // RFC 7592 §2.2 lets an update send null to remove a field; a registration has nothing to remove.
    const nulled = metadataFields.find((field) => metadata[field] === null);
    if (nulled !== undefined) {
      throw new ClientRegistrationError(
        'invalid_client_metadata',
        `${nulled} must be ${expectedForm[metadataFieldKinds[nulled]]}`,
      );
    }
  }
  if (metadata.jwks_uri !== undefined) {
    throw new ClientRegistrationError('invalid_client_metadata', 'jwks_uri is not supported; register jwks instead');
  }
  const tokenEndpointAuthMethod: TokenEndpointAuthMethod = metadata.token_endpoint_auth_method ?? 'client_secret_basic';
  const grantTypes = metadata.grant_types ?? ['client_credentials'];
  const scopes = (metadata.scope ?? '').split(' ').filter(Boolean);
  const audience =
    typeof metadata.audience === 'string' ? metadata.audience.split(' ').filter(Boolean) : (metadata.audience ?? []);
  // Each list names a set; a value named twice is refused, not stored twice nor silently merged.
  const lists: [string, readonly string[]][] = [
    ['grant_types', grantTypes],
    ['scope', scopes],
    ['audience', audience],
  ];
  for (const [field, values] of lists) {
    const repeated = values.find((value, index) => values.indexOf(value) !== index);
    if (repeated !== undefined) {
      throw new ClientRegistrationError(
        'invalid_client_metadata',
        `${field} names ${JSON.stringify(repeated.slice(0, 60))} more than once`,
      );
    }
  }
  if (tokenEndpointAuthMethod === 'none' && grantTypes.includes('client_credentials')) {
    // RFC 6749 §4.4: only confidential clients may use the client credentials grant.
    throw new ClientRegistrationError(
      'invalid_client_metadata',
      'token_endpoint_auth_method "none" makes a public client, which may not use client_credentials',
    );
  }
  // A set already stored (a change that does not name jwks hands it back) is not judged again.
  const jwks =
    metadata.jwks === undefined ? undefined : base?.jwks === metadata.jwks ? base.jwks : checkJwks(metadata.jwks);
  if (tokenEndpointAuthMethod === 'private_key_jwt' && !jwks) {
    throw new ClientRegistrationError('invalid_client_metadata', 'private_key_jwt needs jwks');
  }
  const signingAlg = metadata.token_endpoint_auth_signing_alg;
  if (jwks && typeof signingAlg === 'string' && !jwks.keys.some((key) => canSignWith(key, signingAlg))) {
    // Every assertion would be refused: said at registration rather than stored unusable.
    throw new ClientRegistrationError(
      'invalid_client_metadata',
      `token_endpoint_auth_signing_alg is ${signingAlg}, which no key in jwks can sign with`,
    );
  }
  const extra: Record<string, unknown> = {};
  for (const field of metadataFields) {
    if (metadata[field] !== undefined) extra[field] = metadata[field];
  }
  return {
    id: metadata.client_id ?? base?.id ?? generateClientId(),
    ...(base?.secretHash !== undefined ? { secretHash: base.secretHash } : {}),
    grantTypes,
    scopes,
    audience,
    tokenEndpointAuthMethod,
    ...(jwks ? { jwks } : {}),
    ...(Object.keys(extra).length > 0 ? { metadata: extra } : {}),
    createdAt: base?.createdAt ?? Date.now(),
    ...(base?.secretUpdatedAt !== undefined ? { secretUpdatedAt: base.secretUpdatedAt } : {}),
  };
}

/**
 * Refuses metadata holding, in any string at any depth (jwks and contacts included) or member
 * name, a lone UTF-16 surrogate or U+0000. JSON can spell both (`"\ud800"`, `"\u0000"`), but no
 * store can keep them as given: refused here, nothing is stored changed. Checked before anything
 * else, so no other message repeats such text.
 *
 * @throws ClientRegistrationError `invalid_client_metadata`, naming the field
 */
function checkStorableMetadata(input: ClientMetadataInput): void {
  const found = firstUnstorableField(input);
  if (found) {
    throw new ClientRegistrationError(
      'invalid_client_metadata',
      `${found.name ?? 'a field name'} holds a lone UTF-16 surrogate or U+0000, or a number JSON cannot keep (NaN, an infinity, -0), which cannot be stored`,
    );
  }
}

/** The client's RFC 7591 metadata, for output. Never includes the secret or its hash. */
export function clientToMetadata(client: Client): ClientMetadata {
  const described: ClientMetadata = {
    client_id: client.id,
    ...(client.createdAt !== undefined ? { client_id_issued_at: Math.floor(client.createdAt / 1000) } : {}),
    grant_types: [...client.grantTypes],
    scope: client.scopes.join(' '),
    token_endpoint_auth_method: shownAuthMethod(client),
    audience: [...client.audience],
    ...(client.jwks ? { jwks: client.jwks } : {}),
  };
  // A stored metadata entry named like a field above (a library caller may store anything there)
  // must not hide what the client really is.
  for (const [name, value] of Object.entries(client.metadata ?? {})) {
    if (!Object.hasOwn(described, name) && !name.startsWith('client_secret')) {
      setOwnMember(described, name, value);
    }
  }
  return client.secretHash !== undefined ? { ...described, client_secret_expires_at: 0 } : described;
}

/**
 * The method output names for the client. One stored without a method accepts both Basic and
 * form-post (or nothing, without a secret); RFC 7591 has no value for that and names its default.
 */
function shownAuthMethod(client: Client): TokenEndpointAuthMethod {
  return client.tokenEndpointAuthMethod ?? (client.secretHash !== undefined ? 'client_secret_basic' : 'none');
}

/** A newly registered or re-keyed client with its secret, shown exactly once. */
export interface ClientWithSecret {
  readonly client: Client;
  readonly clientSecret?: string;
}

/** True when the method authenticates with a shared secret. */
export function usesClientSecret(method: TokenEndpointAuthMethod | undefined): boolean {
  return method === undefined || method === 'client_secret_basic' || method === 'client_secret_post';
}

/**
 * Registers a client. A secret-based client gets `secret`, or a generated 256-bit one; only its
 * hash is stored.
 *
 * @throws ClientRegistrationError `invalid_client_metadata` or `conflict`
 */
export async function registerClient(
  storage: ClientManager,
  hasher: SecretHasher,
  input: ClientMetadataInput,
  secret?: string,
): Promise<ClientWithSecret> {
  const described = clientFromMetadata(input);
  if (!usesClientSecret(described.tokenEndpointAuthMethod) && secret !== undefined) {
    throw new ClientRegistrationError(
      'invalid_client_metadata',
      `a ${String(described.tokenEndpointAuthMethod)} client has no secret`,
    );
  }
  const clientSecret = usesClientSecret(described.tokenEndpointAuthMethod)
    ? checkSecret(secret ?? generateClientSecret())
    : undefined;
  const now = Date.now();
  const client: Client = {
    ...described,
    createdAt: now,
    ...(clientSecret !== undefined ? { secretHash: await hasher.hash(clientSecret), secretUpdatedAt: now } : {}),
  };
  try {
    await storage.createClient(client);
  } catch (error) {
    if (error instanceof StorageConflictError) {
      throw new ClientRegistrationError('conflict', `client "${client.id}" already exists`);
    }
    if (error instanceof StorageInvalidTextError)
      throw new ClientRegistrationError('invalid_client_metadata', error.message);
    throw error;
  }
  return clientSecret !== undefined ? { client, clientSecret } : { client };
}

/** The client field behind each RFC 7591 field this server understands, other than `client_id`. */
const clientFields = {
  grant_types: 'grantTypes',
  scope: 'scopes',
  token_endpoint_auth_method: 'tokenEndpointAuthMethod',
  audience: 'audience',
  jwks: 'jwks',
} as const satisfies Record<string, keyof Client>;

/**
 * Replaces a client's metadata (RFC 7592 §2.2), keeping its secret. What RFC 7591 has no field
 * for (default scopes, metadata entries this server does not understand, fields of other
 * versions, dates) is kept as stored: the request could not have said anything about it. A
 * client without a secret that moves to a secret-based method gets a generated one, returned
 * once.
 *
 * @throws ClientRegistrationError `not_found` or `invalid_client_metadata`
 */
export async function updateRegisteredClient(
  storage: ClientRegistry,
  hasher: SecretHasher,
  id: string,
  input: ClientMetadataInput,
): Promise<ClientWithSecret> {
  checkClientIdUnchanged(input, id);
  return changeClientMetadata(storage, hasher, id, (existing) => {
    const described = clientFromMetadata({ ...input, client_id: id }, existing);
    return updatedClient(existing, described, [...Object.keys(clientFields), ...metadataFields]);
  });
}

/**
 * Changes only the metadata `changes` names (`tessera clients update`); every other stored field
 * is kept exactly, including ones the caller has no way to name. A client without a secret that
 * moves to a secret-based method gets a generated one, returned once. Given `secret`, the client
 * gets that one instead, in the same write, whether or not it had one; the client must then
 * authenticate with a secret.
 *
 * @throws ClientRegistrationError `not_found` or `invalid_client_metadata`
 */
export async function patchRegisteredClient(
  storage: ClientRegistry,
  hasher: SecretHasher,
  id: string,
  changes: ClientMetadataInput,
  secret?: string,
): Promise<ClientWithSecret> {
  checkClientIdUnchanged(changes, id);
  const named = Object.keys(changes).filter((field) => changes[field] !== undefined);
  return changeClientMetadata(
    storage,
    hasher,
    id,
    (existing) => {
      // The stored grant types, method and jwks matter only to the rules that tie them together; left
      // out otherwise, so that a stored value registration would refuse cannot block an unrelated change.
      const storedAlg = existing.metadata?.token_endpoint_auth_signing_alg;
      const linked = ['grant_types', 'token_endpoint_auth_method', 'jwks', 'token_endpoint_auth_signing_alg'].some(
        (field) => named.includes(field),
      )
        ? {
            grant_types: existing.grantTypes,
            token_endpoint_auth_method: shownAuthMethod(existing),
            ...(existing.jwks ? { jwks: existing.jwks } : {}),
            ...(asymmetricJwsAlgorithms.some((alg) => alg === storedAlg)
              ? { token_endpoint_auth_signing_alg: storedAlg }
              : {}),
          }
        : {};
      const described = clientFromMetadata({ ...linked, ...changes, client_id: id }, existing);
      return updatedClient(existing, described, named);
    },
    secret,
  );
}

/** A client's next version, and whether it moved to a secret-based method without having a secret. */
interface UpdatedClient {
  readonly client: Client;
  readonly needsSecret: boolean;
}

/**
 * Applies `update` to the stored client under its lock. A secret the new version needs is
 * generated and hashed before the lock is taken, from a first read; should the client have
 * changed so that the read under the lock needs one after all, that is done and tried again.
 * A `given` secret is checked and hashed before the lock too, and set whatever the client held.
 */
async function changeClientMetadata(
  storage: ClientRegistry,
  hasher: SecretHasher,
  id: string,
  update: (existing: Client) => UpdatedClient,
  given?: string,
): Promise<ClientWithSecret> {
  let fresh: { readonly clientSecret: string; readonly secretHash: string } | undefined;
  if (given !== undefined) {
    // Checked before hashing, so an unknown client or one that would hold no secret is refused
    // without the wait, and again under the lock: the client may change meanwhile.
    checkSecret(given);
    checkTakesSecret(update(await requireClient(storage, id)).client);
    fresh = { clientSecret: given, secretHash: await hasher.hash(given) };
  }
  for (;;) {
    if (fresh === undefined && update(await requireClient(storage, id)).needsSecret) {
      const clientSecret = generateClientSecret();
      fresh = { clientSecret, secretHash: await hasher.hash(clientSecret) };
    }
    const secret = fresh;
    let withSecret: string | undefined;
    const client = await changeClient(storage, id, (existing) => {
      const { client: next, needsSecret } = update(existing);
      if (given !== undefined && secret !== undefined) {
        checkTakesSecret(next);
        withSecret = secret.clientSecret;
        return { ...next, secretHash: secret.secretHash, secretUpdatedAt: Date.now() };
      }
      if (!needsSecret) return next;
      if (secret === undefined) return undefined;
      withSecret = secret.clientSecret;
      return { ...next, secretHash: secret.secretHash, secretUpdatedAt: Date.now() };
    });
    if (client !== undefined) return withSecret !== undefined ? { client, clientSecret: withSecret } : { client };
  }
}

/**
 * Reads the client, derives its new version and writes it, in one transaction holding the client's
 * lock: a change made meanwhile by another request or instance is never written over with old
 * values. `change` may answer undefined to write nothing.
 */
async function changeClient<C extends Client | undefined>(
  storage: ClientRegistry,
  id: string,
  change: (existing: Client) => C,
): Promise<C> {
  return storage.transaction(
    async (tx) => {
      const client = change(await requireClient(tx, id));
      if (client === undefined) return client;
      try {
        await tx.updateClient(client);
      } catch (error) {
        // Deleted between the read and the write by a caller of the store's own deleteClient, which takes no lock.
        if (error instanceof StorageNotFoundError) throw notFound(id);
        if (error instanceof StorageInvalidTextError) {
          throw new ClientRegistrationError('invalid_client_metadata', error.message);
        }
        throw error;
      }
      return client;
    },
    { exclusive: clientLock(id) },
  );
}

/**
 * Deletes a client (RFC 7592 §2.3) under the lock its changes hold: a change already under way
 * finishes first, and can never write the deleted client's values (its secret among them) over a
 * client registered again under the same id.
 *
 * @throws ClientRegistrationError `not_found`
 */
export async function deleteRegisteredClient(storage: ClientRegistry, id: string): Promise<void> {
  const deleted = await storage.transaction((tx) => tx.deleteClient(id), { exclusive: clientLock(id) });
  if (!deleted) throw notFound(id);
}

/** The name of the lock a change or a deletion of the client holds. */
function clientLock(id: string): string {
  return `client:${id}`;
}

function checkClientIdUnchanged(input: ClientMetadataInput, id: string): void {
  if (input.client_id !== undefined && input.client_id !== id) {
    throw new ClientRegistrationError('invalid_client_metadata', 'client_id cannot be changed');
  }
}

/** `existing` with the RFC 7591 fields in `named` taken from `described`, and nothing else changed. */
function updatedClient(existing: Client, described: Client, named: readonly string[]): UpdatedClient {
  const client: Record<string, unknown> = { ...existing };
  for (const [field, key] of Object.entries(clientFields)) {
    if (!named.includes(field)) continue;
    // What output shows for a client stored without a method stands for "unset": sending back what
    // GET gave must not narrow it to Basic only.
    if (
      key === 'tokenEndpointAuthMethod' &&
      existing.tokenEndpointAuthMethod === undefined &&
      described.tokenEndpointAuthMethod === shownAuthMethod(existing)
    ) {
      continue;
    }
    if (described[key] === undefined) delete client[key];
    else client[key] = described[key];
  }
  const kept = metadataFields.filter((field) => named.includes(field));
  if (kept.length > 0) {
    const metadata: Record<string, unknown> = { ...existing.metadata };
    for (const field of kept) {
      // RFC 7592 §2.2: a null value asks for the field to be removed.
      const value = described.metadata?.[field];
      if (value === undefined || value === null) delete metadata[field];
      else metadata[field] = value;
    }
    if (Object.keys(metadata).length > 0) client.metadata = metadata;
    else delete client.metadata;
  }
  let needsSecret = false;
  if (named.includes('token_endpoint_auth_method')) {
    const method = described.tokenEndpointAuthMethod;
    needsSecret = usesClientSecret(method) && existing.secretHash === undefined;
    // A client that no longer authenticates with its secret must not keep one that would still verify.
    if (!usesClientSecret(method)) {
      delete client.secretHash;
      delete client.secretUpdatedAt;
    }
  }
  return { client: client as unknown as Client, needsSecret };
}

/**
 * Gives a client a new secret (generated unless given) and returns it, once.
 *
 * @throws ClientRegistrationError `not_found` or `invalid_client_metadata`
 */
export async function rotateClientSecret(
  storage: ClientRegistry,
  hasher: SecretHasher,
  id: string,
  secret?: string,
): Promise<ClientWithSecret & { readonly clientSecret: string }> {
  // Checked once before hashing, so an unknown client is refused without the wait, and again
  // under the lock: hashing takes long, and the client read before it may have changed since.
  checkHoldsSecret(await requireClient(storage, id));
  const clientSecret = checkSecret(secret ?? generateClientSecret());
  const secretHash = await hasher.hash(clientSecret);
  const client = await changeClient(storage, id, (existing) => {
    checkHoldsSecret(existing);
    return { ...existing, secretHash, secretUpdatedAt: Date.now() };
  });
  return { client, clientSecret };
}

function checkHoldsSecret(client: Client): void {
  if (!usesClientSecret(client.tokenEndpointAuthMethod)) {
    throw new ClientRegistrationError(
      'invalid_client_metadata',
      `client "${client.id}" authenticates with ${String(client.tokenEndpointAuthMethod)}, not a secret; ` +
        'switching it to client_secret_basic or client_secret_post gives it a generated secret',
    );
  }
}

/** Refuses a secret for a client whose method uses none, as registration does. */
function checkTakesSecret(client: Client): void {
  if (!usesClientSecret(client.tokenEndpointAuthMethod)) {
    throw new ClientRegistrationError(
      'invalid_client_metadata',
      `a ${String(client.tokenEndpointAuthMethod)} client has no secret`,
    );
  }
}

/** @throws ClientRegistrationError `not_found` */
export async function requireClient(storage: ClientStore, id: string): Promise<Client> {
  const client = await storage.getClient(id);
  if (!client) throw notFound(id);
  return client;
}

function notFound(id: string): ClientRegistrationError {
  return new ClientRegistrationError('not_found', `client "${id}" does not exist`);
}

/** A new random client id: 128 bits, base64url. */
export function generateClientId(): string {
  return randomBytes(16).toString('base64url');
}

/** A new random client secret: 256 bits, base64url. */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

function checkSecret(secret: string): string {
  // bcrypt reads 72 bytes at most; a longer secret would be silently truncated.
  if (secret.length < 8 || Buffer.byteLength(secret, 'utf8') > 72) {
    throw new ClientRegistrationError('invalid_client_metadata', 'a client secret must be 8 to 72 bytes long');
  }
  if (!/^[\x20-\x7e]+$/.test(secret)) {
    throw new ClientRegistrationError('invalid_client_metadata', 'a client secret must be printable ASCII');
  }
  return secret;
}
