import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { dropSchema, postgresUrl, probePostgres, randomSchemaName } from '../../test/storage/postgres-test-database.js';
import { verifyClientAssertion } from '../client-auth/index.js';
import { systemClock, type Client } from '../core/index.js';
import { defaultIntrospectionPolicy } from '../grants/index.js';
import { bcryptHasher, type SecretHasher } from '../secrets/index.js';
import { StorageInvalidTextError, type Storage } from '../storage/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { createPostgresStore } from '../storage/postgres/index.js';
import { createSqliteStore } from '../storage/sqlite/index.js';
import {
  ClientRegistrationError,
  clientFromMetadata,
  clientToMetadata,
  deleteRegisteredClient,
  patchRegisteredClient,
  registerClient,
  rotateClientSecret,
  updateRegisteredClient,
} from './client-registration.js';

const hasher = bcryptHasher({ cost: 4 });

async function expectRegistrationError(
  work: Promise<unknown>,
  kind: ClientRegistrationError['kind'],
  message?: string,
) {
  const error = await work.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ClientRegistrationError);
  expect((error as ClientRegistrationError).kind).toBe(kind);
  if (message) expect((error as ClientRegistrationError).message).toContain(message);
}

describe('clientFromMetadata', () => {
  it('applies RFC 7591 §2 defaults: client_secret_basic and the client_credentials grant', () => {
    const client = clientFromMetadata({ client_id: 'a' });
    expect(client).toMatchObject({
      id: 'a',
      tokenEndpointAuthMethod: 'client_secret_basic',
      grantTypes: ['client_credentials'],
      scopes: [],
      audience: [],
    });
  });

  it('keeps the RFC 7591 §2 descriptive fields of the right types as they are', () => {
    const descriptive = {
      client_name: 'Reports',
      client_uri: 'https://reports.example/',
      logo_uri: 'HTTPS://[2001:db8::1]:8443/logo.png?size=64#top',
      contacts: ['ops@reports.example', 'https://reports.example/contact'],
      tos_uri: 'http://reports.example/tos',
      policy_uri: 'https://reports.example/policy',
      software_id: '4NRB1-0XZABZI9E6-5SM3R',
      software_version: '2.1',
    };
    expect(clientFromMetadata({ client_id: 'a', ...descriptive }).metadata).toStrictEqual(descriptive);
  });

  it('keeps introspection where the default introspection policy (RFC 7662 §2.1) reads it', () => {
    const token = { clientId: 'someone-else' } as Parameters<typeof defaultIntrospectionPolicy>[1];
    const resourceServer = clientFromMetadata({ client_id: 'api', introspection: true });
    expect(resourceServer.metadata).toStrictEqual({ introspection: true });
    expect(clientToMetadata(resourceServer)).toMatchObject({ introspection: true });
    expect(defaultIntrospectionPolicy(resourceServer, token)).toBe(true);
    expect(defaultIntrospectionPolicy(clientFromMetadata({ client_id: 'api', introspection: false }), token)).toBe(
      false,
    );
    expect(() => clientFromMetadata({ introspection: 'yes' })).toThrow(
      'introspection must be true, false or a non-empty array of audience strings',
    );
  });

  it('keeps an introspection audience list, which lets the client see only the tokens for those audiences (RFC 7662 §4)', () => {
    const api = clientFromMetadata({ client_id: 'api', introspection: ['https://api.example'] });
    expect(clientToMetadata(api)).toMatchObject({ introspection: ['https://api.example'] });
    const token = (audience: string[]) =>
      ({ clientId: 'someone-else', audience }) as unknown as Parameters<typeof defaultIntrospectionPolicy>[1];
    expect(defaultIntrospectionPolicy(api, token(['https://api.example']))).toBe(true);
    expect(defaultIntrospectionPolicy(api, token(['https://other.example']))).toBe(false);
    for (const introspection of [[], [''], [42], 'https://api.example', ['https://api.example other']]) {
      expect(() => clientFromMetadata({ client_id: 'api', introspection })).toThrow('introspection must be');
    }
  });

  it('ignores metadata it does not understand (RFC 7591 §2) but keeps descriptive fields', () => {
    const client = clientFromMetadata({ client_id: 'a', client_name: 'A', frobnicate: true });
    expect(clientToMetadata(client)).toMatchObject({ client_name: 'A' });
    expect(clientToMetadata(client)).not.toHaveProperty('frobnicate');
  });

  it.each([
    ['a client_id with a space', { client_id: 'a b' }, 'client_id'],
    ['a scope with a quote', { scope: 'read "write"' }, 'scope'],
    ['the client_id "."', { client_id: '.' }, 'client_id cannot be "." or ".."'],
    ['the client_id ".."', { client_id: '..' }, 'client_id cannot be "." or ".."'],
    ['jwks_uri', { jwks_uri: 'https://example.com/jwks' }, 'jwks_uri'],
    ['an empty grant_types', { grant_types: [] }, 'grant_types'],
    ['a client_name that is an object', { client_name: { en: 'A' } }, 'client_name must be a string'],
    ['a client_name that is null', { client_name: null }, 'client_name must be a string'],
    [
      'a client_name nested thousands of levels deep',
      { client_name: JSON.parse(`${'['.repeat(4500)}${']'.repeat(4500)}`) as unknown },
      'client_name must be a string',
    ],
    ['contacts that is a string', { contacts: 'ops@example.com' }, 'contacts must be an array of strings'],
    ['contacts holding a number', { contacts: ['ops@example.com', 42] }, 'contacts must be an array of strings'],
    ['a client_uri that is a number', { client_uri: 42 }, 'client_uri must be an absolute http or https URL string'],
    ['a logo_uri that is not a URL', { logo_uri: 'logo.png' }, 'logo_uri must be an absolute http or https URL'],
    ['a tos_uri of another scheme', { tos_uri: 'javascript:alert(1)' }, 'tos_uri must be an absolute http or https'],
    ['a policy_uri that is an array', { policy_uri: ['https://example.com'] }, 'policy_uri must be'],
    // RFC 3986 §4.3: the URL parser drops tabs, line breaks and outer spaces and mends a missing
    // `//`; the value is kept as given, so it must already be an absolute URI.
    ['a client_uri with outer spaces', { client_uri: ' https://example.com ' }, 'client_uri must be an absolute'],
    ['a client_uri with a line break', { client_uri: 'https://exa\nmple.com' }, 'client_uri must be an absolute'],
    ['a tos_uri with a tab', { tos_uri: 'https://example.com/\tterms' }, 'tos_uri must be an absolute'],
    ['a logo_uri without //', { logo_uri: 'https:evil.example' }, 'logo_uri must be an absolute'],
    ['a logo_uri with one slash', { logo_uri: 'https:/evil.example' }, 'logo_uri must be an absolute'],
    ['a policy_uri with a backslash', { policy_uri: 'https:\\\\evil.example' }, 'policy_uri must be an absolute'],
    ['a client_uri with no host', { client_uri: 'https:///path' }, 'client_uri must be an absolute'],
    ['a software_id that is a number', { software_id: 7 }, 'software_id must be a string'],
    ['a software_version that is a boolean', { software_version: true }, 'software_version must be a string'],
  ])('refuses %s as invalid_client_metadata', (_title, input, message) => {
    expect(() => clientFromMetadata(input)).toThrow(ClientRegistrationError);
    expect(() => clientFromMetadata(input)).toThrow(message);
  });
});

