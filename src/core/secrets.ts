/**
 * Secrets: where they come from (an environment variable or a file, never the config
 * text) and how they are kept out of every text camprobe writes.
 */
import { readFileSync, statSync } from 'node:fs';
import { fsProblem, isFsError, quote } from './text.js';

/** Where a secret comes from: an environment variable or a file, never a literal. */
export type SecretRef = { env: string } | { file: string };

const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Reads a secret from its environment variable or file (one trailing newline dropped).
 * Errors name the variable or file, never the value.
 */
export function resolveSecret(ref: SecretRef, env: Record<string, string | undefined> = process.env): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined) throw new Error(`environment variable ${ref.env} is not set`);
    if (value === '') throw new Error(`environment variable ${ref.env} is empty`);
    return value;
  }
  let text: string;
  try {
    if (statSync(ref.file).size > MAX_SECRET_BYTES) throw new Error(`secret file ${quote(ref.file)} is larger than 64 KiB`);
    text = readFileSync(ref.file, 'utf8');
  } catch (err) {
    if (!isFsError(err)) throw err;
    throw new Error(`cannot read secret file ${quote(ref.file)}: ${fsProblem(err)}`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new Error(`secret file ${quote(ref.file)} is empty`);
  return value;
}

/**
 * Removes secrets from any text before it reaches a log line, a metric, `/api/runs` or
 * an error message. Known secrets (signing secrets, static tokens) are registered; any
 * JWT-shaped string is removed too, since minted tokens are secrets as well.
 */
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*/g;
/** Secrets shorter than this are not searched for: they would redact ordinary words. */
const MIN_SECRET_LENGTH = 6;
export const REDACTED = '[REDACTED]';

export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string): void {
    if (secret.length >= MIN_SECRET_LENGTH) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = text.replace(JWT_PATTERN, REDACTED);
    for (const secret of this.secrets) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    return out;
  }
}

/**
 * A target URL as camprobe shows it (logs, `check-config`): without user info, query or
 * fragment, which may carry a token. A removed query is marked `?…` so the URL is not
 * mistaken for the whole of the configured one.
 */
export function publicUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(not a URL)';
  }
  const hadQuery = parsed.search !== '';
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  return `${parsed.href}${hadQuery ? '?…' : ''}`;
}
