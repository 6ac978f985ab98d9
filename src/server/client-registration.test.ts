import { describe, expect, it } from 'vitest';
import { bcryptHasher } from '../secrets/index.js';
import { createMemoryStore } from '../storage/memory/index.js';
import {
  ClientRegistrationError,
  clientFromMetadata,
  clientToMetadata,
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

  it('ignores metadata it does not understand (RFC 7591 §2) but keeps descriptive fields', () => {
    const client = clientFromMetadata({ client_id: 'a', client_name: 'A', frobnicate: true });
    expect(clientToMetadata(client)).toMatchObject({ client_name: 'A' });
    expect(clientToMetadata(client)).not.toHaveProperty('frobnicate');
  });

  it.each([
    ['a client_id with a space', { client_id: 'a b' }, 'client_id'],
    ['a scope with a quote', { scope: 'read "write"' }, 'scope'],
    ['jwks_uri', { jwks_uri: 'https://example.com/jwks' }, 'jwks_uri'],
    ['an empty grant_types', { grant_types: [] }, 'grant_types'],
  ])('refuses %s as invalid_client_metadata', (_title, input, message) => {
    expect(() => clientFromMetadata(input)).toThrow(ClientRegistrationError);
    expect(() => clientFromMetadata(input)).toThrow(message);
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

describe('updateRegisteredClient and rotateClientSecret', () => {
  it('keep the secret across a metadata update and replace it on rotation', async () => {
    const storage = createMemoryStore();
    const { clientSecret } = await registerClient(storage, hasher, { client_id: 'svc', scope: 'a' });
    const updated = await updateRegisteredClient(storage, 'svc', { scope: 'a b' });
    expect(updated.scopes).toEqual(['a', 'b']);
    expect(await hasher.verify(clientSecret!, (await storage.getClient('svc'))!.secretHash!)).toBe(true);

    const rotated = await rotateClientSecret(storage, hasher, 'svc');
    const hash = (await storage.getClient('svc'))!.secretHash!;
    expect(await hasher.verify(clientSecret!, hash)).toBe(false);
    expect(await hasher.verify(rotated.clientSecret, hash)).toBe(true);
  });

  it('report an unknown client as not_found', async () => {
    await expectRegistrationError(updateRegisteredClient(createMemoryStore(), 'ghost', {}), 'not_found');
    await expectRegistrationError(rotateClientSecret(createMemoryStore(), hasher, 'ghost'), 'not_found');
  });

  it('drops the secret hash when a client moves to private_key_jwt', async () => {
    const storage = createMemoryStore();
    await registerClient(storage, hasher, { client_id: 'svc' });
    const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] };
    const updated = await updateRegisteredClient(storage, 'svc', {
      token_endpoint_auth_method: 'private_key_jwt',
      jwks,
    });
    expect(updated.secretHash).toBeUndefined();
    expect((await storage.getClient('svc'))?.secretHash).toBeUndefined();
  });
});