describe('clientFromMetadata and audience', () => {
  it('splits an audience string on spaces, as a token request names audiences', () => {
    expect(clientFromMetadata({ audience: 'https://a.example  https://b.example' }).audience).toEqual([
      'https://a.example',
      'https://b.example',
    ]);
  });

  it.each([
    ['an empty audience', ['https://a.example', '']],
    ['an audience holding a space', ['https://a.example https://b.example']],
  ])(
    'RFC 7591 §3.2.2: refuses an array with %s, which no token request could name, as invalid_client_metadata',
    (_title, audience) => {
      expect(() => clientFromMetadata({ audience })).toThrow(ClientRegistrationError);
      expect(() => clientFromMetadata({ audience })).toThrow(
        'audience must be a space-separated string or an array of audience values, none empty or holding a space',
      );
    },
  );
});

describe('clientFromMetadata and repeated list values', () => {
  it.each([
    ['grant_types', { grant_types: ['client_credentials', 'client_credentials'] }],
    ['scope', { scope: 'orders.read profile orders.read' }],
    ['audience', { audience: ['https://a.example', 'https://b.example', 'https://a.example'] }],
    ['audience', { audience: 'https://a.example https://a.example' }],
  ])(
    'RFC 7591 §2 / §3.2.2: refuses %s naming a value twice as invalid_client_metadata instead of storing it twice',
    (field, metadata) => {
      let thrown: unknown;
      try {
        clientFromMetadata(metadata);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ClientRegistrationError);
      expect((thrown as ClientRegistrationError).kind).toBe('invalid_client_metadata');
      expect((thrown as ClientRegistrationError).message).toContain(`${field} names`);
    },
  );

  it('still accepts each value once, and repeated spaces between them', () => {
    const client = clientFromMetadata({ scope: 'a  b', audience: 'https://a.example  https://b.example' });
    expect(client.scopes).toEqual(['a', 'b']);
    expect(client.audience).toEqual(['https://a.example', 'https://b.example']);
  });
});

