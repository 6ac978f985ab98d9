// Where the key-encryption key comes from: configuration, or (development only) a file in the data folder.

import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { makeDirectory } from '../storage/make-directory.js';
import { join } from 'node:path';
import { generateKeyEncryptionKey, parseKeyEncryptionKey, type KeyEncryptionKey } from '../keys/index.js';
import { ConfigError, type ServerConfig } from './config.js';

/** The file a development server keeps its generated key-encryption key in. */
export const developmentKeyFile = 'key-encryption-key';

/**
 * Returns the key-encryption key. A configured key always wins. Without one, development mode
 * reads or generates `<dataDir>/key-encryption-key` (and warns); production mode refuses.
 *
 * @throws ConfigError when the key is malformed, or missing in production.
 */
export function resolveKeyEncryptionKey(
  config: Pick<ServerConfig, 'mode' | 'dataDir'> & { readonly keys: { readonly encryptionKey?: string | undefined } },
  warn: (message: string) => void = () => undefined,
): KeyEncryptionKey {
  if (config.keys.encryptionKey !== undefined) {
    try {
      return parseKeyEncryptionKey(config.keys.encryptionKey);
    } catch (error) {
      throw new ConfigError(`keys.encryptionKey (TESSERA_KEY_ENCRYPTION_KEY): ${(error as Error).message}`);
    }
  }
  if (config.mode !== 'development') {
    throw new ConfigError(
      'keys.encryptionKey is not set: production mode needs TESSERA_KEY_ENCRYPTION_KEY, 32 random bytes as 64 hex digits or base64 (e.g. `openssl rand -hex 32`); for a development server use --dev',
    );
  }
  const file = join(config.dataDir, developmentKeyFile);
  if (existsSync(file)) {
    try {
      return parseKeyEncryptionKey(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError(`${file}: ${(error as Error).message}`);
    }
  }
  makeDirectory(config.dataDir);
  const kek = generateKeyEncryptionKey();
  writeFileSync(file, `${Buffer.from(kek.key).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  warn(
    `generated a key-encryption key in ${file} for development; anyone who can read that file can open the stored private keys — set TESSERA_KEY_ENCRYPTION_KEY in production`,
  );
  return kek;
}

/**
 * Parses the older key-encryption keys that may still open stored values.
 *
 * @throws ConfigError naming the position of a malformed key, never its value.
 */
export function resolvePreviousKeyEncryptionKeys(config: {
  readonly keys: { readonly previousEncryptionKeys?: readonly string[] };
}): KeyEncryptionKey[] {
  const keys = (config.keys.previousEncryptionKeys ?? []).map((text, index) => {
    try {
      return parseKeyEncryptionKey(text);
    } catch (error) {
      throw new ConfigError(
        `keys.previousEncryptionKeys (TESSERA_PREVIOUS_KEY_ENCRYPTION_KEYS), entry ${index + 1}: ${(error as Error).message}`,
      );
    }
  });
  // A key's id is its fingerprint: one key listed twice (in hex once and base64 once, say) is
  // kept once, as a sealer takes each key once.
  return keys.filter((kek, index) => keys.findIndex((other) => other.id === kek.id) === index);
}
