/**
 * Targets: names unique, URLs usable and free of secrets, the credential resolved, TLS files
 * readable, the contract loadable, the defaults inherited; then their probes.
 */
import { statSync, accessSync, constants as fsConstants } from 'node:fs';
import { loadContract } from '../../contract/openrpc.js';
import { didYouMean, fsProblem, quote } from '../../core/text.js';
import type { Pruned } from '../check.js';
import { DOCUMENTED_METHOD_ROLES, DOCUMENTED_SIDE_EFFECT_METHODS } from '../methods.js';
import { deepFreeze } from '../objects.js';
import { formatPath, type Path, type Problems } from '../problems.js';
import type { RawContract, RawProbeEntry, RawTarget, RawTls, Role } from '../schema.js';
import type { ClientConfig, ContractConfig, CredentialConfig, ProbeConfig, ProbeTypeSpec, TargetConfig } from '../types.js';
import { CLOSE_TIMEOUT_RANGE, INTERVAL_RANGE, TIMEOUT_RANGE, duration, override, type Inherited } from './durations.js';
import { buildProbe, type ProbeEntryContext } from './probes.js';

/** The probes of a target that lists none. */
const DEFAULT_PROBES: ReadonlyArray<Pruned<RawProbeEntry>> = ['auth_flow', 'camera_list', 'protected_rejection'].map((type) => ({ type }));

/** What every target inherits: `defaults`, each value undefined when it is invalid (reported). */
export interface TargetDefaults {
  interval: Inherited | undefined;
  timeout: Inherited | undefined;
  maxFrameBytes: number | undefined;
  closeTimeoutMs: number;
}

/** What building the targets shares, besides the problems. */
export interface TargetContext {
  problems: Problems;
  probeTypes: ReadonlyMap<string, ProbeTypeSpec>;
  topContract: ContractConfig | undefined;
  /** Every name under `credentials`, valid or not (so a broken one is not also "unknown"). */
  credentialNames: readonly string[];
  credentials: ReadonlyMap<string, CredentialConfig>;
  defaults: TargetDefaults;
  /** Names met so far, to refuse a duplicate. */
  targetNames: Set<string>;
}

/**
 * The target at `targets[index]`, or undefined when part of it is unusable (the problems
 * are recorded). Its probes are checked either way.
 */
export function buildTarget(t: Pruned<RawTarget> | undefined, index: number, ctx: TargetContext): TargetConfig | undefined {
  if (t === undefined) return undefined;
  const path = ['targets', index];
  const at = (key: string): Path => [...path, key];
  const { problems } = ctx;

  checkIdentity(t, path, ctx);
  const credential = credentialOf(t.credential, at('credential'), ctx);
  const tls = buildTls(t.tls, t.url, at('tls'), problems);
  const inherited = {
    interval: override(t.interval, duration(t.interval, at('interval'), problems, INTERVAL_RANGE), formatPath(at('interval')), ctx.defaults.interval),
    timeout: override(t.timeout, duration(t.timeout, at('timeout'), problems, TIMEOUT_RANGE), formatPath(at('timeout')), ctx.defaults.timeout),
  };
  // One reported invalid stands at the inherited value, so the probes' own rules still run.
  const closeTimeoutMs = duration(t.close_timeout, at('close_timeout'), problems, CLOSE_TIMEOUT_RANGE) ?? ctx.defaults.closeTimeoutMs;
  const maxFrameBytes = t.max_frame_bytes ?? ctx.defaults.maxFrameBytes;
  const contract = t.contract === undefined ? ctx.topContract : buildContract(t.contract, at('contract'), problems);

  let target: TargetConfig | undefined;
  if (t.name !== undefined && t.url !== undefined && credential !== undefined && tls !== undefined && maxFrameBytes !== undefined) {
    const client: ClientConfig = { max_frame_bytes: maxFrameBytes, close_timeout_ms: closeTimeoutMs };
    target = {
      name: t.name,
      url: t.url,
      credential,
      methods: { ...DOCUMENTED_METHOD_ROLES, ...validEntries(t.methods) },
      side_effect_methods: t.side_effect_methods ? t.side_effect_methods.filter((m) => m !== undefined) : [...DOCUMENTED_SIDE_EFFECT_METHODS],
      tls,
      client,
      ...(contract ? { contract } : {}),
      probes: [],
    };
  }
  const probes = buildProbes(t.probes, path, target, credential === undefined ? undefined : ctx.credentials.get(credential), inherited, ctx);
  if (target === undefined || probes === undefined) return undefined;
  target.probes.push(...probes);
  return target;
}

