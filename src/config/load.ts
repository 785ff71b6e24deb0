/**
 * Reads and validates the configuration once, at start: interpolation, schema, then the
 * rules that span fields. Every problem is collected and listed in document order, so one
 * attempt shows them all. The result is frozen.
 */
import { statSync, accessSync, constants as fsConstants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { createTask, validateDetailed } from 'node-cron';
import { STEPS } from '../core/outcome.js';
import { loadContract } from '../contract/openrpc.js';
import { DOCUMENTED_METHOD_ROLES, DOCUMENTED_SIDE_EFFECT_METHODS } from './methods.js';
import type { SecretRef } from '../core/secrets.js';
import type {
  ProbeTypeSpec,
  ClientConfig,
  Config,
  ContractConfig,
  CredentialConfig,
  HttpAuthConfig,
  ProbeConfig,
  Role,
  TargetConfig,
  TlsConfig,
} from './types.js';
import { DURATION_HINT, formatDuration, parseDuration } from '../core/duration.js';
import { Redactor, resolveSecret } from '../core/secrets.js';
import { fsProblem } from '../core/text.js';
import { interpolate } from './interpolate.js';
import { NO_SHARDING, shardProblem } from './shard.js';
import { quote } from '../core/text.js';
import { ENV_NAME, PROBE_BASE_KEYS } from './schema.js';
import {
  check,
  compileOptionsSchema,
  validateJwtCredential,
  validateRoot,
  validateTokenCredential,
  type Path,
  type SchemaProblem,
} from './check.js';


export const DEFAULT_CONFIG_PATH = 'config/camprobe.yaml';

/** The configuration is invalid; `problems` lists every problem found, one line each. */
export class ConfigError extends Error {
  readonly code = 'CAMPROBE_ERR_CONFIG';
  readonly problems: string[];

  constructor(source: string, problems: string[]) {
    super(`invalid configuration in ${source}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface ParseOptions {
  /** Names the configuration in messages (usually its path). */
  source: string;
  /** Variables for `${VAR}` and `{ env: VAR }` secrets; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
  /** Probe types by `type`; their option schemas validate the probe entries. */
  probeTypes: ReadonlyMap<string, ProbeTypeSpec>;
}

const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
const DEFAULT_PROBES = ['auth_flow', 'camera_list', 'protected_rejection'];
const TTL_RANGE: [number, number] = [10_000, 86_400_000];
const CLOSE_TIMEOUT_RANGE: [number, number] = [10, 30_000];
const TIMEOUT_RANGE: [number, number] = [10, 86_400_000];
const REQUEST_TIMEOUT_RANGE: [number, number] = [100, 300_000];
/**
 * Sub-second runs would exceed the service's rate limit (60 requests a minute) with even a
 * one-request probe; past a day, a cron `schedule` says better when a probe should run.
 */
const INTERVAL_RANGE: [number, number] = [1000, 86_400_000];
/** Shorter HTTP credentials are guessable, and too short for the redactor to find in text. */
const MIN_HTTP_SECRET_LENGTH = 16;

/** The text of a configuration file; a ConfigError naming the file when it cannot be read. */
export async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${fsProblem(err)}`]);
  }
}

/** `probe_scripts_dir`, interpolated, when it is a usable string; anything else is left to parseConfig to report. */
export function scriptsDirOf(text: string, env: Record<string, string | undefined>): string | undefined {
  let raw: unknown;
  try {
    raw = parseDocument(text, { prettyErrors: false }).get('probe_scripts_dir');
  } catch {
    return undefined;
  }
  if (typeof raw !== 'string' || raw === '') return undefined;
  const result = interpolate(raw, env);
  return 'error' in result ? undefined : result.value;
}

/** Validates configuration text; throws a ConfigError listing every problem. */
export function parseConfig(text: string, opts: ParseOptions): Config {
  const env = opts.env ?? process.env;
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError(opts.source, ['the file is larger than 16 MiB']);

  const lines = new LineCounter();
  // prettyErrors off: the pretty form quotes the source line, which could hold a secret.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  const yamlProblems = [...doc.errors, ...doc.warnings].map((e) => {
    const { line, col } = lines.linePos(e.pos[0]);
    return `line ${line}, column ${col}: ${e.message.split('\n')[0]}`;
  });
  if (yamlProblems.length > 0) throw new ConfigError(opts.source, yamlProblems);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError(opts.source, [(err as Error).message]);
  }
  if (!isObject(raw)) {
    throw new ConfigError(opts.source, ['top level: must be a mapping with "credentials" and "targets" (see config/camprobe.yaml)']);
  }

  const problems = new Problems(doc);
  interpolateAll(raw, [], env, problems);
  problems.addAll(check(validateRoot, raw, []));
  const config = build(raw, opts.probeTypes, env, problems);
  if (problems.size > 0) throw new ConfigError(opts.source, problems.sorted());
  return deepFreeze(config);
}

