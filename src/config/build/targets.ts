/**
 * Targets: names unique, URLs usable and free of secrets, the credential resolved, TLS files
 * readable, the contract loadable, the defaults inherited; then their probes.
 */
import { statSync, accessSync, constants as fsConstants } from 'node:fs';
import { loadContract } from '../../contract/openrpc.js';
import { fsProblem, quote } from '../../core/text.js';
import { DOCUMENTED_METHOD_ROLES, DOCUMENTED_SIDE_EFFECT_METHODS } from '../methods.js';
import { deepFreeze, obj } from '../objects.js';
import { formatPath, type Path, type Problems } from '../problems.js';
import type { ClientConfig, ContractConfig, CredentialConfig, ProbeTypeSpec, Role, TargetConfig, TlsConfig } from '../types.js';
import { CLOSE_TIMEOUT_RANGE, TIMEOUT_RANGE, duration, interval, override, type Inherited } from './durations.js';
import { buildProbe } from './probes.js';

/** The probes of a target that lists none. */
const DEFAULT_PROBES = ['auth_flow', 'camera_list', 'protected_rejection'];

/** What building the targets shares. */
export interface TargetContext {
  topContract: ContractConfig | undefined;
  probeTypes: ReadonlyMap<string, ProbeTypeSpec>;
  problems: Problems;
  /** Every name under `credentials`, valid or not (so a broken one is not also "unknown"). */
  credentialNames: string[];
  credentials: ReadonlyMap<string, CredentialConfig>;
  defaultInterval: Inherited | undefined;
  defaultTimeout: Inherited | undefined;
  defaultClient: ClientConfig;
  targetNames: Set<string>;
}

/** The target at `targets[index]`, with its probes. */
export function buildTarget(value: unknown, index: number, ctx: TargetContext): TargetConfig {
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
export function buildContract(value: unknown, path: Path, problems: Problems): ContractConfig | undefined {
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
