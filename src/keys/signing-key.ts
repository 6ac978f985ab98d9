// A private signing key ready to use, with its public JWK and RFC 7638 thumbprint as kid.

import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  KeyObject,
  sign,
  verify,
  type JsonWebKey as NodeJsonWebKey,
} from 'node:crypto';
import { promisify } from 'node:util';

/** JWS algorithms Tessera signs with. */
export type SigningAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

export const signingAlgorithms: readonly SigningAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** A key the token strategies can sign with. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
  /** The public JWK with `kid`, `alg` and `use`, as published in the JWK Set. */
  readonly publicJwk: JWK;
}

/** A private key in any form Node can read: a KeyObject, PEM (PKCS#8 or PKCS#1/SEC1) or a private JWK. */
export type PrivateKeyInput = KeyObject | string | JWK;

/**
 * Imports a private key once, checks it fits `alg`, and derives its thumbprint kid.
 *
 * @throws TypeError when the key is not private, does not fit the algorithm, or carries a public part
 *   that does not match its private part.
 */
export async function importSigningKey(input: PrivateKeyInput, alg: SigningAlgorithm): Promise<SigningKey> {
  const privateKey = toPrivateKeyObject(input);
  checkKeyFitsAlgorithm(privateKey, alg);
  checkPublicPart(privateKey, input instanceof KeyObject || typeof input === 'string' ? undefined : input);
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { kid, alg, privateKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

function toPrivateKeyObject(input: PrivateKeyInput): KeyObject {
  if (input instanceof KeyObject) {
    if (input.type !== 'private') throw new TypeError('a signing key must be a private key');
    return input;
  }
  if (typeof input === 'string') return createPrivateKey(input);
  if (typeof input.d !== 'string') throw new TypeError('a signing JWK must include its private part');
  return createPrivateKey({ key: input as NodeJsonWebKey, format: 'jwk' });
}

const publicMembers = ['n', 'e', 'x', 'y'] as const;

/**
 * Refuses a private key whose public part is not that of its private part: the JWK Set would
 * publish a key that cannot verify what this one signs. A JWK, and a PKCS #8 key or KeyObject
 * made from one, can carry any public members. Runs once per import, never per request.
 */
function checkPublicPart(privateKey: KeyObject, jwk: JWK | undefined): void {
  const publicKey = createPublicKey(privateKey);
  // Node derives an OKP public key from `d`, so a wrong `x` in a JWK shows up here.
  const derived = publicKey.export({ format: 'jwk' });
  const differs =
    jwk !== undefined && publicMembers.some((name) => jwk[name] !== undefined && jwk[name] !== derived[name]);
  // Node keeps RSA and EC public members as given: only a signature tells whether they match `d`.
  const hash = privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  const probe = Buffer.from('tessera signing key check');
  if (differs || !verify(hash, probe, publicKey, sign(hash, probe, privateKey))) {
    throw new TypeError('the public part of the signing key does not match its private key');
  }
}

function checkKeyFitsAlgorithm(key: KeyObject, alg: SigningAlgorithm): void {
  const type = key.asymmetricKeyType;
  const fits =
    alg === 'RS256' || alg === 'PS256'
      ? type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048
      : alg === 'ES256'
        ? type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
        : type === 'ed25519';
  if (!fits) {
    throw new TypeError(`the ${String(type)} key does not fit ${alg} (RSA needs at least 2048 bits)`);
  }
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** Generates a new private key for `alg`: RSA-2048 for RS256/PS256, P-256 for ES256, Ed25519 for EdDSA. */
export async function generatePrivateKey(alg: SigningAlgorithm): Promise<KeyObject> {
  switch (alg) {
    case 'RS256':
    case 'PS256':
      return (await generateKeyPairAsync('rsa', { modulusLength: 2048 })).privateKey;
    case 'ES256':
      return (await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' })).privateKey;
    case 'EdDSA':
      return (await generateKeyPairAsync('ed25519')).privateKey;
  }
}

/** Generates and imports a new signing key. */
export async function generateSigningKey(alg: SigningAlgorithm): Promise<SigningKey> {
  return importSigningKey(await generatePrivateKey(alg), alg);
}
