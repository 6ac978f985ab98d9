import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OAuthError } from '../core/index.js';
import { parseForm, parseFormRequest, splitSpaceDelimited } from './parse-form-request.js';

const limits = { maxBodyBytes: 1024 };
const form = 'application/x-www-form-urlencoded';

function post(body: BodyInit | null, headers: Record<string, string> = { 'content-type': form }): Request {
  return new Request('http://localhost/token', { method: 'POST', headers, body });
}

async function failure(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(OAuthError);
  return error as OAuthError;
}

describe('parseFormRequest', () => {
  it('returns the decoded parameters and the Authorization header', async () => {
    const parsed = await parseFormRequest(
      post('grant_type=client_credentials&scope=a+b', { 'content-type': form, authorization: 'Basic eDp5' }),
      limits,
    );
    expect(Object.fromEntries(parsed.form)).toEqual({ grant_type: 'client_credentials', scope: 'a b' });
    expect(parsed.authorization).toBe('Basic eDp5');
  });

  it('answers a method other than POST with 405 and Allow', async () => {
    const error = await failure(parseFormRequest(new Request('http://localhost/token'), limits));
    expect(error.code).toBe('invalid_request');
    expect(error.status).toBe(405);
    expect(error.headers).toEqual({ Allow: 'POST' });
  });

  it.each([
    ['no content type', {}],
    ['JSON', { 'content-type': 'application/json' }],
    ['a Latin-1 charset', { 'content-type': `${form}; charset=iso-8859-1` }],
    // RFC 9110 §5.6.6: only spaces and tabs may surround the parts of a media type.
    ['the form type followed by a no-break space', { 'content-type': `${form}\u00a0` }],
    ['a charset followed by a no-break space', { 'content-type': `${form}; charset=utf-8\u00a0` }],
  ])('refuses %s with invalid_request', async (_title, headers) => {
    const error = await failure(parseFormRequest(post('a=b', headers), limits));
    expect(error.code).toBe('invalid_request');
    expect(error.status).toBe(400);
  });

  it.each([
    form,
    'Application/X-WWW-Form-URLEncoded',
    `${form}; charset=utf-8`,
    ` ${form} ; Charset="UTF-8"`,
    `${form};foo=bar`,
  ])('RFC 6749 §3.2 and Appendix B accept the form media type %j, any case, UTF-8 or no charset', async (type) => {
    const parsed = await parseFormRequest(post('a=b', { 'content-type': type }), limits);
    expect(Object.fromEntries(parsed.form)).toEqual({ a: 'b' });
  });

  it('refuses a body over the limit with 413', async () => {
    const error = await failure(parseFormRequest(post(`a=${'x'.repeat(1024)}`), limits));
    expect(error.code).toBe('invalid_request');
    expect(error.status).toBe(413);
  });

  it('refuses a streamed body over the limit without a Content-Length', async () => {
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ < 100) controller.enqueue(new Uint8Array(100).fill(0x61));
        else controller.close();
      },
    });
    const request = new Request('http://localhost/token', {
      method: 'POST',
      headers: { 'content-type': form },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    const error = await failure(parseFormRequest(request, limits));
    expect(error.status).toBe(413);
    // It stopped reading soon after the limit instead of consuming the whole stream.
    expect(pulls).toBeLessThan(100);
  });

  it('answers a body that breaks off with invalid_request, not a server error', async () => {
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(new Error('connection reset'));
        else controller.enqueue(new TextEncoder().encode('grant_type=client'));
        sent = true;
      },
    });
    const request = new Request('http://localhost/token', {
      method: 'POST',
      headers: { 'content-type': form },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    const error = await failure(parseFormRequest(request, limits));
    expect(error.code).toBe('invalid_request');
  });

  it('accepts a body of exactly the limit', async () => {
    const body = `a=${'x'.repeat(1022)}`;
    const parsed = await parseFormRequest(post(body), limits);
    expect(parsed.form.get('a')).toHaveLength(1022);
  });

  it('refuses raw bytes above 0x7F with invalid_request', async () => {
    const error = await failure(parseFormRequest(post(new Uint8Array([0x61, 0x3d, 0xc3, 0xa9])), limits));
    expect(error.code).toBe('invalid_request');
  });

  it.each([
    ['already read', async (request: Request) => void (await request.text())],
    ['locked by a reader', (request: Request) => void request.body!.getReader()],
  ])('answers a Request whose body was %s with server_error, not invalid_request', async (_title, consume) => {
    const request = post('grant_type=client_credentials');
    await consume(request);
    const error = await failure(parseFormRequest(request, limits));
    expect(error.code).toBe('server_error');
    expect(error.status).toBe(500);
  });

  it('accepts an empty body as no parameters', async () => {
    const parsed = await parseFormRequest(post(''), limits);
    expect(parsed.form.size).toBe(0);
  });
});

describe('parseForm', () => {
  it.each([
    ['a=1&b=2', { a: '1', b: '2' }],
    ['a=1&&b=2&', { a: '1', b: '2' }],
    ['a=&b=2', { b: '2' }],
    ['a&b=2', { b: '2' }],
    ['a=x%3Dy%26z', { a: 'x=y&z' }],
    ['a=1=2', { a: '1=2' }],
    ['%61=1', { a: '1' }],
    // Values that spell the decoder's problem names are values like any other.
    ['scope=not-utf-8&not-utf-8=bad-percent-encoding', { scope: 'not-utf-8', 'not-utf-8': 'bad-percent-encoding' }],
  ])('parses %j', (body, expected) => {
    expect(Object.fromEntries(parseForm(body))).toEqual(expected);
  });

  it.each([
    ['scope=&scope=read', { scope: 'read' }],
    ['scope=read&scope=', { scope: 'read' }],
    ['scope&scope=read', { scope: 'read' }],
    ['a=&a&%61=', {}],
  ])('§3.1 treats the parameters without a value in %j as omitted, not as repeats', (body, expected) => {
    expect(Object.fromEntries(parseForm(body))).toEqual(expected);
  });

  it.each(['a=1&a=2', 'a=1&a=&a=2', 'a=1&%61=2', '=1&=2'])('§3.2 refuses the repeated parameter in %j', (body) => {
    expect(() => parseForm(body)).toThrow(OAuthError);
  });

  it.each(['a=%zz', 'a%=1', 'a=%FF', 'a=%C3%28'])('refuses the bad encoding in %j', (body) => {
    expect(() => parseForm(body)).toThrow(OAuthError);
  });

  it('keeps control characters of a repeated name out of the hint', () => {
    let error: unknown;
    try {
      parseForm('a%0Ab=1&a%0Ab=2');
    } catch (thrown) {
      error = thrown;
    }
    expect((error as OAuthError).hint).not.toContain('\n');
  });
});

describe('parseForm properties', () => {
  it('reads back any set of distinct, non-empty parameters URLSearchParams wrote', () => {
    const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });
    const value = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(fc.dictionary(name, value), (parameters) => {
        const body = new URLSearchParams(parameters).toString();
        expect(Object.fromEntries(parseForm(body))).toEqual(parameters);
      }),
    );
  });
});

describe('splitSpaceDelimited', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['a', ['a']],
    ['a b', ['a', 'b']],
    ['  a   b  ', ['a', 'b']],
  ])('splits %j into %j', (value, expected) => {
    expect(splitSpaceDelimited(value)).toEqual(expected);
  });
});
