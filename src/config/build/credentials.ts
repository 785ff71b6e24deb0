/**
 * Credentials: each entry is checked against its kind's schema (the kind is the key that
 * holds its secret), and its secret is read now, so a missing one fails the start rather
 * than the first run.
 */
import { resolveSecret, type SecretRef } from '../../core/secrets.js';
import { closest } from '../../core/text.js';
import { checkAndPrune, compile, unknownKey, type Pruned } from '../check.js';
import { isObject } from '../objects.js';
import type { Path, Problems } from '../problems.js';
import { CREDENTIAL_SCHEMAS, TTL_DEFAULT, type CredentialKind, type RawSecretRef } from '../schema.js';
import type { CredentialConfig } from '../types.js';
import { TTL_RANGE, durationOr } from './durations.js';

const validators = {
  jwt_secret: compile(CREDENTIAL_SCHEMAS.jwt_secret),
  token: compile(CREDENTIAL_SCHEMAS.token),
};
const KINDS = Object.keys(CREDENTIAL_SCHEMAS).filter((k): k is CredentialKind => k in CREDENTIAL_SCHEMAS);
type Env = Record<string, string | undefined>;

const KINDS_TEXT = 'jwt_secret (the signing secret, to mint tokens) or token (a pre-issued JWT or API key, with its role)';

/** The credential named `name`, or undefined when it is not usable (the problems are recorded). */
export function buildCredential(name: string, value: unknown, env: Env, problems: Problems): CredentialConfig | undefined {
  if (!isObject(value)) return undefined;
  const path = ['credentials', name];
  const kinds = KINDS.filter((k) => k in value);
  const [kind] = kinds;
  if (kinds.length > 1) {
    problems.add(path, `must have one of ${KINDS_TEXT}, not both`);
    return undefined;
  }
  if (kind === undefined) {
    kindless(value, path, problems);
    return undefined;
  }
  return kind === 'jwt_secret' ? jwtCredential(name, value, path, env, problems) : tokenCredential(name, value, path, env, problems);
}

/**
 * A credential with neither kind's key: each key neither kind knows is named (schema
 * checks cannot, not knowing the kind), with the one it likely misspells. "must have"
 * only when no key reads as a misspelt kind, which would say the same thing twice.
 */
function kindless(value: Record<string, unknown>, path: Path, problems: Problems): void {
  const allowed = [...new Set(KINDS.flatMap((k) => Object.keys(CREDENTIAL_SCHEMAS[k].properties)))];
  const unknown = Object.keys(value).filter((key) => !allowed.includes(key));
  for (const key of unknown) problems.add(path, unknownKey(key, allowed), [...path, key]);
  if (!unknown.some((key) => KINDS.some((k) => closest(key, allowed) === k))) problems.add(path, `must have ${KINDS_TEXT}`);
}

function jwtCredential(name: string, value: Record<string, unknown>, path: Path, env: Env, problems: Problems): CredentialConfig | undefined {
  const { problems: found, pruned: c } = checkAndPrune(validators.jwt_secret, value, path);
  problems.addAll(found);
  const secret = completeSecretRef(c.jwt_secret);
  if (secret) readSecret(secret, [...path, 'jwt_secret'], env, problems);
  const ttlMs = durationOr(TTL_DEFAULT, c.ttl, [...path, 'ttl'], problems, TTL_RANGE);
  if (secret === undefined || c.user_id === undefined || c.role === undefined) return undefined;
  return { name, kind: 'jwt_secret', secret, user_id: c.user_id, role: c.role, ttl_ms: ttlMs };
}

function tokenCredential(name: string, value: Record<string, unknown>, path: Path, env: Env, problems: Problems): CredentialConfig | undefined {
  const { problems: found, pruned: c } = checkAndPrune(validators.token, value, path);
  problems.addAll(found);
  const token = completeSecretRef(c.token);
  if (token) readSecret(token, [...path, 'token'], env, problems);
  if (token === undefined || c.role === undefined) return undefined;
  return { name, kind: 'token', token, role: c.role };
}

/** The reference when what is left of it after the schema check still names a variable or a file. */
export function completeSecretRef(ref: Pruned<RawSecretRef> | undefined): RawSecretRef | undefined {
  if (ref === undefined) return undefined;
  if ('env' in ref && ref.env !== undefined) return { env: ref.env };
  if ('file' in ref && ref.file !== undefined) return { file: ref.file };
  return undefined;
}

/**
 * Reads a secret now, so a missing one fails the start rather than the first run, and
 * registers it so it is never quoted back. Undefined when unreadable (the problem is recorded).
 */
export function readSecret(ref: SecretRef, path: Path, env: Env, problems: Problems): string | undefined {
  try {
    const secret = resolveSecret(ref, env);
    problems.secret(secret);
    return secret;
  } catch (err) {
    problems.add(path, err instanceof Error ? err.message : String(err));
    return undefined;
  }
}
