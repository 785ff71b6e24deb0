/**
 * The whole document, once it passed the schema check: the sections in turn, each adding
 * the problems that span fields. Every problem is recorded, whatever else failed, so one
 * attempt shows them all.
 */
import { resolveSecret } from '../../core/secrets.js';
import { isObject, obj, deepFreeze } from '../objects.js';
import type { Path, Problems } from '../problems.js';
import { NO_SHARDING, shardProblem } from '../shard.js';
import type { ClientConfig, Config, CredentialConfig, HttpAuthConfig, ProbeTypeSpec } from '../types.js';
import { buildCredential, isSecretRef } from './credentials.js';
import { CLOSE_TIMEOUT_RANGE, REQUEST_TIMEOUT_RANGE, TIMEOUT_RANGE, duration, interval, override } from './durations.js';
import { buildContract, buildTarget, type TargetContext } from './targets.js';

/** Shorter HTTP credentials are guessable, and too short for the redactor to find in text. */
const MIN_HTTP_SECRET_LENGTH = 16;

/**
 * Builds the Config from the schema-checked raw data, adding the cross-field problems.
 * Parts that failed the schema may have any shape here: they are read defensively and
 * the result is discarded anyway, since a problem was recorded.
 */
export function buildConfig(raw: Record<string, unknown>, probeTypes: ReadonlyMap<string, ProbeTypeSpec>, env: Record<string, string | undefined>, problems: Problems): Config {
  const server = obj(raw.server);
  const log = obj(raw.log);
  const history = obj(raw.history);
  const defaults = obj(raw.defaults);
  const rawCredentials = obj(raw.credentials);

  // The schema filled in defaults.interval and defaults.timeout when absent.
  const defaultInterval = override(defaults.interval, interval(defaults.interval, ['defaults', 'interval'], problems), 'defaults.interval', undefined);
  const defaultTimeout = override(defaults.timeout, duration(defaults.timeout, ['defaults', 'timeout'], problems, TIMEOUT_RANGE), 'defaults.timeout', undefined);
  const defaultClient: ClientConfig = {
    max_frame_bytes: defaults.max_frame_bytes as number,
    close_timeout_ms: duration(defaults.close_timeout, ['defaults', 'close_timeout'], problems, CLOSE_TIMEOUT_RANGE) ?? 1000,
  };

  const credentials = new Map<string, CredentialConfig>();
  for (const [name, value] of Object.entries(rawCredentials)) {
    const credential = buildCredential(name, value, env, problems);
    if (credential) credentials.set(name, deepFreeze(credential));
  }

  // Before the targets, so its secret is known when they are checked for secrets.
  const httpAuth = buildHttpAuth(server.auth, env, problems);

  const topContract = buildContract(raw.contract, ['contract'], problems);
  const context: TargetContext = {
    topContract,
    probeTypes,
    problems,
    credentialNames: Object.keys(rawCredentials),
    credentials,
    defaultInterval,
    defaultTimeout,
    defaultClient,
    targetNames: new Set(),
  };
  const targets = (Array.isArray(raw.targets) ? raw.targets : []).map((value, i) => buildTarget(value, i, context));

  const rawShard = obj(raw.shard);
  const shard = raw.shard === undefined ? NO_SHARDING : { index: rawShard.index as number, total: rawShard.total as number };
  // The schema checked each number; only index < total is left (reported once the numbers are valid).
  if (Number.isInteger(shard.index) && Number.isInteger(shard.total) && shard.total >= 1 && shard.index >= shard.total) {
    problems.add(['shard', 'index'], shardProblem(shard)!);
  }

  return {
    ...(typeof raw.location === 'string' ? { location: raw.location } : {}),
    shard,
    server: {
      host: server.host as string,
      port: server.port as number,
      ...httpAuth,
      request_timeout_ms: duration(server.request_timeout, ['server', 'request_timeout'], problems, REQUEST_TIMEOUT_RANGE) ?? 10_000,
    },
    log: { level: log.level as Config['log']['level'] },
    history: { runs: history.runs as number, failures: history.failures as number },
    // fromEntries defines own properties, so a credential named "__proto__" stays data.
    credentials: Object.fromEntries(credentials),
    targets,
  };
}

/** `server.auth`, with its secret checked now so a missing one fails the start. */
function buildHttpAuth(value: unknown, env: Record<string, string | undefined>, problems: Problems): { auth?: HttpAuthConfig } {
  if (!isObject(value)) return {};
  let auth: HttpAuthConfig | undefined;
  let ref: unknown;
  let at: Path = [];
  if ('bearer_token' in value) {
    ref = value.bearer_token;
    at = ['server', 'auth', 'bearer_token'];
    if (isSecretRef(ref)) auth = { bearer_token: ref };
  } else if (isObject(value.basic)) {
    ref = value.basic.password;
    at = ['server', 'auth', 'basic', 'password'];
    if (isSecretRef(ref) && typeof value.basic.username === 'string') auth = { basic: { username: value.basic.username, password: ref } };
  }
  if (isSecretRef(ref)) {
    try {
      const secret = resolveSecret(ref, env);
      problems.secret(secret);
      if (secret.length < MIN_HTTP_SECRET_LENGTH) problems.add(at, `must be at least ${MIN_HTTP_SECRET_LENGTH} characters long`);
    } catch (err) {
      problems.add(at, (err as Error).message);
    }
  }
  return auth ? { auth } : {};
}
