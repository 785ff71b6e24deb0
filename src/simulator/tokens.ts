/**
 * Sorts a presented credential into exactly one class, the way camprobe's access matrix
 * names them, so each fault can target one class. The simulator's own code, on purpose:
 * sharing camprobe's would mirror its mistakes. Never logs or echoes a token.
 */
import { jwtVerify } from 'jose';
import { isPlainObject, isRole } from './faults.js';
import type { Role } from './faults.js';

/** A credential the service accepts: an API key, or an HS256 JWT with every documented claim. */
export interface Credential {
  role: Role;
  method: 'jwt' | 'api_key';
  /** A JWT's `exp` (seconds since the epoch); an API key never expires. */
  expiresAt?: number;
}

/** Why a presented token is not a credential. */
export type BadToken = 'forged' | 'expired' | 'alg_none' | 'malformed';

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const SIGNATURE = /^[A-Za-z0-9_-]*$/;

/**
 * In this order: an API key, or a valid JWT (the caller compares its role with the
 * method's); else a JWT whose header says `alg: none` (any case); else a JWT whose
 * signature is valid but whose `exp` is past; else a JWT whose signature does not verify
 * with the service's key and HS256 (`forged`); else `malformed`: not a string, not a JWT
 * (three base64url parts, JSON object header with a string `alg`, JSON object payload), or
 * a correctly signed JWT whose claims are missing, ill-typed or not yet valid.
 */
export async function inspectToken(token: unknown, secret: Uint8Array, apiKeys: ReadonlyMap<string, Role>): Promise<Credential | BadToken> {
  if (typeof token !== 'string') return 'malformed';
  const keyRole = apiKeys.get(token);
  if (keyRole) return { role: keyRole, method: 'api_key' };
  const alg = jwtAlgorithm(token);
  if (alg === undefined) return 'malformed';
  if (alg.toLowerCase() === 'none') return 'alg_none';
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    const { user_id: userId, role, iat, exp } = payload;
    if (typeof userId !== 'string' || !isRole(role) || typeof iat !== 'number' || typeof exp !== 'number') return 'malformed';
    return { role, method: 'jwt', expiresAt: exp };
  } catch (err) {
    // jose checks the signature before the claims: "expired" implies a valid signature.
    switch ((err as { code?: unknown }).code) {
      case 'ERR_JWT_EXPIRED':
        return 'expired';
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
        return 'forged';
      default:
        return 'malformed';
    }
  }
}

/**
 * Whether a credential accepted earlier has expired by `nowMs`, by jose's rule (clock
 * tolerance 0): a JWT is valid while the current second is below its `exp`.
 */
export function hasExpired(credential: Credential, nowMs: number): boolean {
  return credential.expiresAt !== undefined && Math.floor(nowMs / 1000) >= credential.expiresAt;
}

/** The `alg` of a token shaped like a compact JWS with a JSON payload, else undefined. */
function jwtAlgorithm(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  if (!SEGMENT.test(header) || !SEGMENT.test(payload) || !SIGNATURE.test(signature)) return undefined;
  const decoded = [header, payload].map((part) => {
    try {
      return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    } catch {
      return undefined;
    }
  });
  const [head, body] = decoded;
  if (!isPlainObject(head) || !isPlainObject(body) || typeof head.alg !== 'string') return undefined;
  return head.alg;
}
