/**
 * Access control for camprobe's own HTTP endpoints: a bearer token or basic auth, the
 * credential read from the environment or a file (re-read on each check, so a rotated
 * file takes effect without a reload). Comparison is constant-time over digests, so
 * neither the content nor the length of the secret leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpAuthConfig } from '../config/types.js';
import { resolveSecret, type Redactor } from '../core/secrets.js';

/** Decides whether a request to camprobe's HTTP server may proceed. */
export interface HttpAuthorizer {
  /** The `WWW-Authenticate` challenge sent with a 401. */
  readonly challenge: string;
  /** Whether the request's `Authorization` header grants access. */
  check(authorization: string | undefined): boolean;
}

/**
 * The authorizer for `server.auth`; the secret is added to `redactor` so no log shows it.
 * Throws if the credential cannot be read now, so an unusable configuration is refused
 * when it is loaded rather than on the first request.
 */
export function createHttpAuthorizer(
  cfg: HttpAuthConfig,
  redactor: Redactor,
  env: Record<string, string | undefined> = process.env,
): HttpAuthorizer {
  const secretOf = (ref: Parameters<typeof resolveSecret>[0]) => {
    const value = resolveSecret(ref, env);
    redactor.add(value);
    return value;
  };
  if ('bearer_token' in cfg) {
    secretOf(cfg.bearer_token);
    return {
      challenge: 'Bearer realm="camprobe"',
      check: (header) => {
        const presented = schemeValue(header, 'bearer');
        return presented !== undefined && sameSecret(presented, secretOf(cfg.bearer_token));
      },
    };
  }
  const { username, password } = cfg.basic;
  secretOf(password);
  return {
    challenge: 'Basic realm="camprobe", charset="UTF-8"',
    check: (header) => {
      const presented = schemeValue(header, 'basic');
      if (presented === undefined) return false;
      const expected = `${username}:${secretOf(password)}`;
      return sameSecret(Buffer.from(presented, 'base64').toString('utf8'), expected);
    },
  };
}

/** The credential after `scheme ` in an Authorization header (scheme case-insensitive). */
function schemeValue(header: string | undefined, scheme: string): string | undefined {
  if (header === undefined) return undefined;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== scheme) return undefined;
  const value = header.slice(space + 1).trim();
  return value === '' ? undefined : value;
}

function sameSecret(presented: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
