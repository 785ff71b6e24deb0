/**
 * TLS options for a wss:// target (and the https health endpoint beside it). Files are
 * read on every connection, so rotated certificates are picked up without a restart.
 */
import { readFileSync } from 'node:fs';
import { ProbeError } from '../core/outcome.js';

/** The TLS settings of a target, as configured. */
export interface TlsSettings {
  ca_file?: string | undefined;
  cert_file?: string | undefined;
  key_file?: string | undefined;
  insecure_skip_verify: boolean;
}

export interface TlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized: boolean;
}

/** Options for a connection to `url`; undefined for a plain ws:// URL. */
export function loadTls(url: string, t: TlsSettings): TlsOptions | undefined {
  if (!url.startsWith('wss:')) return undefined;
  const options: TlsOptions = { rejectUnauthorized: !t.insecure_skip_verify };
  const read = (field: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ProbeError('tls', `cannot read tls.${field} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { step: 'tls' });
    }
  };
  if (t.ca_file) options.ca = read('ca_file', t.ca_file);
  if (t.cert_file) options.cert = read('cert_file', t.cert_file);
  if (t.key_file) options.key = read('key_file', t.key_file);
  return options;
}