describe('clientFromMetadata and jwks (RFC 7591 §2, RFC 7517 §5)', () => {
  const publicJwk = ({ publicKey }: { publicKey: KeyObject }) =>
    publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const rsa2048 = publicJwk(generateKeyPairSync('rsa', { modulusLength: 2048 }));
  const p256 = publicJwk(generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  const ed25519 = publicJwk(generateKeyPairSync('ed25519'));
  const privateKeyJwt = (jwks: unknown) => ({ token_endpoint_auth_method: 'private_key_jwt', jwks });

  it('accepts RSA (2048 bits), EC P-256 and Ed25519 public keys, with a matching alg and use "sig"', () => {
    const jwks = { keys: [{ ...rsa2048, alg: 'PS256', use: 'sig', kid: 'r1' }, p256, { ...ed25519, alg: 'EdDSA' }] };
    expect(clientFromMetadata(privateKeyJwt(jwks)).jwks).toStrictEqual(jwks);
  });

  it('keeps number members JSON carries exactly, as they are (RFC 8259 §6)', () => {
    const jwks = {
      keys: [{ ...p256, rank: 1.5, count: Number.MAX_SAFE_INTEGER, tiny: 5e-324, negative: -2.5 }],
    };
    expect(clientFromMetadata(privateKeyJwt(jwks)).jwks).toStrictEqual(jwks);
  });

  it('RFC 7523 §3 accepts a key with kid, alg, key_ops and ext that then verifies an assertion', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = { ...publicJwk({ publicKey }), kid: 'k1', alg: 'ES256', key_ops: ['verify'], ext: true, use: 'sig' };
    const client = { ...clientFromMetadata({ client_id: 'svc', ...privateKeyJwt({ keys: [key] }) }), id: 'svc' };
    const audience = 'https://as.example/token';
    const assertion = await new SignJWT({ jti: 'a1' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('svc')
      .setSubject('svc')
      .setAudience(audience)
      .setExpirationTime('1m')
      .sign(privateKey);
    const replay = createMemoryStore();
    await expect(
      verifyClientAssertion(assertion, client, { audiences: [audience], replay, clock: systemClock }),
    ).resolves.toBeUndefined();
  });

  it('RFC 7591 §2 keeps token_endpoint_auth_signing_alg, and assertions signed otherwise are refused (RFC 8725 §3.1)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const metadata = {
      client_id: 'pss',
      ...privateKeyJwt({ keys: [publicJwk({ publicKey })] }),
      token_endpoint_auth_signing_alg: 'PS256',
    };
    const client = clientFromMetadata(metadata);
    expect(client.metadata).toStrictEqual({ token_endpoint_auth_signing_alg: 'PS256' });
    expect(clientToMetadata(client)).toMatchObject({ token_endpoint_auth_signing_alg: 'PS256' });
    const audience = 'https://as.example/token';
    const signed = (alg: string, jti: string) =>
      new SignJWT({ jti })
        .setProtectedHeader({ alg })
        .setIssuer('pss')
        .setSubject('pss')
        .setAudience(audience)
        .setExpirationTime('1m')
        .sign(privateKey);
    const options = { audiences: [audience], replay: createMemoryStore(), clock: systemClock };
    // The same RSA key verifies an RS256 signature too: only the registered algorithm is taken.
    await expect(verifyClientAssertion(await signed('RS256', 'a1'), client, options)).rejects.toThrow(
      /algorithm not accepted/,
    );
    await expect(verifyClientAssertion(await signed('PS256', 'a2'), client, options)).resolves.toBeUndefined();
    // Without the field, the key takes either.
    const unpinned = clientFromMetadata({ ...metadata, token_endpoint_auth_signing_alg: undefined });
    await expect(verifyClientAssertion(await signed('RS256', 'a3'), unpinned, options)).resolves.toBeUndefined();
  });

  it.each([
    ['none (RFC 7591 §2: "MUST NOT be used")', 'none', 'token_endpoint_auth_signing_alg must be one of RS256'],
    ['a MAC', 'HS256', 'token_endpoint_auth_signing_alg must be one of RS256'],
    ['a number', 256, 'token_endpoint_auth_signing_alg must be one of RS256'],
    ['an algorithm no key in jwks can sign with', 'ES384', 'token_endpoint_auth_signing_alg is ES384, which no key'],
  ])('refuses a token_endpoint_auth_signing_alg that is %s', (_title, alg, message) => {
    const metadata = {
      ...privateKeyJwt({ keys: [rsa2048, { ...p256, alg: 'ES256' }] }),
      token_endpoint_auth_signing_alg: alg,
    };
    expect(() => clientFromMetadata(metadata)).toThrow(ClientRegistrationError);
    expect(() => clientFromMetadata(metadata)).toThrow(message);
  });

  it('RFC 7517 §5 ignores JWK Set members other than keys: they are not kept', () => {
    const jwks = { keys: [p256], comment: 'rotated monthly', extra: { nested: [1, 2] } };
    expect(clientFromMetadata(privateKeyJwt(jwks)).jwks).toStrictEqual({ keys: [p256] });
  });

  it.each([
    ['a string', 'keys', 'jwks must be a JWK Set'],
    ['keys that are not an array', { keys: {} }, 'jwks must be a JWK Set'],
    ['no keys', { keys: [] }, 'jwks must hold at least one key'],
    ['a key that is a string', { keys: ['key'] }, 'jwks key 1 must be a JSON object'],
    ['a key that is not a JWK', { keys: [{ kty: 'RSA', foo: 1 }] }, 'jwks key 1 is not a valid public JWK'],
    ['an unknown key type', { keys: [{ kty: 'XYZ', x: 'AAAA' }] }, 'jwks key 1 is not a valid public JWK'],
    ['a private member', { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', d: 'AAAA' }] }, 'public keys only'],
    ['a symmetric key', { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, 'public keys only'],
    [
      'an AKP private seed',
      { keys: [{ kty: 'AKP', alg: 'ML-DSA-44', pub: 'AAAA', priv: 'AAAA' }] },
      'public keys only',
    ],
    [
      'a member nested deeply',
      { keys: [{ ...ed25519, x5c: JSON.parse(`${'['.repeat(4500)}${']'.repeat(4500)}`) as unknown }] },
      'jwks key 1: member "x5c" must be a string, a number, a boolean or an array of strings',
    ],
    [
      'an RSA key of 1024 bits',
      { keys: [publicJwk(generateKeyPairSync('rsa', { modulusLength: 1024 }))] },
      'at least 2048 bits',
    ],
    [
      'an EC key on secp256k1',
      { keys: [p256, publicJwk(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }))] },
      'jwks key 2 must be an RSA key, an EC key on P-256, P-384 or P-521, or an Ed25519 key',
    ],
    ['an Ed448 key', { keys: [publicJwk(generateKeyPairSync('ed448'))] }, 'jwks key 1 must be an RSA key'],
    ['an alg the key cannot sign', { keys: [{ ...p256, alg: 'RS256' }] }, 'jwks key 1: alg must be one of ES256'],
    ['a key for encryption', { keys: [{ ...rsa2048, use: 'enc' }] }, 'jwks key 1: use must be "sig"'],
    // RFC 7517 §4.3-4.5: such keys were stored, yet no assertion could ever be verified with them.
    ['an alg that is an array', { keys: [{ ...p256, alg: ['ES256'] }] }, 'jwks key 1: alg must be a string'],
    ['a kid that is a number', { keys: [{ ...p256, kid: 7 }] }, 'jwks key 1: kid must be a string'],
    ['key_ops without verify', { keys: [{ ...p256, key_ops: ['sign'] }] }, 'jwks key 1: key_ops must include "verify"'],
    ['key_ops that is a string', { keys: [{ ...p256, key_ops: 'verify' }] }, 'jwks key 1: key_ops must be an array'],
    [
      'key_ops naming an operation twice',
      { keys: [{ ...p256, key_ops: ['verify', 'verify'] }] },
      'jwks key 1: key_ops must not name an operation twice',
    ],
    ['ext that is not a boolean', { keys: [{ ...p256, ext: 'true' }] }, 'jwks key 1: ext must be a boolean'],
  ])('refuses jwks with %s, naming jwks', (_title, jwks, message) => {
    expect(() => clientFromMetadata(privateKeyJwt(jwks))).toThrow(ClientRegistrationError);
    expect(() => clientFromMetadata(privateKeyJwt(jwks))).toThrow(message);
  });

  // RFC 8259 §6: JSON has no Infinity and keeps no -0; a parsed 2^64 has already lost digits.
  it.each([
    ['1e400 (Infinity once parsed)', JSON.parse('1e400') as number],
    ['-1e400', JSON.parse('-1e400') as number],
    ['-0', JSON.parse('-0') as number],
    ['12345678901234567890', JSON.parse('12345678901234567890') as number],
    ['NaN', Number.NaN],
  ])('refuses a jwks key member of %s, which no store would give back as sent', (_title, value) => {
    const jwks = { keys: [{ ...p256, note: value }] };
    expect(() => clientFromMetadata(privateKeyJwt(jwks))).toThrow(ClientRegistrationError);
    expect(() => clientFromMetadata(privateKeyJwt(jwks))).toThrow(/^jwks .*number JSON (cannot keep|keeps exactly)/);
  });
});

describe('clientToMetadata', () => {
  it('shows what the client is even when a stored metadata entry is named like a standard field, and never a client_secret entry', () => {
    const client = {
      id: 'real',
      secretHash: '$2b$04$abcdefghijklmnopqrstuuAbCdEfGhIjKlMnOpQrStUvWxYz01234',
      grantTypes: ['client_credentials'],
      scopes: ['read'],
      audience: ['https://api.example'],
      tokenEndpointAuthMethod: 'client_secret_post',
      metadata: {
        client_id: 'someone-else',
        scope: 'admin everything',
        token_endpoint_auth_method: 'none',
        grant_types: ['password'],
        audience: ['https://other.example'],
        client_secret: 'not-a-secret-to-show',
        client_secret_expires_at: 99,
        client_name: 'Real client',
      },
    } as Client;
    expect(clientToMetadata(client)).toStrictEqual({
      client_id: 'real',
      grant_types: ['client_credentials'],
      scope: 'read',
      token_endpoint_auth_method: 'client_secret_post',
      audience: ['https://api.example'],
      client_name: 'Real client',
      client_secret_expires_at: 0,
    });
  });
});

describe('registerClient', () => {
  it('stores only a bcrypt hash of the generated secret, which verifies', async () => {
    const storage = createMemoryStore();
    const { client, clientSecret } = await registerClient(storage, hasher, { client_id: 'svc' });
    const stored = await storage.getClient('svc');
    expect(stored?.secretHash).toMatch(/^\$2[aby]\$04\$/);
    expect(JSON.stringify(stored)).not.toContain(clientSecret!);
    expect(await hasher.verify(clientSecret!, stored!.secretHash!)).toBe(true);
    expect(clientToMetadata(client)).not.toHaveProperty('secretHash');
  });

  it.each([
    ['shorter than 8 bytes', 'short'],
    ['longer than 72 bytes', 'x'.repeat(73)],
    ['not printable ASCII', 'sécret-with-accent'],
  ])('refuses a chosen secret %s', async (_title, secret) => {
    await expectRegistrationError(
      registerClient(createMemoryStore(), hasher, { client_id: 'svc' }, secret),
      'invalid_client_metadata',
    );
  });

  it('refuses a secret for a private_key_jwt client', async () => {
    const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] };
    await expectRegistrationError(
      registerClient(
        createMemoryStore(),
        hasher,
        { token_endpoint_auth_method: 'private_key_jwt', jwks },
        'a-chosen-secret',
      ),
      'invalid_client_metadata',
    );
  });

  it('reports a taken id as a conflict', async () => {
    const storage = createMemoryStore();
    await registerClient(storage, hasher, { client_id: 'svc' });
    await expectRegistrationError(registerClient(storage, hasher, { client_id: 'svc' }), 'conflict');
  });
});

