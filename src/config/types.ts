/**
 * The validated, defaults-applied, frozen configuration. The loader (`load.ts`) is the
 * only producer; everything else only reads it.
 */
import type { Shard } from './shard.js';
import type { SecretRef } from '../core/secrets.js';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];


export interface JwtSecretCredential {
  name: string;
  kind: 'jwt_secret';
  /** The service's HS256 signing secret. */
  secret: SecretRef;
  user_id: string;
  /** Role of the tokens minted for positive probes. */
  role: Role;
  /** Lifetime of minted tokens, milliseconds. */
  ttl_ms: number;
}

export interface StaticTokenCredential {
  name: string;
  /** A pre-issued JWT or an API key: both are passed as `auth_token`. */
  kind: 'token';
  token: SecretRef;
  /** The role the token carries, as the service is expected to report it. */
  role: Role;
}

export type CredentialConfig = JwtSecretCredential | StaticTokenCredential;

export interface TlsConfig {
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  /** Turning verification off must be explicit; the daemon warns at start. */
  insecure_skip_verify: boolean;
}

export interface ClientConfig {
  /** Largest WebSocket message accepted from the target, bytes. */
  max_frame_bytes: number;
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

export interface TargetConfig {
  name: string;
  url: string;
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
export type HttpAuthConfig = { bearer_token: SecretRef } | { basic: { username: string; password: SecretRef } };

export interface ContractConfig {
  /** Path of an OpenRPC JSON document. */
  openrpc: string;
}

export interface ServerConfig {
  host: string;
  port: number;
  /** Absent: the endpoints are open (the default listen address is loopback). */
  auth?: HttpAuthConfig;
  /** Longest a request may take to arrive, ms. */
  request_timeout_ms: number;
}

export interface Config {
  /** The `location` label on every series, when configured. */
  location?: string;
  /** This replica's part of the targets (`{index: 0, total: 1}`: all of them). */
  shard: Shard;
  server: ServerConfig;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  history: {
    /** Recent runs kept per (target, probe). */
    runs: number;
    /** Recent failed runs kept besides, so failures outlive a burst of successes. */
    failures: number;
  };
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
   * the probe's options.
   */
  validate?(options: any, target: TargetConfig, credential?: CredentialConfig): Array<[string, string]>;
}
