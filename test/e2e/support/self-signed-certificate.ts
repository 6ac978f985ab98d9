// A throwaway TLS certificate for loopback servers, made with the openssl command line.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Writes `tls.key` and `tls.crt` into `dir`: a P-256 key and a one-day self-signed certificate for
 * 127.0.0.1 and localhost. Returns both paths.
 */
export function writeSelfSignedCertificate(dir: string): { readonly certFile: string; readonly keyFile: string } {
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}