describe('metadata holding text no store can keep (RFC 7591 §3.2.2)', () => {
  it('refuses a lone surrogate or U+0000 in registration and in a change (the CLI path), leaving the client as it was', async () => {
    const storage = createMemoryStore();
    await registerClient(storage, hasher, { client_id: 'svc', client_name: 'Before' });
    const stored = await storage.getClient('svc');
    for (const changes of [
      { client_name: 'x\ud800' },
      { contacts: ['\udc00'] },
      { client_name: 'nul\u0000' },
      { ['\udbff']: 'member name' },
    ]) {
      await expectRegistrationError(
        registerClient(storage, hasher, { client_id: 'other', ...changes }),
        'invalid_client_metadata',
        'lone UTF-16 surrogate or U+0000',
      );
      await expectRegistrationError(patchRegisteredClient(storage, hasher, 'svc', changes), 'invalid_client_metadata');
      await expectRegistrationError(updateRegisteredClient(storage, hasher, 'svc', changes), 'invalid_client_metadata');
    }
    expect(await storage.getClient('svc')).toStrictEqual(stored);
    expect(await storage.getClient('other')).toBeUndefined();
  });

  it("answers a store's refusal of such text as invalid_client_metadata, not as a failure of the server", async () => {
    const storage = createMemoryStore();
    const refusing: Storage = {
      ...storage,
      createClient: () => Promise.reject(new StorageInvalidTextError('client field metadata')),
      transaction: (work, options) =>
        storage.transaction(
          (tx) =>
            work({ ...tx, updateClient: () => Promise.reject(new StorageInvalidTextError('client field metadata')) }),
          options,
        ),
    };
    await expectRegistrationError(registerClient(refusing, hasher, { client_id: 'svc' }), 'invalid_client_metadata');
    await registerClient(storage, hasher, { client_id: 'svc' });
    await expectRegistrationError(
      updateRegisteredClient(refusing, hasher, 'svc', { client_name: 'n' }),
      'invalid_client_metadata',
    );
  });
});