/** Problems keyed by path, kept once each, sorted by where they sit in the document. */
class Problems {
  private readonly entries: Array<{ pos: number; text: string }> = [];
  private readonly seen = new Set<string>();
  /** Paths already reported as unusable: later problems under them would only be noise. */
  private readonly failed = new Set<string>();
  /** Secrets met while loading: a value interpolated from one must not be quoted back. */
  private readonly redactor = new Redactor();

  constructor(private readonly doc: Document) {}

  get size(): number {
    return this.entries.length;
  }

  add(path: Path, message: string, at: Path = path): void {
    for (let i = 0; i <= at.length; i++) if (this.failed.has(JSON.stringify(at.slice(0, i)))) return;
    const text = `${formatPath(path)}: ${message}`;
    if (this.seen.has(text)) return;
    this.seen.add(text);
    this.entries.push({ pos: this.position(at), text });
  }

  addAll(list: SchemaProblem[]): void {
    for (const p of list) this.add(p.path, p.message, p.at);
  }

  /** Reports `path` and silences anything reported under it afterwards. */
  fail(path: Path, message: string): void {
    this.add(path, message);
    this.failed.add(JSON.stringify(path));
  }

  secret(value: string): void {
    this.redactor.add(value);
  }

  hasSecret(text: string): boolean {
    return this.redactor.redact(text) !== text;
  }

  sorted(): string[] {
    return this.entries
      .map((e, i) => ({ ...e, i }))
      .sort((a, b) => a.pos - b.pos || a.i - b.i)
      .map((e) => this.redactor.redact(e.text));
  }

  /** Offset of the nearest node that exists in the document (defaults and merges have none). */
  private position(path: Path): number {
    for (let n = path.length; n > 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return node.range[0];
    }
    return 0;
  }
}

