// RFC 6749 §3.1, §3.2 and Appendix B at the token endpoint: method, content type, size, encoding, parameters.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter } from '../../src/index.js';
import { mounts, postForm, readJson, startServer, type RunningServer } from '../support/harness.js';
import { createTestProvider } from '../support/test-provider.js';

const seedCredentials = 'client_id=test-client&client_secret=foobar';
const validBody = `grant_type=client_credentials&${seedCredentials}`;
const maxBodyBytes = 64 * 1024;

describe.each(mounts)('token request through %s', (mount) => {
  let server: RunningServer;
  let tokenUrl: string;
  beforeAll(async () => {
    const { provider } = await createTestProvider();
    server = await startServer(createRouter(provider, { token: '/token' }), mount);
    tokenUrl = `${server.url}/token`;
  });
  afterAll(() => server.close());

  it('§3.2 answers a GET with 405, invalid_request and Allow: POST', async () => {
    const answer = await readJson(await fetch(`${tokenUrl}?${validBody}`));
    expect(answer.status).toBe(405);
    expect(answer.body.error).toBe('invalid_request');
    expect(answer.headers.get('allow')).toBe('POST');
  });

  it.each(['PUT', 'DELETE', 'PATCH'])('§3.2 refuses the %s method with 405 invalid_request', async (method) => {
    const answer = await readJson(
      await fetch(tokenUrl, {
        method,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: validBody,
      }),
    );
    expect(answer.status).toBe(405);
    expect(answer.body.error).toBe('invalid_request');
  });

  it.each([
    ['application/json', '{"grant_type":"client_credentials"}'],
    ['text/plain', validBody],
    ['multipart/form-data; boundary=x', validBody],
    ['application/x-www-form-urlencoded; charset=ISO-8859-1', validBody],
    ['application/x-www-form-urlencodedx', validBody],
  ])('§3.2 refuses the content type %s with invalid_request', async (contentType, body) => {
    const answer = await postForm(tokenUrl, body, { 'content-type': contentType });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('§3.2 refuses a body without a content type with invalid_request', async () => {
    const answer = await readJson(await fetch(tokenUrl, { method: 'POST', body: new TextEncoder().encode(validBody) }));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it.each([
    'application/x-www-form-urlencoded;charset=UTF-8',
    'APPLICATION/X-WWW-FORM-URLENCODED',
    'application/x-www-form-urlencoded; charset="utf-8"',
  ])('§3.2 accepts the form content type written as %s', async (contentType) => {
    const answer = await postForm(tokenUrl, validBody, { 'content-type': contentType });
    expect(answer.status).toBe(200);
    expect(answer.body.token_type).toBe('bearer');
  });

  it('§3.2 answers a body over 64 KiB with 413 invalid_request', async () => {
    const body = `${validBody}&padding=${'a'.repeat(maxBodyBytes)}`;
    const answer = await postForm(tokenUrl, body);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('§3.2 answers a streamed body over 64 KiB without Content-Length with 413 invalid_request', async () => {
    const chunk = new TextEncoder().encode(`padding=${'a'.repeat(16 * 1024)}&`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    const answer = await readJson(response);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('§3.2 keeps serving after an oversized body', async () => {
    await postForm(tokenUrl, `padding=${'a'.repeat(maxBodyBytes * 2)}`);
    const answer = await postForm(tokenUrl, validBody);
    expect(answer.status).toBe(200);
  });

  it('§3.2 accepts a body of exactly 64 KiB', async () => {
    const prefix = `${validBody}&padding=`;
    const body = prefix + 'a'.repeat(maxBodyBytes - prefix.length);
    expect(body.length).toBe(maxBodyBytes);
    const answer = await postForm(tokenUrl, body);
    expect(answer.status).toBe(200);
  });

  it.each([
    ['grant_type twice', `${validBody}&grant_type=client_credentials`],
    ['client_id twice', `${validBody}&client_id=test-client`],
    ['scope twice', `${validBody}&scope=a&scope=b`],
    ['a repeat around an empty value', `${validBody}&scope=a&scope=&scope=b`],
    ['an unknown parameter twice', `${validBody}&foo=1&foo=2`],
    ['a repeat spelled with percent-encoding', `${validBody}&grant%5Ftype=client_credentials`],
  ])('§3.2 refuses %s with invalid_request', async (_title, body) => {
    const answer = await postForm(tokenUrl, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it.each([
    ['a non-hex escape', `${validBody}&foo=%zz`],
    ['a truncated escape', `${validBody}&foo=%4`],
    ['a trailing percent sign', `${validBody}&foo=%`],
    ['a bad escape in a name', `${validBody}&f%g0=1`],
  ])('Appendix B refuses %s with invalid_request', async (_title, body) => {
    const answer = await postForm(tokenUrl, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it.each([
    ['an escaped lone 0xFF byte', `${validBody}&foo=%FF`],
    ['an escaped truncated two-byte sequence', `${validBody}&foo=%C3%28`],
    ['an escaped surrogate', `${validBody}&foo=%ED%A0%80`],
    ['an escaped overlong slash', `${validBody}&foo=%C0%AF`],
  ])('Appendix B refuses %s that is not UTF-8 with invalid_request', async (_title, body) => {
    const answer = await postForm(tokenUrl, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('Appendix B refuses raw bytes that are not percent-encoded with invalid_request', async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode(`${validBody}&foo=`), 0xc3, 0xa9]);
    const answer = await postForm(tokenUrl, bytes);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('Appendix B decodes percent-encoded parameter names and values', async () => {
    const answer = await postForm(
      tokenUrl,
      `grant%5Ftype=client%5Fcredentials&client_id=test%2Dclient&client_secret=%66oobar`,
    );
    expect(answer.status).toBe(200);
  });

  it('§3.2 refuses a request without grant_type with invalid_request', async () => {
    const answer = await postForm(tokenUrl, seedCredentials);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('§3.2 reads parameters from the body only, not from the query', async () => {
    const answer = await postForm(`${tokenUrl}?grant_type=client_credentials`, seedCredentials);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('§3.1 treats an empty grant_type as omitted: invalid_request', async () => {
    const answer = await postForm(tokenUrl, `grant_type=&${seedCredentials}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('§3.1 treats an empty client_secret as omitted, leaving a confidential client unauthenticated', async () => {
    const answer = await postForm(tokenUrl, 'grant_type=client_credentials&client_id=test-client&client_secret=');
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
  });

  it('§3.1 treats an empty scope as omitted and grants no scope', async () => {
    const answer = await postForm(tokenUrl, `${validBody}&scope=`);
    expect(answer.status).toBe(200);
    expect(answer.body.scope).toBe('');
  });

  it.each([
    ['an empty client_secret after the real one', `${validBody}&client_secret=`],
    ['an empty grant_type before the real one', `grant_type=&${validBody}`],
    ['an empty scope twice', `${validBody}&scope=&scope=`],
    ['an empty audience next to none', `${validBody}&audience=&audience`],
  ])('§3.1 does not count %s as a repeated parameter: it is omitted', async (_title, body) => {
    const answer = await postForm(tokenUrl, body);
    expect(answer.status).toBe(200);
    expect(answer.body.scope).toBe('');
  });

  it('§3.1 treats a parameter without "=" as omitted', async () => {
    const answer = await postForm(tokenUrl, `${validBody}&scope`);
    expect(answer.status).toBe(200);
    expect(answer.body.scope).toBe('');
  });

  it('§3.2 ignores unrecognized request parameters', async () => {
    const answer = await postForm(tokenUrl, `${validBody}&foo=bar&response_type=code`);
    expect(answer.status).toBe(200);
  });

  it.each(['password', 'urn:example:unknown', 'CLIENT_CREDENTIALS'])(
    '§5.2 answers the unsupported grant_type %s with unsupported_grant_type',
    async (grantType) => {
      const answer = await postForm(tokenUrl, {
        grant_type: grantType,
        client_id: 'test-client',
        client_secret: 'foobar',
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('unsupported_grant_type');
    },
  );

  it('§5.2 authenticates the client before answering unsupported_grant_type', async () => {
    const answer = await postForm(tokenUrl, 'grant_type=password');
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
  });

  it('§5.2 answers an unknown path with a JSON 404', async () => {
    const answer = await postForm(`${server.url}/nowhere`, validBody);
    expect(answer.status).toBe(404);
    expect(answer.body.error).toBe('not_found');
  });
});
