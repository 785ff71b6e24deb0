/**
 * Credentials for one configured credential: the valid one positive probes use, and the
 * bad ones rejection probes need (forged, expired, unsigned, malformed, too-low role).
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { CredentialConfig, Role } from '../config/types.js';
import { resolveSecret, type Redactor } from '../core/secrets.js';

export const BAD_CREDENTIALS = ['forged', 'expired', 'alg_none', 'malformed'] as const;
export type BadCredential = (typeof BAD_CREDENTIALS)[number];

export interface CredentialProvider {
  /** Role the valid credential carries. */
  readonly role: Role;
  /** True when tokens can be minted for any role (the holder of the signing secret). */
  readonly canMint: boolean;
  /** A credential the service must accept. */
  valid(): Promise<string>;
  /** A valid token for `role`; throws when `canMint` is false. */
  mint(role: Role, ttlSeconds?: number): Promise<string>;
  /** A credential the service must refuse. `expired` needs `canMint`. */
  bad(kind: BadCredential, role: Role): Promise<string>;
}

/** A secret no deployment holds: signs the forged tokens. One per process. */
const FORGERY_KEY = randomBytes(32);
const EXPIRED_BY_SECONDS = 3600;

export function createCredentialProvider(
  cfg: CredentialConfig,
  redactor: Redactor,
  env: Record<string, string | undefined> = process.env,
): CredentialProvider {
  const secretOf = (): string => {
    const value = cfg.kind === 'jwt_secret' ? resolveSecret(cfg.secret, env) : resolveSecret(cfg.token, env);
    redactor.add(value);
    return value;
  };
  // Resolve once now so the secret is known to the redactor before anything can leak it.
  secretOf();

  if (cfg.kind === 'token') {
    return {
      role: cfg.role,
      canMint: false,
      valid: async () => secretOf(),
      mint: async () => {
        throw new Error(`credential "${cfg.name}" is a static token: it cannot mint tokens for other roles`);
      },
      bad: async (kind, role) => {
        if (kind === 'expired') throw new Error(`credential "${cfg.name}" is a static token: it cannot mint an expired token`);
        return badToken(kind, cfg.name, role);
      },
    };
  }

  const sign = (role: Role, iat: number, exp: number, key: Uint8Array) =>
    new SignJWT({ user_id: cfg.user_id, role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key);
  const now = () => Math.floor(Date.now() / 1000);
  const key = () => new TextEncoder().encode(secretOf());
  const ttl = Math.max(1, Math.floor(cfg.ttl_ms / 1000));

  // `ttlSeconds` shorter than the configured lifetime: the session probe's expiry check.
  const mint = (role: Role, ttlSeconds = ttl) => sign(role, now(), now() + Math.max(1, Math.floor(ttlSeconds)), key());
  // The valid token is reused while more than half of its lifetime is left, like any
  // client does: signing through WebCrypto on every run was a large share of the
  // daemon's CPU at scale (docs/performance.md, change 2). A changed secret (a rotated
  // secret file) mints a new one at once.
  let cached: { token: string; secret: string; renewAtMs: number } | undefined;
  const valid = async (): Promise<string> => {
    const secret = secretOf();
    if (cached && cached.secret === secret && Date.now() < cached.renewAtMs) return cached.token;
    const iat = now();
    const token = await sign(cfg.role, iat, iat + ttl, new TextEncoder().encode(secret));
    cached = { token, secret, renewAtMs: (iat + ttl / 2) * 1000 };
    return token;
  };
  return {
    role: cfg.role,
    canMint: true,
    valid,
    mint,
    bad: async (kind, role) => {
      if (kind === 'expired') {
        const exp = now() - EXPIRED_BY_SECONDS;
        return sign(role, exp - ttl, exp, key());
      }
      return badToken(kind, cfg.user_id, role);
    },
  };
}

function badToken(kind: 'forged' | 'alg_none' | 'malformed', userId: string, role: Role): Promise<string> | string {
  const iat = Math.floor(Date.now() / 1000);
  const claims = { user_id: userId, role, iat, exp: iat + 300 };
  if (kind === 'forged') {
    return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(FORGERY_KEY);
  }
  if (kind === 'alg_none') {
    // jose refuses to produce unsigned tokens; they are what we must prove the service refuses.
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
  }
  return 'camprobe-malformed-token';
}
