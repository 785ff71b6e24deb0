/**
 * The validated, defaults-applied, frozen configuration. The loader (`load.ts`) is the
 * only producer; everything else only reads it.
 *
 * Parts that keep the shape of the YAML are the schema's own types (`schema.ts`); the
 * types declared here are the ones the loader reshapes (durations in milliseconds,
 * credentials named and tagged with their kind, probes split from their options).
 */
import type { Shard } from './shard.js';
import type {
  RawConfig,
  RawContract,
  RawDefaults,
  RawHistory,
  RawHttpAuth,
  RawJwtCredential,
  RawLog,
  RawSecretRef,
  RawServer,
  RawTarget,
  RawTls,
  RawTokenCredential,
  Role,
} from './schema.js';

export { ROLES } from './schema.js';
export type { CredentialKind, LogLevel, Role } from './schema.js';

export interface JwtSecretCredential extends Pick<RawJwtCredential, 'user_id' | 'role'> {
  name: string;
  kind: 'jwt_secret';
  /** The service's HS256 signing secret. */
  secret: RawSecretRef;
  /** Lifetime of minted tokens, milliseconds. */
  ttl_ms: number;
}

export interface StaticTokenCredential extends Pick<RawTokenCredential, 'token' | 'role'> {
  name: string;
  /** A pre-issued JWT or an API key: both are passed as `auth_token`. */
  kind: 'token';
}

export type CredentialConfig = JwtSecretCredential | StaticTokenCredential;

export type TlsConfig = RawTls;

export interface ClientConfig extends Pick<RawDefaults, 'max_frame_bytes'> {
  /** How long the close handshake may take before the socket is terminated, ms. */
  close_timeout_ms: number;
}

export interface ProbeConfig {
  /** Label value: unique within the target. Defaults to `type`. */
  name: string;
  type: string;
  /** Interval between runs, ms (also derived from `schedule` when that is given). */
  interval_ms: number;
  /** A node-cron expression (6 fields, seconds first) when configured instead of an interval. */
  schedule?: string;
  timeout_ms: number;
  /**
   * Latency objectives, ms: `run` for the whole run, or a step name for that step. A
   * successful run slower than one of them is marked degraded.
   */
  degraded_after?: Readonly<Record<string, number>>;
  /** The probe type's own options, validated against its schema, defaults applied. */
  options: Record<string, unknown>;
}

export interface TargetConfig extends Pick<RawTarget, 'name' | 'url'> {
  /** Name of the credential in `credentials` used for positive probes. */
  credential: string;
  /** Method → least role that may call it (documented matrix merged with overrides). */
  methods: Readonly<Record<string, Role>>;
  /** Methods with side effects: never called with credentials that could succeed. */
  side_effect_methods: readonly string[];
  tls: TlsConfig;
  client: ClientConfig;
  /** An OpenRPC document every answer is checked against (the target's own, or the top-level one). */
  contract?: ContractConfig;
  probes: ProbeConfig[];
}

/** Who may read camprobe's own HTTP endpoints (every one but `/healthz`). */
export type HttpAuthConfig = RawHttpAuth;

export type ContractConfig = RawContract;

export interface ServerConfig extends Pick<RawServer, 'host' | 'port' | 'auth'> {
  /** Longest a request may take to arrive, ms. */
  request_timeout_ms: number;
}

export interface Config extends Pick<RawConfig, 'location'> {
  /** This replica's part of the targets (`{index: 0, total: 1}`: all of them). */
  shard: Shard;
  server: ServerConfig;
  log: RawLog;
  history: RawHistory;
  credentials: Readonly<Record<string, CredentialConfig>>;
  targets: TargetConfig[];
}

/**
 * What the loader needs of a probe type to check its entries: the options schema and the
 * cross-field rules. `ProbeDefinition` (src/probes/types.ts) extends it with `run`.
 */
export interface ProbeTypeSpec {
  readonly type: string;
  /** JSON Schema of the options object; `default`s are applied; unknown keys must be refused. */
  readonly optionsSchema: Record<string, unknown>;
  /**
   * Checks options beyond what the schema can say (cross-field rules), given the target
   * and its credential. Returns problems as `[field, message]` pairs, field relative to
   * the probe's options. Only called with options that passed `optionsSchema`, whose shape
   * the loader does not know: a ProbeDefinition narrows the parameter to its own options.
   */
  validate?(options: unknown, target: TargetConfig, credential?: CredentialConfig): Array<[string, string]>;
}