function formatPath(path: Path): string {
  if (path.length === 0) return 'top level';
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${quote(segment)}]`;
  }
  return out;
}

/**
 * Replaces `${VAR}` in every string value, in place; empty values are refused here too.
 * YAML aliases make shared nodes (visited once, so `$$` is not unescaped twice) and can
 * make cycles (refused: nothing downstream could walk them).
 */
function interpolateAll(
  node: Record<string, unknown> | unknown[],
  path: Path,
  env: Record<string, string | undefined>,
  problems: Problems,
  visited = new WeakSet<object>(),
  ancestors = new Set<object>([node]),
): void {
  visited.add(node);
  const entries: Array<[string | number, unknown]> = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
  const set = (key: string | number, value: unknown) => {
    if (Array.isArray(node)) node[key as number] = value;
    else if (value === undefined) delete node[key as string];
    else node[key as string] = value;
  };
  for (const [key, value] of entries) {
    const at = [...path, key];
    if (typeof value === 'string') {
      const result = interpolate(value, env);
      if ('error' in result) problems.fail(at, result.error);
      else set(key, result.value);
    } else if (value === null || value === undefined) {
      // An empty `key:` would otherwise be coerced to 0, "" or false by the schema.
      problems.fail(at, 'has no value: give one, or remove the key to use the default');
      set(key, undefined);
    } else if (typeof value === 'object') {
      if (ancestors.has(value)) {
        problems.fail(at, 'is a YAML alias of a node that contains it');
        set(key, undefined);
      } else if (!visited.has(value)) {
        ancestors.add(value);
        interpolateAll(value as Record<string, unknown>, at, env, problems, visited, ancestors);
        ancestors.delete(value);
      }
    }
  }
}

interface Inherited {
  ms: number;
  /** Where the value was set, when not on the probe itself. */
  from?: string;
}

/**
 * A setting given at this level replaces the inherited one. One given but invalid is
 * unknown (undefined), so no comparison is made against a value the user did not mean.
 */
function override(value: unknown, ms: number | undefined, from: string | undefined, inherited: Inherited | undefined): Inherited | undefined {
  if (value === undefined) return inherited;
  return ms === undefined ? undefined : { ms, ...(from === undefined ? {} : { from }) };
}

/**
 * Builds the Config from the schema-checked raw data, adding the cross-field problems.
 * Parts that failed the schema may have any shape here: they are read defensively and
 * the result is discarded anyway, since a problem was recorded.
 */
function build(raw: Record<string, unknown>, probeTypes: ParseOptions['probeTypes'], env: Record<string, string | undefined>, problems: Problems): Config {
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

function buildCredential(name: string, value: unknown, env: Record<string, string | undefined>, problems: Problems): CredentialConfig | undefined {
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

interface TargetContext {
  topContract: ContractConfig | undefined;
  probeTypes: ParseOptions['probeTypes'];
  problems: Problems;
  /** Every name under `credentials`, valid or not (so a broken one is not also "unknown"). */
  credentialNames: string[];
  credentials: ReadonlyMap<string, CredentialConfig>;
  defaultInterval: Inherited | undefined;
  defaultTimeout: Inherited | undefined;
  defaultClient: ClientConfig;
  targetNames: Set<string>;
}

function buildTarget(value: unknown, index: number, ctx: TargetContext): TargetConfig {
  const { problems } = ctx;
  const path = ['targets', index];
  const at = (key: string): Path => [...path, key];
  const t = obj(value);

  const name = t.name as string;
  if (typeof name === 'string') {
    if (ctx.targetNames.has(name)) problems.add(at('name'), `duplicate target name ${quote(name)}`);
    else ctx.targetNames.add(name);
  }

  const url = t.url as string;
  if (typeof url === 'string') checkUrl(url, at('url'), problems);
  // Names become metric labels and URLs are logged: neither may carry a secret.
  for (const key of ['name', 'url'] as const) {
    if (typeof t[key] === 'string' && problems.hasSecret(t[key])) {
      problems.add(at(key), 'contains the value of a secret (or a JWT): it would be exported in labels and logs');
    }
  }

  let credential = t.credential as string | undefined;
  const defined = `(defined: ${ctx.credentialNames.join(', ')})`;
  if (credential === undefined) {
    if (ctx.credentialNames.length === 1) credential = ctx.credentialNames[0];
    else if (ctx.credentialNames.length > 1) problems.add(at('credential'), `is required when more than one credential is defined ${defined}`);
  } else if (typeof credential === 'string' && !ctx.credentialNames.includes(credential)) {
    problems.add(at('credential'), `unknown credential ${quote(credential)} ${defined}`);
  }

  const tls = buildTls(t.tls, url, at('tls'), problems);

  const ownInterval = interval(t.interval, at('interval'), problems);
  const ownTimeout = duration(t.timeout, at('timeout'), problems, TIMEOUT_RANGE);
  const closeTimeout = duration(t.close_timeout, at('close_timeout'), problems, CLOSE_TIMEOUT_RANGE);

  const contract = t.contract === undefined ? ctx.topContract : buildContract(t.contract, at('contract'), problems);
  const target: TargetConfig = {
    name,
    url,
    credential: credential as string,
    methods: { ...DOCUMENTED_METHOD_ROLES, ...(obj(t.methods) as Record<string, Role>) },
    side_effect_methods: Array.isArray(t.side_effect_methods) ? (t.side_effect_methods as string[]) : [...DOCUMENTED_SIDE_EFFECT_METHODS],
    tls,
    client: {
      max_frame_bytes: (t.max_frame_bytes as number | undefined) ?? ctx.defaultClient.max_frame_bytes,
      close_timeout_ms: closeTimeout ?? ctx.defaultClient.close_timeout_ms,
    },
    ...(contract ? { contract } : {}),
    probes: [],
  };

  const inherited = {
    interval: override(t.interval, ownInterval, formatPath(at('interval')), ctx.defaultInterval),
    timeout: override(t.timeout, ownTimeout, formatPath(at('timeout')), ctx.defaultTimeout),
  };
  // Probe `validate` hooks see the target without its probes, frozen so they cannot change it.
  const view = deepFreeze({ ...target, probes: [] });
  const credentialConfig = typeof credential === 'string' ? ctx.credentials.get(credential) : undefined;
  const entries = Array.isArray(t.probes) ? t.probes : DEFAULT_PROBES.map((type) => ({ type }));
  const probeNames = new Set<string>();
  entries.forEach((entry, i) => {
    const probe = buildProbe(entry, [...path, 'probes', i], view, credentialConfig, inherited, ctx);
    if (!probe) return;
    if (probeNames.has(probe.name)) {
      problems.add([...path, 'probes', i, 'name'], `duplicate probe name ${quote(probe.name)} in this target (the name defaults to the type; set name: to tell them apart)`);
    }
    probeNames.add(probe.name);
    target.probes.push(probe);
  });
  return target;
}

/** A contract whose document loads and compiles now, so a broken one fails the start. */
function buildContract(value: unknown, path: Path, problems: Problems): ContractConfig | undefined {
  const file = obj(value).openrpc;
  if (typeof file !== 'string') return undefined;
  try {
    loadContract(file);
  } catch (err) {
    problems.add([...path, 'openrpc'], `${quote(file)} ${(err as Error).message}`);
    return undefined;
  }
  return { openrpc: file };
}

function checkUrl(url: string, path: Path, problems: Problems): void {
  // The URL itself is never echoed: it may carry credentials.
  if (!/^wss?:\/\//i.test(url)) return problems.add(path, 'must start with ws:// or wss://');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return problems.add(path, 'must be a valid URL like ws://localhost:8002/ws');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    problems.add(path, 'must not contain user:password@ (credentials belong in the credentials section)');
  }
  if (url.includes('#')) problems.add(path, 'must not contain a #fragment');
}

function buildTls(value: unknown, url: unknown, path: Path, problems: Problems): TlsConfig {
  if (value === undefined) return { insecure_skip_verify: false };
  const tls = obj(value);
  if (typeof url === 'string' && !/^wss:\/\//i.test(url)) problems.add(path, 'is only allowed with a wss:// url');
  if ((tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    problems.add(path, 'cert_file and key_file must be given together (a client certificate and its key) or not at all');
  }
  for (const key of ['ca_file', 'cert_file', 'key_file']) {
    const file = tls[key];
    if (typeof file !== 'string') continue;
    try {
      accessSync(file, fsConstants.R_OK);
      if (!statSync(file).isFile()) problems.add([...path, key], `${quote(file)} is not a file`);
    } catch (err) {
      problems.add([...path, key], `cannot read ${quote(file)}: ${fsProblem(err)}`);
    }
  }
  return { ...tls, insecure_skip_verify: tls.insecure_skip_verify === true } as TlsConfig;
}

function buildProbe(
  value: unknown,
  path: Path,
  target: TargetConfig,
  credential: CredentialConfig | undefined,
  inherited: { interval: Inherited | undefined; timeout: Inherited | undefined },
  ctx: TargetContext,
): ProbeConfig | undefined {
  if (!isObject(value)) return undefined;
  const { problems } = ctx;
  const at = (key: string): Path => [...path, key];
  const { type, name, interval: rawInterval, schedule, timeout: rawTimeout, degraded_after: rawDegraded, ...options } = value;
  if (typeof type !== 'string') return undefined;

  const definition = ctx.probeTypes.get(type);
  if (!definition) {
    const known = [...ctx.probeTypes.keys()].sort().join(', ');
    problems.add(at('type'), `unknown probe type ${quote(type)} (known: ${known})`);
  }

  let period: Inherited | undefined;
  if (rawInterval !== undefined && schedule !== undefined) {
    problems.add(path, 'set either interval or schedule, not both', at('schedule'));
  } else if (schedule !== undefined) {
    const ms = typeof schedule === 'string' ? cronInterval(schedule, at('schedule'), problems) : undefined;
    period = override(schedule, ms, undefined, undefined);
  } else {
    period = override(rawInterval, interval(rawInterval, at('interval'), problems), undefined, inherited.interval);
  }

  const timeout = override(rawTimeout, duration(rawTimeout, at('timeout'), problems, TIMEOUT_RANGE), undefined, inherited.timeout);
  if (timeout && period && timeout.ms >= period.ms) {
    const sources = [timeout.from && `the timeout comes from ${timeout.from}`, period.from && `the interval comes from ${period.from}`];
    const note = sources.filter(Boolean).join(', ');
    problems.add(
      at('timeout'),
      `${formatDuration(timeout.ms)} must be shorter than the interval (${formatDuration(period.ms)})${note ? `; ${note}` : ''}`,
    );
  }

  const degradedAfter = degradedThresholds(rawDegraded, at('degraded_after'), timeout?.ms, problems);

  if (definition) {
    const problemsBefore = problems.size;
    problems.addAll(check(compileOptionsSchema(definition.optionsSchema), options, path, PROBE_BASE_KEYS));
    // Cross-field rules only make sense on options that have the right shape.
    if (problems.size === problemsBefore && definition.validate) {
      for (const [field, message] of definition.validate(options, target, credential)) problems.add([...path, ...fieldPath(field)], message);
    }
  }

  return {
    name: typeof name === 'string' ? name : type,
    type,
    interval_ms: period?.ms ?? 0,
    ...(typeof schedule === 'string' ? { schedule } : {}),
    timeout_ms: timeout?.ms ?? 0,
    ...(degradedAfter ? { degraded_after: degradedAfter } : {}),
    options,
  };
}

/**
 * `degraded_after: 200ms` (the whole run) or `{ run: 1s, call: 50ms, ... }` (per step).
 * A threshold at or past the timeout could never mark a run degraded rather than failed.
 */
function degradedThresholds(value: unknown, path: Path, timeoutMs: number | undefined, problems: Problems): Record<string, number> | undefined {
  if (value === undefined) return undefined;
  const entries: Array<[string, unknown]> = isObject(value) ? Object.entries(value) : [['run', value]];
  const out: Record<string, number> = {};
  for (const [key, raw] of entries) {
    const at = isObject(value) ? [...path, key] : path;
    if (key !== 'run' && !(STEPS as readonly string[]).includes(key)) {
      problems.add(at, `unknown step ${quote(key)} (use run or one of: ${STEPS.join(', ')})`);
      continue;
    }
    const ms = duration(raw, at, problems, TIMEOUT_RANGE);
    if (ms === undefined) continue;
    if (timeoutMs !== undefined && ms >= timeoutMs) {
      problems.add(at, `${formatDuration(ms)} must be shorter than the timeout (${formatDuration(timeoutMs)})`);
      continue;
    }
    out[key] = ms;
  }
  if (isObject(value) && entries.length === 0) problems.add(path, 'must name at least one of run or a step');
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A cron schedule's interval: the shortest gap between its next runs (the task never starts). */
function cronInterval(expression: string, path: Path, problems: Problems): number | undefined {
  const result = validateDetailed(expression);
  if (!result.valid) {
    const [error] = result.errors;
    const fields = '6 fields: second minute hour day-of-month month day-of-week, like "*/30 * * * * *"';
    const message =
      error === undefined || error.field === 'expression'
        ? `is not a cron expression; use ${fields}`
        : `invalid ${error.field} field ${quote(error.value ?? '')}; use ${fields}`;
    problems.add(path, message);
    return undefined;
  }
  const task = createTask(expression, () => undefined);
  try {
    const runs = task.getNextRuns(60).map((d) => d.getTime());
    if (runs.length < 2) {
      problems.add(path, 'must fire more than once');
      return undefined;
    }
    return Math.min(...runs.slice(1).map((t, i) => t - runs[i]!));
  } finally {
    void task.destroy();
  }
}

/** A duration field: ms, or undefined when absent or invalid (the problem is recorded). */
function duration(value: unknown, path: Path, problems: Problems, range?: [number, number]): number | undefined {
  if (value === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(String(value));
  } catch {
    problems.add(path, DURATION_HINT);
    return undefined;
  }
  if (range && (ms < range[0] || ms > range[1])) {
    problems.add(path, `must be from ${formatDuration(range[0])} to ${formatDuration(range[1])}`);
    return undefined;
  }
  return ms;
}

/** Any interval in range: camprobe's own timer runs it, so it need not divide a minute. */
function interval(value: unknown, path: Path, problems: Problems): number | undefined {
  return duration(value, path, problems, INTERVAL_RANGE);
}

/** `cases[1].method` → ['cases', 1, 'method']. */
function fieldPath(field: string): Path {
  return [...field.matchAll(/\[(\d+)\]|([^.[\]]+)/g)].map((m) => (m[1] !== undefined ? Number(m[1]) : m[2]!));
}

function isSecretRef(value: unknown): value is SecretRef {
  if (!isObject(value) || Object.keys(value).length !== 1) return false;
  if (typeof value.env === 'string') return new RegExp(ENV_NAME).test(value.env);
  return typeof value.file === 'string' && value.file !== '';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function obj(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
