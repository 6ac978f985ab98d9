import { describe, expect, it } from 'vitest';
import { readRequestBody } from './http-request.js';

describe('readRequestBody', () => {
  it('answers too-large for a cloned Request over the limit without hanging, and leaves the original readable', async () => {
    const body = 'x'.repeat(70_000);
    const original = new Request('http://127.0.0.1/token', { method: 'POST', body });
    const copy = original.clone();
    expect(await readRequestBody(copy, 64 * 1024)).toBe('too-large');
    expect(await original.text()).toBe(body);
  });

  it('reads a body within the limit whole', async () => {
    const request = new Request('http://127.0.0.1/token', { method: 'POST', body: 'a=1&b=2' });
    expect(new TextDecoder().decode((await readRequestBody(request, 7)) as Uint8Array)).toBe('a=1&b=2');
  });
});
