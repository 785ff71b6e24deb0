/**
 * The whole document: the schema check, then the sections in turn, each adding the
 * problems that span fields. Every problem is recorded, whatever else failed, so one
 * attempt shows them all.
 */
import { checkAndPrune, compile, type Pruned } from '../check.js';
import { isObject } from '../objects.js';
import type { Path, Problems } from '../problems.js';
import { CLOSE_TIMEOUT_DEFAULT, rootSchema, type RawDefaults, type RawHttpAuth, type RawServer, type RawShard } from '../schema.js';
import { NO_SHARDING, shardProblem, type Shard } from '../shard.js';
import type { Config, CredentialConfig, HttpAuthConfig, ProbeTypeSpec, ServerConfig } from '../types.js';
import { buildCredential, completeSecretRef, readSecret } from './credentials.js';
import { CLOSE_TIMEOUT_RANGE, INTERVAL_RANGE, REQUEST_TIMEOUT_RANGE, TIMEOUT_RANGE, duration, durationOr, override } from './durations.js';
import { buildContract, buildTarget, type TargetDefaults } from './targets.js';

const validateRoot = compile(rootSchema);
/** Shorter HTTP credentials are guessable, and too short for the redactor to find in text. */
const MIN_HTTP_SECRET_LENGTH = 16;

export interface BuildOptions {
  /** Probe types by `type`; their option schemas validate the probe entries. */
  probeTypes: ReadonlyMap<string, ProbeTypeSpec>;
  /** Variables for `{ env: VAR }` secrets. */
  env: Record<string, string | undefined>;
  problems: Problems;
}

/**
 * Checks an interpolated document (coercing and filling defaults in place) and builds the
 * Config, recording every problem. Returns undefined when a part could not be built; that
 * part's problem is recorded, and the caller refuses a configuration with any problem.
 */
export function buildConfig(data: Record<string, unknown>, { probeTypes, env, problems }: BuildOptions): Config | undefined {
  // Every name under `credentials`, valid or not, so a target naming a broken one is not also told it is unknown.
  const credentialNames = isObject(data.credentials) ? Object.keys(data.credentials) : [];
  const { problems: found, pruned: raw } = checkAndPrune(validateRoot, data, []);
  problems.addAll(found);

  const defaults = targetDefaults(raw.defaults, problems);
  const credentials = new Map<string, CredentialConfig>();
  for (const [name, value] of Object.entries(raw.credentials ?? {})) {
    const credential = buildCredential(name, value, env, problems);
    if (credential) credentials.set(name, credential);
  }
  // Before the targets, so its secret is known when they are checked for secrets.
  const httpAuth = buildHttpAuth(raw.server?.auth, env, problems);
  const ctx = {
    problems,
    probeTypes,
    topContract: buildContract(raw.contract, ['contract'], problems),
    credentialNames,
    credentials,
    defaults,
    targetNames: new Set<string>(),
  };
  const targets = (raw.targets ?? []).map((target, i) => buildTarget(target, i, ctx));
  const shard = buildShard(raw.shard, problems);
  const server = buildServer(raw.server, httpAuth, problems);
  const { level } = raw.log ?? {};
  const { runs, failures } = raw.history ?? {};

  if (!server || !shard || level === undefined || runs === undefined || failures === undefined || !allDefined(targets)) return undefined;
  return {
    ...(raw.location !== undefined ? { location: raw.location } : {}),
    shard,
    server,
    log: { level },
    history: { runs, failures },
    // fromEntries defines own properties, so a credential named "__proto__" stays data.
    credentials: Object.fromEntries(credentials),
    targets,
  };
}

/** `defaults`, parsed: what targets and probes inherit. */
function targetDefaults(d: Pruned<RawDefaults> | undefined, problems: Problems): TargetDefaults {
  const at = (key: string): Path => ['defaults', key];
  return {
    interval: override(d?.interval, duration(d?.interval, at('interval'), problems, INTERVAL_RANGE), 'defaults.interval', undefined),
    timeout: override(d?.timeout, duration(d?.timeout, at('timeout'), problems, TIMEOUT_RANGE), 'defaults.timeout', undefined),
    maxFrameBytes: d?.max_frame_bytes,
    closeTimeoutMs: durationOr(CLOSE_TIMEOUT_DEFAULT, d?.close_timeout, at('close_timeout'), problems, CLOSE_TIMEOUT_RANGE),
  };
}

function buildServer(server: Pruned<RawServer> | undefined, httpAuth: { auth?: HttpAuthConfig }, problems: Problems): ServerConfig | undefined {
  const requestTimeoutMs = duration(server?.request_timeout, ['server', 'request_timeout'], problems, REQUEST_TIMEOUT_RANGE);
  if (server?.host === undefined || server.port === undefined || requestTimeoutMs === undefined) return undefined;
  return { host: server.host, port: server.port, ...httpAuth, request_timeout_ms: requestTimeoutMs };
}

/** `server.auth`, with its secret checked now so a missing or short one fails the start. */
function buildHttpAuth(auth: Pruned<RawHttpAuth> | undefined, env: Record<string, string | undefined>, problems: Problems): { auth?: HttpAuthConfig } {
  if (auth === undefined) return {};
  const bearer = 'bearer_token' in auth;
  const basic = 'basic' in auth ? auth.basic : undefined;
  const at: Path = bearer ? ['server', 'auth', 'bearer_token'] : ['server', 'auth', 'basic', 'password'];
  const ref = completeSecretRef('bearer_token' in auth ? auth.bearer_token : basic?.password);
  if (ref === undefined) return {};
  const secret = readSecret(ref, at, env, problems);
  if (secret !== undefined && secret.length < MIN_HTTP_SECRET_LENGTH) problems.add(at, `must be at least ${MIN_HTTP_SECRET_LENGTH} characters long`);
  if (bearer) return { auth: { bearer_token: ref } };
  return basic?.username === undefined ? {} : { auth: { basic: { username: basic.username, password: ref } } };
}

/** This replica's part of the targets; the schema checked each number, only index < total is left. */
function buildShard(shard: Pruned<RawShard> | undefined, problems: Problems): Shard | undefined {
  if (shard === undefined) return NO_SHARDING;
  const { index, total } = shard;
  if (index === undefined || total === undefined) return undefined;
  const problem = shardProblem({ index, total });
  if (problem === undefined) return { index, total };
  problems.add(['shard', 'index'], problem);
  return undefined;
}

function allDefined<T>(list: Array<T | undefined>): list is T[] {
  return list.every((item) => item !== undefined);
}
