import { describe, expect, it } from 'vitest';
import { getWrittenBody, writeJson } from './write-json.js';

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
});