describe('updateRegisteredClient and rotateClientSecret', () => {
  it('keep the secret across a metadata update and replace it on rotation', async () => {
    const storage = createMemoryStore();
    const { clientSecret } = await registerClient(storage, hasher, { client_id: 'svc', scope: 'a' });
    const updated = await updateRegisteredClient(storage, hasher, 'svc', { scope: 'a b' });
    expect(updated.client.scopes).toEqual(['a', 'b']);
    expect(updated).not.toHaveProperty('clientSecret');
    expect(await hasher.verify(clientSecret!, (await storage.getClient('svc'))!.secretHash!)).toBe(true);

    const rotated = await rotateClientSecret(storage, hasher, 'svc');
    const hash = (await storage.getClient('svc'))!.secretHash!;
    expect(await hasher.verify(clientSecret!, hash)).toBe(false);
    expect(await hasher.verify(rotated.clientSecret, hash)).toBe(true);
  });

  it('report an unknown client as not_found', async () => {
    await expectRegistrationError(updateRegisteredClient(createMemoryStore(), hasher, 'ghost', {}), 'not_found');
    await expectRegistrationError(rotateClientSecret(createMemoryStore(), hasher, 'ghost'), 'not_found');
  });

  it('drops the secret hash when a client moves to private_key_jwt', async () => {
    const storage = createMemoryStore();
    await registerClient(storage, hasher, { client_id: 'svc' });
    const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] };
    const updated = await updateRegisteredClient(storage, hasher, 'svc', {
      token_endpoint_auth_method: 'private_key_jwt',
      jwks,
    });
    expect(updated.client.secretHash).toBeUndefined();
    expect((await storage.getClient('svc'))?.secretHash).toBeUndefined();
  });

  it.each([
    ['patchRegisteredClient', patchRegisteredClient],
    ['updateRegisteredClient', updateRegisteredClient],
  ])(
    '%s gives a client moved from private_key_jwt back to a secret-based method a generated secret, returned once',
    async (_name, change) => {
      const storage = createMemoryStore();
      const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] };
      await registerClient(storage, hasher, { client_id: 'svc', token_endpoint_auth_method: 'private_key_jwt', jwks });
      await expectRegistrationError(
        rotateClientSecret(storage, hasher, 'svc'),
        'invalid_client_metadata',
        'switching it to client_secret_basic or client_secret_post gives it a generated secret',
      );
      const moved = await change(storage, hasher, 'svc', { token_endpoint_auth_method: 'client_secret_post' });
      const stored = await storage.getClient('svc');
      expect(stored?.tokenEndpointAuthMethod).toBe('client_secret_post');
      expect(moved.clientSecret).toMatch(/^[\w-]{43}$/);
      expect(await hasher.verify(moved.clientSecret!, stored!.secretHash!)).toBe(true);
      expect(JSON.stringify(stored)).not.toContain(moved.clientSecret!);
      // Once it has a secret, another change keeps it and returns none.
      const again = await change(storage, hasher, 'svc', { token_endpoint_auth_method: 'client_secret_basic' });
      expect(again).not.toHaveProperty('clientSecret');
      expect((await storage.getClient('svc'))?.secretHash).toBe(stored?.secretHash);
    },
  );
});

