import { describe, expect, it } from 'vitest';
import { OAuthError, type Client } from '../core/index.js';
import { bcryptHasher } from '../secrets/index.js';
import type { ClientStore } from '../storage/index.js';
import { authenticateClient, type ClientAuthenticationInput } from './authenticate-client.js';

const hasher = bcryptHasher({ cost: 4 });
const hash = await hasher.hash('secret');
const clients: Client[] = [
  { id: 'open', secretHash: hash, grantTypes: [], scopes: [], audience: [] },
  {
    id: 'basic',
    secretHash: hash,
    grantTypes: [],
    scopes: [],
    audience: [],
    tokenEndpointAuthMethod: 'client_secret_basic',
  },
  {
    id: 'post',
    secretHash: hash,
    grantTypes: [],
    scopes: [],
    audience: [],
    tokenEndpointAuthMethod: 'client_secret_post',
  },
  { id: 'public', grantTypes: [], scopes: [], audience: [], tokenEndpointAuthMethod: 'none' },
];
const store: ClientStore = {
  getClient: (id) => Promise.resolve(clients.find((client) => client.id === id)),
};
const dependencies = { clients: store, hasher, realm: 'test' };

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const input = (form: Record<string, string>, authorization?: string): ClientAuthenticationInput => ({
  form: new Map(Object.entries(form)),
  authorization,
});

async function failure(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(OAuthError);
  return error as OAuthError;
}

describe('authenticateClient', () => {
  it.each([
    ['Basic, no registered method', input({}, basic('open', 'secret')), 'open', 'client_secret_basic'],
    ['body, no registered method', input({ client_id: 'open', client_secret: 'secret' }), 'open', 'client_secret_post'],
    ['Basic, registered for Basic', input({}, basic('basic', 'secret')), 'basic', 'client_secret_basic'],
    ['body, registered for body', input({ client_id: 'post', client_secret: 'secret' }), 'post', 'client_secret_post'],
    ['a bare client_id of a public client', input({ client_id: 'public' }), 'public', 'none'],
  ])('authenticates with %s', async (_title, credentials, clientId, method) => {
    const authenticated = await authenticateClient(credentials, dependencies);
    expect(authenticated.client.id).toBe(clientId);
    expect(authenticated.method).toBe(method);
  });

  it.each([
    ['Basic and body secrets together', input({ client_id: 'open', client_secret: 'secret' }, basic('open', 'secret'))],
    ['a body client_id differing from Basic', input({ client_id: 'basic' }, basic('open', 'secret'))],
    ['a client_secret without client_id', input({ client_secret: 'secret' })],
  ])('refuses %s with invalid_request', async (_title, credentials) => {
    const error = await failure(authenticateClient(credentials, dependencies));
    expect(error.code).toBe('invalid_request');
  });

  it.each([
    ['nothing', input({})],
    ['an unknown client', input({}, basic('nobody', 'secret'))],
    ['a wrong secret', input({ client_id: 'open', client_secret: 'wrong' })],
    ['a bare client_id of a confidential client', input({ client_id: 'open' })],
    ['body credentials for a Basic client', input({ client_id: 'basic', client_secret: 'secret' })],
    ['Basic credentials for a body client', input({}, basic('post', 'secret'))],
    ['a secret for a public client', input({ client_id: 'public', client_secret: 'secret' })],
    ['a client assertion', input({ client_id: 'open', client_assertion: 'x', client_assertion_type: 'y' })],
    [
      'an assertion next to Basic (RFC 7521 §4.2.1)',
      input({ client_assertion: 'x', client_assertion_type: 'y' }, basic('open', 'secret')),
    ],
    [
      'an assertion next to a body secret (RFC 7521 §4.2.1)',
      input({ client_id: 'open', client_secret: 'secret', client_assertion: 'x', client_assertion_type: 'y' }),
    ],
    [
      'a jwt-bearer assertion where no replay cache was given (RFC 7523 §3 rule 7 could not be kept)',
      input({
        client_assertion: 'e30.e30.',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      }),
    ],
  ])('refuses %s with invalid_client, 401 and a Basic challenge', async (_title, credentials) => {
    const error = await failure(authenticateClient(credentials, dependencies));
    expect(error.code).toBe('invalid_client');
    expect(error.status).toBe(401);
    expect(error.headers['WWW-Authenticate']).toBe('Basic realm="test"');
  });

  it('does the work of a verification for an unknown client', async () => {
    let decoys = 0;
    const counting = {
      ...hasher,
      verifyDecoy: async (secret: string) => {
        decoys++;
        await hasher.verifyDecoy(secret);
      },
    };
    await failure(authenticateClient(input({}, basic('nobody', 'secret')), { ...dependencies, hasher: counting }));
    expect(decoys).toBe(1);
  });

  it('checks the secret before the registered method, so a wrong guess learns nothing of it', async () => {
    const wrong = await failure(
      authenticateClient(input({ client_id: 'basic', client_secret: 'wrong' }), dependencies),
    );
    const right = await failure(
      authenticateClient(input({ client_id: 'basic', client_secret: 'secret' }), dependencies),
    );
    expect(wrong.hint).not.toMatch(/registered/);
    expect(right.hint).toMatch(/client_secret_basic/);
  });
});
