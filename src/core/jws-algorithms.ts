// The JWS algorithms Tessera accepts from others: public-key signatures only.

/**
 * Public-key JWS algorithms (RFC 7518 §3, RFC 8037, and `Ed25519` as fully specified): what a
 * verifier may accept for access tokens and client assertions. `none` and the HMAC family never
 * are: a MAC would be keyed by a public key anyone can read.
 */
export const asymmetricJwsAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export type AsymmetricJwsAlgorithm = (typeof asymmetricJwsAlgorithms)[number];
