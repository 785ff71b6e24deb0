/**
 * One classifier for network errors, shared by every probe that opens a socket (the
 * JSON-RPC client and the http probe), so the same errno gets the same reason whatever
 * the probe type.
 */
import { ProbeError } from '../core/outcome.js';

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** What to change in the config for the common certificate failures. */
function tlsHint(code: string): string {
  if (code.includes('CERTIFICATE_REQUIRED')) return ' (the server wants a client certificate: set tls.cert_file and tls.key_file)';
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code.startsWith('UNABLE_TO_')) {
    return ' (trust the issuing CA with tls.ca_file)';
  }
  return '';
}

export function isTlsError(code: string): boolean {
  return TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /CERT|SELF_SIGNED|VERIFY/.test(code);
}

/**
 * The reason for a socket-level error, or undefined when it is none of the shared cases
 * (the caller then says what it was doing). `inTls` marks an error raised during the TLS
 * handshake, whatever its code.
 */
export function classifyNetError(err: NodeJS.ErrnoException, inTls = false): ProbeError | undefined {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return new ProbeError('connect_refused', `connection refused (${code})`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ProbeError('dns', `cannot resolve host (${code})`);
  if (inTls || isTlsError(code)) {
    const message = err.message && err.message !== code ? `${code ? `${code}: ` : ''}${err.message}` : code;
    return new ProbeError('tls', `TLS handshake failed: ${message}${tlsHint(code)}`);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') return new ProbeError('closed', `connection closed by the service (${code})`);
  return undefined;
}