describe('client updates keep what they are not told to change', () => {
  const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] };
  // Stored through the library: fields RFC 7591 cannot express, a metadata entry this server does
  // not understand and a field of some other version.
  const libraryClient = {
    id: 'lib',
    secretHash: '$2b$04$abcdefghijklmnopqrstuuAbCdEfGhIjKlMnOpQrStUvWxYz01234',
    grantTypes: ['client_credentials'],
    scopes: ['a'],
    defaultScopes: ['a'],
    audience: ['https://api.example'],
    tokenEndpointAuthMethod: 'client_secret_post',
    metadata: { tenant: 't1', client_name: 'Library made' },
    createdAt: 1_600_000_000_123,
    secretUpdatedAt: 1_600_000_000_456,
    owner: { team: 'payments' },
  } as Client;

  async function storeWith(client: Client) {
    const storage = createMemoryStore();
    await storage.createClient(client);
    return storage;
  }

  it('patchRegisteredClient changes only the named field', async () => {
    const storage = await storeWith(libraryClient);
    await patchRegisteredClient(storage, hasher, 'lib', { scope: 'a b c' });
    expect(await storage.getClient('lib')).toStrictEqual({ ...libraryClient, scopes: ['a', 'b', 'c'] });
    await patchRegisteredClient(storage, hasher, 'lib', { client_name: 'Renamed', frobnicate: true });
    expect(await storage.getClient('lib')).toStrictEqual({
      ...libraryClient,
      scopes: ['a', 'b', 'c'],
      metadata: { tenant: 't1', client_name: 'Renamed' },
    });
    await patchRegisteredClient(storage, hasher, 'lib', { client_name: null });
    expect((await storage.getClient('lib'))?.metadata).toStrictEqual({ tenant: 't1' });
  });

  it('patchRegisteredClient leaves an unset method and creation date unset', async () => {
    const { tokenEndpointAuthMethod: _method, createdAt: _created, ...unset } = libraryClient;
    const storage = await storeWith(unset);
    await patchRegisteredClient(storage, hasher, 'lib', { audience: 'https://other.example' });
    expect(await storage.getClient('lib')).toStrictEqual({ ...unset, audience: ['https://other.example'] });
  });

  it('patchRegisteredClient checks a change against the stored fields it depends on', async () => {
    const storage = await storeWith(libraryClient);
    await expectRegistrationError(
      patchRegisteredClient(storage, hasher, 'lib', { token_endpoint_auth_method: 'private_key_jwt' }),
      'invalid_client_metadata',
      'private_key_jwt needs jwks',
    );
    await expectRegistrationError(
      patchRegisteredClient(storage, hasher, 'lib', { token_endpoint_auth_method: 'none' }),
      'invalid_client_metadata',
      'public client',
    );
    await expectRegistrationError(
      patchRegisteredClient(storage, hasher, 'lib', { client_id: 'other' }),
      'invalid_client_metadata',
      'client_id cannot be changed',
    );
    expect(await storage.getClient('lib')).toStrictEqual(libraryClient);
    await expectRegistrationError(
      patchRegisteredClient(storage, hasher, 'lib', { jwks, token_endpoint_auth_signing_alg: 'RS256' }),
      'invalid_client_metadata',
      'token_endpoint_auth_signing_alg is RS256, which no key in jwks can sign with',
    );
    await patchRegisteredClient(storage, hasher, 'lib', { jwks });
    await patchRegisteredClient(storage, hasher, 'lib', { token_endpoint_auth_method: 'private_key_jwt' });
    const { secretHash: _hash, secretUpdatedAt: _updated, ...kept } = libraryClient;
    expect(await storage.getClient('lib')).toStrictEqual({ ...kept, tokenEndpointAuthMethod: 'private_key_jwt', jwks });
  });

  it.each([
    ['a registered method', libraryClient],
    [
      'no registered method (Basic and form-post both accepted)',
      { ...libraryClient, tokenEndpointAuthMethod: undefined },
    ],
  ])(
    'updateRegisteredClient with the metadata output shows changes nothing (RFC 7592 §2.2), for %s',
    async (_title, client) => {
      const { tokenEndpointAuthMethod, ...rest } = client;
      const stored = (tokenEndpointAuthMethod === undefined ? rest : client) as Client;
      const storage = await storeWith(stored);
      await updateRegisteredClient(storage, hasher, 'lib', clientToMetadata(stored));
      expect(await storage.getClient('lib')).toStrictEqual(stored);
      await patchRegisteredClient(storage, hasher, 'lib', {
        token_endpoint_auth_method: clientToMetadata(stored).token_endpoint_auth_method,
      });
      expect(await storage.getClient('lib')).toStrictEqual(stored);
    },
  );

  it('updateRegisteredClient replaces the RFC 7591 metadata and keeps everything else', async () => {
    const storage = await storeWith(libraryClient);
    await updateRegisteredClient(storage, hasher, 'lib', {
      scope: 'b',
      token_endpoint_auth_method: 'client_secret_post',
    });
    const { metadata: _metadata, ...rest } = libraryClient;
    expect(await storage.getClient('lib')).toStrictEqual({
      ...rest,
      scopes: ['b'],
      audience: [],
      metadata: { tenant: 't1' },
    });
  });
});

