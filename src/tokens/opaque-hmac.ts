// Opaque access tokens: a random key part and its HMAC-SHA256, after fosite's default HMAC strategy.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type {
  AccessTokenClaims,
  AccessTokenStrategy,
  IssuedAccessToken,
  RecognisedAccessToken,
} from './access-token-strategy.js';

/** The prefix every opaque access token starts with, so secret scanners can find leaked ones. */
export const opaqueAccessTokenPrefix = 'tsr_at_';

/** Bytes of randomness in the key part, and the least accepted length of an HMAC secret. */
const keyPartBytes = 32;
const minimumSecretBytes = 32;

// 32 bytes are 43 base64url characters without padding; so is a SHA-256 digest.
const tokenPattern = /^tsr_at_([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/;

export interface OpaqueHmacStrategyOptions {
  /**
   * HMAC secrets, newest first: the first signs new tokens, every one verifies. To rotate, put a
   * new secret first and keep the old one until the tokens it signed have expired.
   * Strings are taken as UTF-8 bytes. Each must be at least 32 bytes long.
   */
  readonly secrets: readonly (string | Uint8Array)[];
}

/**
 * Creates the opaque access-token strategy. A token is
 * `tsr_at_` + base64url(32 random bytes) + `.` + base64url(HMAC-SHA256(secret, key part)),
 * where the key part is HMAC'd in its base64url form. Only the signature, the part after the
 * dot, is stored; it is the record key, so the token itself cannot be rebuilt from a store.
 * The claims live only in the token record.
 *
 * @throws TypeError when no secret is given or a secret is shorter than 32 bytes.
 * @example
 * const strategy = opaqueHmacStrategy({ secrets: [process.env.TOKEN_SECRET!] });
 */
export function opaqueHmacStrategy(options: OpaqueHmacStrategyOptions): AccessTokenStrategy {
  const secrets = options.secrets.map(toSecretBytes);
  const [signingSecret] = secrets;
  if (!signingSecret) throw new TypeError('opaqueHmacStrategy needs at least one secret');

  return {
    format: 'opaque',
    issueAccessToken(_claims: AccessTokenClaims): Promise<IssuedAccessToken> {
      const keyPart = randomBytes(keyPartBytes).toString('base64url');
      const signature = sign(signingSecret, keyPart);
      return Promise.resolve({
        token: `${opaqueAccessTokenPrefix}${keyPart}.${signature}`,
        signature,
      });
    },
    recogniseAccessToken(token: string): Promise<RecognisedAccessToken | undefined> {
      const match = tokenPattern.exec(token);
      if (!match) return Promise.resolve(undefined);
      const [, keyPart = '', presented = ''] = match;
      const presentedBytes = Buffer.from(presented, 'latin1');
      // Every secret is tried, even after a match, so timing does not tell which one signed.
      let recognised: string | undefined;
      for (const secret of secrets) {
        const expected = sign(secret, keyPart);
        if (timingSafeEqual(Buffer.from(expected, 'latin1'), presentedBytes)) {
          recognised ??= expected;
        }
      }
      return Promise.resolve(recognised === undefined ? undefined : { signature: recognised });
    },
  };
}

function sign(secret: Uint8Array, keyPart: string): string {
  return createHmac('sha256', secret).update(keyPart).digest('base64url');
}

function toSecretBytes(secret: string | Uint8Array): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.byteLength < minimumSecretBytes) {
    throw new TypeError(`an HMAC secret must be at least ${minimumSecretBytes} bytes long, got ${bytes.byteLength}`);
  }
  return Uint8Array.from(bytes);
}
