import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { getWrittenBody, getWrittenJson, writeJson } from './write-json.js';

const body = { access_token: 'token', expires_in: 1800, scope: '', token_type: 'Bearer' };
const text = JSON.stringify(body);

describe('writeJson', () => {
  it('is a web Response with status, headers and the JSON text', async () => {
    const response = writeJson(body, 201, { 'Retry-After': '1' });
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(201);
    expect(response.ok).toBe(true);
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    expect(headers).toEqual({
      'content-type': 'application/json;charset=UTF-8',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'retry-after': '1',
    });
    expect(await response.text()).toBe(text);
  });

  it.each([
    ['text', async (response: Response) => response.text()],
    ['json', async (response: Response) => JSON.stringify(await response.json())],
    ['arrayBuffer', async (response: Response) => new TextDecoder().decode(await response.arrayBuffer())],
    ['bytes', async (response: Response) => new TextDecoder().decode(await response.bytes())],
    ['blob', async (response: Response) => (await response.blob()).text()],
    ['body stream', async (response: Response) => new Response(response.body).text()],
    ['a copy made from it', async (response: Response) => new Response(response.body, response).text()],
  ])('reads the same body through %s as a plain Response does, once', async (_name, read) => {
    const response = writeJson(body);
    const plain = new Response(text);
    expect(await read(response)).toBe(await read(plain));
    expect(response.bodyUsed).toBe(plain.bodyUsed);
    await expect(response.text()).rejects.toThrow(TypeError);
  });

  it('clones into an independent response, and refuses to clone a read one', async () => {
    const response = writeJson(body);
    const copy = response.clone();
    expect(await copy.json()).toEqual(body);
    expect(copy.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual(body);
    expect(() => response.clone()).toThrow(TypeError);
  });

  it('gives a server adapter the text until the body is read, and nothing for other responses', async () => {
    const response = writeJson(body);
    expect(getWrittenBody(response)).toBe(text);
    await response.text();
    expect(getWrittenBody(response)).toBeUndefined();
    expect(getWrittenBody(new Response(text))).toBeUndefined();
  });

  it('hands an adapter its parts until anything reads it as a web Response', async () => {
    expect(getWrittenJson(writeJson(body, 400))).toEqual({
      text,
      status: 400,
      headers: { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store', pragma: 'no-cache' },
    });
    for (const touch of [
      (response: Response) => response.headers,
      (response: Response) => response.body,
      (response: Response) => response.text(),
    ]) {
      const response = writeJson(body);
      await touch(response);
      expect(getWrittenJson(response)).toBeUndefined();
    }
    // Status and the other fixed members are answered without making the web Response.
    const response = writeJson(body, 206);
    expect([
      response.status,
      response.ok,
      response.statusText,
      response.type,
      response.redirected,
      response.url,
    ]).toEqual([206, true, '', 'default', false, '']);
    expect(response.bodyUsed).toBe(false);
    expect(getWrittenJson(response)).toBeDefined();
    expect(getWrittenJson(new Response(text))).toBeUndefined();
  });

  it('checks extra headers and the status as a web Response does, when written', () => {
    expect(() => writeJson(body, 200, { 'X-Bad': 'a\nb' })).toThrow(TypeError);
    expect(() => writeJson(body, 200, { 'Bad Name': 'x' })).toThrow(TypeError);
    expect(() => writeJson(body, 199)).toThrow(RangeError);
    expect(() => writeJson(body, 600)).toThrow(RangeError);
    // A status that forbids a body refuses one now, not when the body is first read.
    expect(() => writeJson(body, 204)).toThrow(TypeError);
    expect(writeJson(body, 500).ok).toBe(false);
  });

  it('keeps header changes in reads and copies made after them', async () => {
    const response = writeJson(body);
    response.headers.set('x-changed', '1');
    expect(response.headers.get('x-changed')).toBe('1');
    const copy = response.clone();
    expect(copy.headers.get('x-changed')).toBe('1');
    expect(await copy.json()).toEqual(body);
    expect(await response.json()).toEqual(body);
  });

  it('shows as the web Response it stands for when inspected', () => {
    const shown = inspect(writeJson(body, 201));
    expect(shown).toContain('201');
    expect(shown).toContain('no-store');
  });
});