const postgresUnavailable = await probePostgres();
const sqliteFolder = mkdtempSync(join(tmpdir(), 'tessera-registration-'));
const postgresSchema = randomSchemaName();
afterAll(async () => {
  rmSync(sqliteFolder, { recursive: true, force: true });
  if (postgresUnavailable === undefined) await dropSchema(postgresSchema);
});

const stores: [string, () => Storage][] = [
  ['memory', () => createMemoryStore()],
  ['SQLite', () => createSqliteStore({ filename: join(sqliteFolder, `${Math.random().toString(36).slice(2)}.db`) })],
  ...(postgresUnavailable === undefined
    ? [
        [
          'PostgreSQL',
          () => createPostgresStore({ connectionString: postgresUrl, schema: postgresSchema, maxConnections: 8 }),
        ] as [string, () => Storage],
      ]
    : []),
];

describe.each(stores)('concurrent changes of one client (%s)', (_name, open) => {
  async function withStore(work: (storage: Storage) => Promise<void>) {
    const storage = open();
    try {
      await work(storage);
    } finally {
      await storage.close();
    }
  }

  it('keeps a metadata change made while a secret rotation hashes, and the new secret verifies', () =>
    withStore(async (storage) => {
      const id = `rotating-${Math.random().toString(36).slice(2)}`;
      await registerClient(storage, hasher, { client_id: id, scope: 'before' });
      let hashing!: () => void;
      const hashStarted = new Promise<void>((resolve) => (hashing = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const slowHasher: SecretHasher = {
        ...hasher,
        hash: async (secret) => {
          hashing();
          await released;
          return hasher.hash(secret);
        },
      };
      const rotation = rotateClientSecret(storage, slowHasher, id);
      await hashStarted;
      await updateRegisteredClient(storage, hasher, id, { scope: 'after', client_name: 'Renamed' });
      release();
      const { clientSecret } = await rotation;
      const stored = await storage.getClient(id);
      expect(stored?.scopes).toEqual(['after']);
      expect(stored?.metadata).toEqual({ client_name: 'Renamed' });
      expect(await hasher.verify(clientSecret, stored!.secretHash!)).toBe(true);
    }));

  it('RFC 7517 §5: a JWK Set member other than keys, nested too deeply to be written, is ignored, not a failed write', () =>
    withStore(async (storage) => {
      const id = `nested-${Math.random().toString(36).slice(2)}`;
      const key = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
      const deep = JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`) as unknown;
      await registerClient(storage, hasher, {
        client_id: id,
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [key], deep },
      });
      expect((await storage.getClient(id))?.jwks).toStrictEqual({ keys: [key] });
      await updateRegisteredClient(storage, hasher, id, {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [key], deep },
      });
      expect((await storage.getClient(id))?.jwks).toStrictEqual({ keys: [key] });
    }));

  it('RFC 7592 §2.3: a delete waits for a change already under way, which never writes the deleted client over one registered again', () =>
    withStore(async (storage) => {
      const id = `recreated-${Math.random().toString(36).slice(2)}`;
      const first = await registerClient(storage, hasher, { client_id: id, scope: 'old' });
      // The change pauses once, inside its transaction, right after reading the client.
      let reading!: () => void;
      const read = new Promise<void>((resolve) => (reading = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let paused = false;
      const pausing = new Proxy(storage, {
        get(target, property) {
          const value = Reflect.get(target, property) as unknown;
          if (property !== 'transaction') return typeof value === 'function' ? value.bind(target) : value;
          const transaction: Storage['transaction'] = (work, options) =>
            target.transaction(
              (tx) =>
                work(
                  new Proxy(tx, {
                    get(inner, name) {
                      const member = Reflect.get(inner, name) as unknown;
                      if (name !== 'getClient' || paused) {
                        return typeof member === 'function' ? member.bind(inner) : member;
                      }
                      return async (clientId: string) => {
                        const found = await inner.getClient(clientId);
                        paused = true;
                        reading();
                        await released;
                        return found;
                      };
                    },
                  }),
                ),
              options,
            );
          return transaction;
        },
      });
      const update = updateRegisteredClient(pausing, hasher, id, { scope: 'changed' }).catch(() => undefined);
      await read;
      const recreated = deleteRegisteredClient(storage, id).then(() =>
        registerClient(storage, hasher, { client_id: id, scope: 'new' }),
      );
      // Unless the delete waits for the change, it and the new registration are done by now.
      await Promise.race([recreated, delay(300)]);
      release();
      await update;
      const second = await recreated;
      const stored = await storage.getClient(id);
      expect(stored?.scopes).toEqual(['new']);
      expect(await hasher.verify(second.clientSecret!, stored!.secretHash!)).toBe(true);
      expect(await hasher.verify(first.clientSecret!, stored!.secretHash!)).toBe(false);
    }));

  it('deleteRegisteredClient reports an unknown client as not_found', () =>
    withStore(async (storage) => {
      await expectRegistrationError(
        deleteRegisteredClient(storage, 'ghost'),
        'not_found',
        'client "ghost" does not exist',
      );
    }));

  it('keeps every one of several changes made at once', () =>
    withStore(async (storage) => {
      const id = `patched-${Math.random().toString(36).slice(2)}`;
      await registerClient(storage, hasher, { client_id: id });
      const changes = {
        client_name: 'Name',
        client_uri: 'https://example.com/',
        tos_uri: 'https://example.com/tos',
        policy_uri: 'https://example.com/policy',
        software_id: 'software',
        software_version: '1.0',
      };
      await Promise.all(
        Object.entries(changes).map(([field, value]) => patchRegisteredClient(storage, hasher, id, { [field]: value })),
      );
      expect((await storage.getClient(id))?.metadata).toEqual(changes);
    }));
});
