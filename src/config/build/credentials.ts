/**
 * Credentials: each entry is checked against its kind's schema (the kind is the key that
 * holds its secret), and its secret is read now, so a missing one fails the start rather
 * than the first run.
 */
import { resolveSecret, type SecretRef } from '../../core/secrets.js';
import { check, validateJwtCredential, validateTokenCredential } from '../check.js';
import { isObject } from '../objects.js';
import type { Problems } from '../problems.js';
import { ENV_NAME } from '../schema.js';
import type { CredentialConfig, Role } from '../types.js';
import { TTL_RANGE, duration } from './durations.js';

/** The credential named `name`, or undefined when it is not usable (the problems are recorded). */
export function buildCredential(name: string, value: unknown, env: Record<string, string | undefined>, problems: Problems): CredentialConfig | undefined {
  if (!isObject(value)) return undefined;
  const path = ['credentials', name];
  const kinds = 'jwt_secret (the signing secret, to mint tokens) or token (a pre-issued JWT or API key, with its role)';
  if ('jwt_secret' in value && 'token' in value) {
    problems.add(path, `must have one of ${kinds}, not both`);
    return undefined;
  }
  const kind = 'jwt_secret' in value ? 'jwt_secret' : 'token' in value ? 'token' : undefined;
  if (kind === undefined) {
    problems.add(path, `must have ${kinds}`);
    return undefined;
  }
  problems.addAll(check(kind === 'jwt_secret' ? validateJwtCredential : validateTokenCredential, value, path));

  const ref = value[kind];
  if (isSecretRef(ref)) {
    try {
      // Checked now so a missing secret fails the start, not the first run.
      problems.secret(resolveSecret(ref, env));
    } catch (err) {
      problems.add([...path, kind], (err as Error).message);
    }
  }
  const role = value.role as Role;
  if (kind === 'token') return { name, kind: 'token', token: ref as SecretRef, role };
  return {
    name,
    kind: 'jwt_secret',
    secret: ref as SecretRef,
    user_id: value.user_id as string,
    role,
    ttl_ms: duration(value.ttl, [...path, 'ttl'], problems, TTL_RANGE) ?? 0,
  };
}

/** Whether `value` is a complete secret reference. */
export function isSecretRef(value: unknown): value is SecretRef {
  if (!isObject(value) || Object.keys(value).length !== 1) return false;
  if (typeof value.env === 'string') return new RegExp(ENV_NAME).test(value.env);
  return typeof value.file === 'string' && value.file !== '';
}
