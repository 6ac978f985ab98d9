// The admin API: RFC 7591/7592-shaped client management, signing keys, metrics and health, behind a bearer token.

import type { SecretHasher } from '../secrets/index.js';
import { constantTimeEqual } from '../secrets/index.js';
import { SealedValueError } from '../keys/index.js';
import { StorageUnavailableError, type Storage, type StoredSigningKey } from '../storage/index.js';
import {
  ClientRegistrationError,
  clientToMetadata,
  deleteRegisteredClient,
  registerClient,
  requireClient,
  rotateClientSecret,
  updateRegisteredClient,
  type ClientWithSecret,
} from './client-registration.js';
import type { ServerKeys } from './build-provider.js';
import type { ServerMetrics } from './metrics.js';
import { repeatedMemberName } from './json-member-names.js';
import { decodeUtf8 } from './utf8.js';

export interface AdminApiOptions {
  /** The bearer token; without one every guarded route answers 401. */
  readonly token: string | undefined;
  readonly storage: Storage;
  readonly hasher: SecretHasher;
  readonly keys: ServerKeys;
  readonly metrics: ServerMetrics;
  /** Metrics text to serve instead of this process's registry (the cluster primary aggregates workers). */
  readonly collectMetrics?: () => Promise<string>;
}

/** Endpoint names for logs and metrics. */
export function adminEndpointOf(pathname: string): string {
  if (pathname === '/health/alive' || pathname === '/health/ready' || pathname === '/metrics') {
    return pathname.slice(1).replace('/', '_');
  }
  if (pathname === '/clients' || pathname.startsWith('/clients/')) {
    return pathname.endsWith('/secret') ? 'admin_client_secret' : 'admin_clients';
  }
  if (pathname === '/keys' || pathname === '/keys/rotate')
    return pathname === '/keys' ? 'admin_keys' : 'admin_keys_rotate';
  return 'unknown';
}

/**
 * Creates the admin API handler. `/health/alive` and `/health/ready` answer without a token so
 * that orchestrators can probe them; everything else needs `Authorization: Bearer <admin token>`.
 */
export function createAdminApi(options: AdminApiOptions): (request: Request) => Promise<Response> {
  const { storage, hasher, keys, metrics } = options;

  return async (request) => {
    const { pathname, searchParams } = new URL(request.url);
    // RFC 9110 §9.3.2: HEAD is answered as GET without the body (the listener drops it).
    const method = request.method === 'HEAD' ? 'GET' : request.method;

    if (pathname === '/health/alive')
      return method === 'GET' ? json(200, { status: 'alive' }) : notAllowed('GET, HEAD');
    if (pathname === '/health/ready') {
      if (method !== 'GET') return notAllowed('GET, HEAD');
      try {
        await storage.ping();
        return json(200, { status: 'ready' });
      } catch {
        return json(503, { status: 'unavailable', reason: 'storage is unreachable' });
      }
    }

    const denied = checkBearer(request, options.token);
    if (denied) return denied;

    try {
      if (pathname === '/metrics') {
        if (method !== 'GET') return notAllowed('GET, HEAD');
        const text = options.collectMetrics ? await options.collectMetrics() : await metrics.registry.metrics();
        return new Response(text, { headers: { 'content-type': metrics.registry.contentType } });
      }
      if (pathname === '/clients') {
        if (method === 'GET') {
          // Listing is for operators: an odd limit is brought into 1..1000 rather than refused; one
          // that is absent, empty, blank or not a number is the default. 0 is a number, so it becomes 1.
          // Trimmed first: Number() reads white space alone (" ", a tab, U+00A0) as 0.
          const limitText = searchParams.get('limit')?.trim() ?? '';
          const asked = limitText === '' ? 100 : Number(limitText);
          const limit = Math.min(Math.max(Math.floor(Number.isNaN(asked) ? 100 : asked), 1), 1000);
          const after = searchParams.get('after') ?? undefined;
          const clients = await storage.listClients({ ...(after ? { after } : {}), limit });
          return json(200, { clients: clients.map(clientToMetadata) });
        }
        if (method === 'POST') {
          const body = await readJsonObject(request);
          const secret = chosenSecret(body);
          const { client_secret: _ignored, ...metadata } = body;
          // RFC 7591 §3.2.1: the secret appears in this response and nowhere else.
          return json(201, withSecret(await registerClient(storage, hasher, metadata, secret)));
        }
        return notAllowed('GET, HEAD, POST');
      }
      const clientMatch = /^\/clients\/([^/]+)(\/secret)?$/.exec(pathname);
      if (clientMatch) {
        const id = decodePathSegment(clientMatch[1]!);
        if (id === undefined) {
          return json(400, {
            error: 'invalid_request',
            error_description: 'The client id in the path is not valid percent-encoding.',
          });
        }
        if (clientMatch[2]) {
          if (method !== 'POST') return notAllowed('POST');
          // The body is optional: none at all (curl -X POST sends no Content-Length) asks for a generated secret.
          const body = await readJsonObject(request, { optional: true });
          const secret = chosenSecret(body);
          return json(200, withSecret(await rotateClientSecret(storage, hasher, id, secret)));
        }
        switch (method) {
          case 'GET':
            return json(200, clientToMetadata(await requireClient(storage, id)));
          case 'PUT': {
            // RFC 7592 §2.2: the body replaces the metadata; a secret cannot be set this way.
            const body = await readJsonObject(request);
            if ('client_secret' in body) {
              throw new ClientRegistrationError(
                'invalid_client_metadata',
                'client_secret cannot be set by update; use POST /clients/{id}/secret',
              );
            }
            // A client moved from private_key_jwt to a secret-based method gets a secret, shown here once.
            return json(200, withSecret(await updateRegisteredClient(storage, hasher, id, body)));
          }
          case 'DELETE':
            await deleteRegisteredClient(storage, id);
            return new Response(null, { status: 204 });
          default:
            return notAllowed('GET, HEAD, PUT, DELETE');
        }
      }
      if (pathname === '/keys') {
        if (method !== 'GET') return notAllowed('GET, HEAD');
        return json(200, { keys: (await storage.listSigningKeys()).map(describeKey) });
      }
      if (pathname === '/keys/rotate') {
        if (method !== 'POST') return notAllowed('POST');
        const immediate = searchParams.get('immediate') === 'true';
        const result = await keys.rotate({ immediate });
        return json(200, {
          rotated: result.rotated,
          ...(result.reason ? { reason: result.reason } : {}),
          active_kid: result.activeKid,
          next_kid: result.nextKid,
          keys: (await storage.listSigningKeys()).map(describeKey),
        });
      }
      return json(404, { error: 'not_found', error_description: 'No admin endpoint is served at this path.' });
    } catch (error) {
      if (error instanceof ClientRegistrationError) {
        const status = error.kind === 'not_found' ? 404 : error.kind === 'conflict' ? 409 : 400;
        return json(status, { error: error.kind, error_description: error.message });
      }
      if (error instanceof BadJsonError) {
        return json(400, { error: 'invalid_request', error_description: error.message });
      }
      if (error instanceof SealedValueError) {
        // The server's own configuration lacks a key-encryption key; nothing was written.
        return json(409, {
          error: 'conflict',
          error_description: `A stored signing key cannot be opened with this server's key-encryption keys, so nothing was changed: ${error.message}`,
        });
      }
      if (error instanceof StorageUnavailableError) {
        return json(
          503,
          { error: 'temporarily_unavailable', error_description: 'The database is unreachable.' },
          { 'retry-after': '1' },
        );
      }
      throw error;
    }
  };
}