/** A name used once and neither name nor URL carrying a secret; the URL usable. */
function checkIdentity(t: Pruned<RawTarget>, path: Path, ctx: TargetContext): void {
  const { problems } = ctx;
  if (t.name !== undefined) {
    if (ctx.targetNames.has(t.name)) problems.add([...path, 'name'], `duplicate target name ${quote(t.name)}`);
    else ctx.targetNames.add(t.name);
  }
  if (t.url !== undefined) checkUrl(t.url, [...path, 'url'], problems);
  // Names become metric labels and URLs are logged: neither may carry a secret.
  for (const key of ['name', 'url'] as const) {
    const value = t[key];
    if (value !== undefined && problems.hasSecret(value)) {
      problems.add([...path, key], 'contains the value of a secret (or a JWT): it would be exported in labels and logs');
    }
  }
}

/** The credential's name: the one given, or the only one defined. */
function credentialOf(given: string | undefined, path: Path, ctx: TargetContext): string | undefined {
  const names = ctx.credentialNames;
  const defined = `(defined: ${names.join(', ')})`;
  if (given === undefined) {
    if (names.length === 1) return names[0];
    if (names.length > 1) ctx.problems.add(path, `is required when more than one credential is defined ${defined}`);
    return undefined;
  }
  if (!names.includes(given)) {
    const hint = didYouMean(given, names);
    ctx.problems.add(path, `unknown credential ${quote(given)}${hint ? `: ${hint}` : ''} ${defined}`);
  }
  return given;
}

function buildProbes(
  entries: Pruned<RawTarget>['probes'],
  path: Path,
  target: TargetConfig | undefined,
  credential: CredentialConfig | undefined,
  inherited: { interval: Inherited | undefined; timeout: Inherited | undefined },
  ctx: TargetContext,
): ProbeConfig[] | undefined {
  // Probe `validate` hooks see the target without its probes, frozen so they cannot change it.
  const view = target && deepFreeze({ ...target, probes: [] });
  const probeCtx: ProbeEntryContext = { ...ctx, target: view, credential, inherited };
  const probes: ProbeConfig[] = [];
  const names = new Set<string>();
  let complete = true;
  (entries ?? DEFAULT_PROBES).forEach((entry, i) => {
    const probe = entry && buildProbe(entry, [...path, 'probes', i], probeCtx);
    if (probe) probes.push(probe);
    else complete = false;
    // Checked on entries that failed too. A name given but invalid is reported already: the
    // type stands in only for a name not given.
    const name = entry?.name ?? (ctx.problems.has([...path, 'probes', i, 'name']) ? undefined : entry?.type);
    if (name === undefined) return;
    if (names.has(name)) {
      ctx.problems.add([...path, 'probes', i, 'name'], `duplicate probe name ${quote(name)} in this target (the name defaults to the type; set name: to tell them apart)`);
    }
    names.add(name);
  });
  return complete ? probes : undefined;
}

/** A contract whose document loads and compiles now, so a broken one fails the start. */
export function buildContract(value: Pruned<RawContract> | undefined, path: Path, problems: Problems): ContractConfig | undefined {
  const file = value?.openrpc;
  if (file === undefined) return undefined;
  try {
    loadContract(file);
  } catch (err) {
    problems.add([...path, 'openrpc'], `${quote(file)} ${err instanceof Error ? err.message : String(err)}`);
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

function buildTls(tls: Pruned<RawTls> | undefined, url: string | undefined, path: Path, problems: Problems): RawTls | undefined {
  if (tls === undefined) return { insecure_skip_verify: false };
  if (url !== undefined && !/^wss:\/\//i.test(url)) problems.add(path, 'is only allowed with a wss:// url');
  if ((tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    problems.add(path, 'cert_file and key_file must be given together (a client certificate and its key) or not at all');
  }
  for (const key of ['ca_file', 'cert_file', 'key_file'] as const) {
    const file = tls[key];
    if (file === undefined) continue;
    try {
      accessSync(file, fsConstants.R_OK);
      if (!statSync(file).isFile()) problems.add([...path, key], `${quote(file)} is not a file`);
    } catch (err) {
      problems.add([...path, key], `cannot read ${quote(file)}: ${fsProblem(err)}`);
    }
  }
  const { insecure_skip_verify: insecure, ...files } = tls;
  return insecure === undefined ? undefined : { ...files, insecure_skip_verify: insecure };
}

/** The entries of a mapping that passed the schema (a failed one is gone with its key). */
function validEntries(map: Pruned<Record<string, Role>> | undefined): Record<string, Role> {
  // fromEntries defines own properties, so a key named "__proto__" stays data.
  return Object.fromEntries(Object.entries(map ?? {}).filter((entry): entry is [string, Role] => entry[1] !== undefined));
}
