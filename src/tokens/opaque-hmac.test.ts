import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { opaqueHmacStrategy } from './opaque-hmac.js';
import type { AccessTokenClaims } from './access-token-strategy.js';

const oldSecret = 'an-old-secret-that-is-at-least-32-bytes-long';
const newSecret = 'a-new-secret-that-is-also-32-bytes-long!!';

const claims: AccessTokenClaims = {
  issuer: 'https://auth.test.example',
  subject: 'c1',
  clientId: 'c1',
  audience: ['https://api.test.example'],
  scopes: ['read'],
  issuedAt: 0,
  expiresAt: 3_600_000,
};

describe('opaqueHmacStrategy', () => {
  it('issues prefixed tokens whose stored signature is the HMAC of the key part', async () => {
    const strategy = opaqueHmacStrategy({ secrets: [newSecret] });
    const { token, signature } = await strategy.issueAccessToken(claims);
    expect(token).toMatch(/^tsr_at_[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    const [keyPart, tokenSignature] = token.slice('tsr_at_'.length).split('.');
    expect(tokenSignature).toBe(signature);
    expect(signature).toBe(createHmac('sha256', newSecret).update(keyPart!).digest('base64url'));
    // The stored value alone does not give the token back.
    expect(token).not.toBe(signature);
    expect(strategy.format).toBe('opaque');
  });

  it('issues a different token every time', async () => {
    const strategy = opaqueHmacStrategy({ secrets: [newSecret] });
    const first = await strategy.issueAccessToken(claims);
    const second = await strategy.issueAccessToken(claims);
    expect(first.token).not.toBe(second.token);
    expect(first.signature).not.toBe(second.signature);
  });

  it('recognises its own token and returns the stored signature', async () => {
    const strategy = opaqueHmacStrategy({ secrets: [newSecret] });
    const issued = await strategy.issueAccessToken(claims);
    await expect(strategy.recogniseAccessToken(issued.token)).resolves.toEqual({
      signature: issued.signature,
    });
  });

  it('recognises a token made under an older secret while that secret is still listed', async () => {
    const before = opaqueHmacStrategy({ secrets: [oldSecret] });
    const issued = await before.issueAccessToken(claims);
    const rotated = opaqueHmacStrategy({ secrets: [newSecret, oldSecret] });
    await expect(rotated.recogniseAccessToken(issued.token)).resolves.toEqual({
      signature: issued.signature,
    });
  });

  it('signs new tokens with the first secret after a rotation', async () => {
    const rotated = opaqueHmacStrategy({ secrets: [newSecret, oldSecret] });
    const issued = await rotated.issueAccessToken(claims);
    const newOnly = opaqueHmacStrategy({ secrets: [newSecret] });
    const oldOnly = opaqueHmacStrategy({ secrets: [oldSecret] });
    await expect(newOnly.recogniseAccessToken(issued.token)).resolves.toBeDefined();
    await expect(oldOnly.recogniseAccessToken(issued.token)).resolves.toBeUndefined();
  });

  it('no longer recognises a token once its secret is removed from the list', async () => {
    const before = opaqueHmacStrategy({ secrets: [oldSecret] });
    const issued = await before.issueAccessToken(claims);
    const after = opaqueHmacStrategy({ secrets: [newSecret] });
    await expect(after.recogniseAccessToken(issued.token)).resolves.toBeUndefined();
  });

  it.each([
    ['a changed key part', (token: string) => flip(token, 'tsr_at_'.length + 3)],
    ['a changed signature', (token: string) => flip(token, token.length - 5)],
    ['the prefix removed', (token: string) => token.slice('tsr_at_'.length)],
    ['another prefix', (token: string) => `tsr_rt_${token.slice('tsr_at_'.length)}`],
    ['the dot removed', (token: string) => token.replace('.', '')],
    ['a character appended', (token: string) => `${token}A`],
    ['padding added', (token: string) => `${token}=`],
    [
      'the parts swapped',
      (token: string) => {
        const [keyPart, signature] = token.slice('tsr_at_'.length).split('.');
        return `tsr_at_${signature}.${keyPart}`;
      },
    ],
  ])('does not recognise a token with %s', async (_title, tamper) => {
    const strategy = opaqueHmacStrategy({ secrets: [newSecret] });
    const { token } = await strategy.issueAccessToken(claims);
    await expect(strategy.recogniseAccessToken(tamper(token))).resolves.toBeUndefined();
  });

  it.each([[''], ['not a token'], ['eyJhbGciOiJub25lIn0.e30.'], ['tsr_at_.']])(
    'does not recognise %j',
    async (token) => {
      const strategy = opaqueHmacStrategy({ secrets: [newSecret] });
      await expect(strategy.recogniseAccessToken(token)).resolves.toBeUndefined();
    },
  );

  it('rejects a secret shorter than 32 bytes with a TypeError', () => {
    expect(() => opaqueHmacStrategy({ secrets: ['too-short'] })).toThrow(TypeError);
    expect(() => opaqueHmacStrategy({ secrets: [newSecret, new Uint8Array(31)] })).toThrow(TypeError);
  });

  it('accepts a 32-byte binary secret', () => {
    expect(() => opaqueHmacStrategy({ secrets: [new Uint8Array(32).fill(7)] })).not.toThrow();
  });

  it('rejects an empty list of secrets with a TypeError', () => {
    expect(() => opaqueHmacStrategy({ secrets: [] })).toThrow(TypeError);
  });
});

/** Replaces one base64url character with another. */
function flip(token: string, index: number): string {
  const replacement = token[index] === 'A' ? 'B' : 'A';
  return token.slice(0, index) + replacement + token.slice(index + 1);
}