/** The `client_secret` a body chooses, if any; one that is not a string is refused, never replaced by a generated one. */
function chosenSecret(body: Record<string, unknown>): string | undefined {
  const secret = body.client_secret;
  if (secret === undefined || typeof secret === 'string') return secret;
  throw new ClientRegistrationError('invalid_client_metadata', 'client_secret must be a string');
}

/** The client's metadata, and its secret when it was just set: the only time it is shown. */
function withSecret({ client, clientSecret }: ClientWithSecret): Record<string, unknown> {
  return {
    ...clientToMetadata(client),
    ...(clientSecret !== undefined ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}),
  };
}

/** A stored key as the admin API and `tessera keys list` show it: public facts only. */
export function describeKey(key: StoredSigningKey): Record<string, unknown> {
  return {
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    created_at: new Date(key.createdAt).toISOString(),
    ...(key.activatedAt !== undefined ? { activated_at: new Date(key.activatedAt).toISOString() } : {}),
    ...(key.retiredAt !== undefined ? { retired_at: new Date(key.retiredAt).toISOString() } : {}),
    ...(key.removeAfter !== undefined ? { remove_after: new Date(key.removeAfter).toISOString() } : {}),
  };
}

/** RFC 6750 §3: 401 with a Bearer challenge; `invalid_token` when a wrong token was presented. */
function checkBearer(request: Request, token: string | undefined): Response | undefined {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  if (!match) {
    return json(
      401,
      { error: 'invalid_request', error_description: 'An admin bearer token is required.' },
      {
        'www-authenticate': 'Bearer realm="tessera-admin"',
      },
    );
  }
  // Compared even when no token is configured, so both paths cost the same.
  const matches = constantTimeEqual(match[1]!, token ?? '') && token !== undefined;
  if (!matches) {
    return json(
      401,
      { error: 'invalid_token', error_description: 'The admin bearer token is not valid.' },
      {
        'www-authenticate': 'Bearer realm="tessera-admin", error="invalid_token"',
      },
    );
  }
  return undefined;
}

class BadJsonError extends Error {}

async function readJsonObject(request: Request, { optional = false } = {}): Promise<Record<string, unknown>> {
  // RFC 8259 §8.1: JSON is UTF-8; other bytes are refused, never stored as U+FFFD.
  const text = request.body ? decodeUtf8(await request.arrayBuffer()) : '';
  if (text === undefined) throw new BadJsonError('The body is not valid UTF-8.');
  if (optional && text === '') return {};
  if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
    throw new BadJsonError('The body must be application/json.');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadJsonError('The body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadJsonError('The body must be a JSON object.');
  }
  const repeated = repeatedMemberName(text);
  if (repeated !== undefined) {
    throw new BadJsonError(`The body names ${JSON.stringify(repeated.slice(0, 60))} twice in one object.`);
  }
  return body as Record<string, unknown>;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store', ...headers },
  });
}

function notAllowed(allow: string): Response {
  return json(405, { error: 'invalid_request', error_description: `Allowed methods: ${allow}.` }, { allow });
}

function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
