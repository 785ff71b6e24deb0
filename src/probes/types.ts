/**
 * The contract between the runner and every probe, built-in or user-written.
 *
 * A probe is one object with a `type`, a JSON Schema for its options and a `run`
 * function. The runner owns everything probes share: the deadline, timing, the
 * connections it hands out, success and failure classification. A probe only does
 * what is specific to it and throws a {@link ProbeError} for an expected failure.
 */
import type { Logger } from 'pino';
import type { RpcConnection } from '../rpc/client.js';
import type { CredentialProvider } from '../auth/credentials.js';
import type { CredentialConfig, TargetConfig } from '../config/types.js';

/** Steps a run is made of. A fixed set: it becomes a metrics label. */
export const STEPS = [
  'dns',
  'connect',
  'tls',
  'upgrade',
  'authenticate',
  'call',
  'control',
  'reject',
] as const;
export type StepName = (typeof STEPS)[number];

/** Why a run ended. A fixed set: it becomes a metrics label. */
export const REASONS = [
  'ok',
  'timeout',
  'dns',
  'connect_refused',
  'connect_error',
  'tls',
  'upgrade_rejected',
  'closed',
  'protocol_error',
  'auth_rejected',
  'rpc_error',
  'invalid_result',
  'rate_limited',
  'security_violation',
  'contract_violation',
  'internal',
] as const;
export type Reason = (typeof REASONS)[number];
export type FailureReason = Exclude<Reason, 'ok'>;

export type RunResult = 'success' | 'failure';

/**
 * An expected failure of a probe run. Anything else a probe throws is a bug and is
 * classified `internal` by the runner.
 */
export class ProbeError extends Error {
  readonly reason: FailureReason;
  step: StepName | undefined;

  constructor(reason: FailureReason, message: string, options: { step?: StepName; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProbeError';
    this.reason = reason;
    this.step = options.step;
  }
}

export function isProbeError(err: unknown): err is ProbeError {
  return err instanceof ProbeError;
}

/** One timed step of a run; times are milliseconds, `startMs` relative to the run start. */
export interface StepRecord {
  step: StepName;
  startMs: number;
  durationMs: number;
  ok: boolean;
}

/** What the runner records of one finished run. Every string in it is already redacted. */
export interface RunRecord {
  target: string;
  probe: string;
  type: string;
  /** ISO-8601 time the run started. */
  startedAt: string;
  /** Epoch milliseconds the run started (for metrics timestamps). */
  startedAtMs: number;
  /** Epoch milliseconds the scheduler meant the run to start, when scheduled. */
  scheduledAtMs?: number;
  durationMs: number;
  result: RunResult;
  reason: Reason;
  /** The step that failed, when one did. */
  step?: StepName;
  /** Human-readable failure detail, redacted and bounded in length. */
  detail?: string;
  steps: StepRecord[];
  /**
   * A successful run slower than its `degraded_after` objective: still up, but slow.
   * `detail` then says which threshold was passed. Never set on a failed run.
   */
  degraded?: boolean;
  /** Values a probe reported (for example camera counts), exported as gauges. */
  values?: Record<string, number>;
}

/** What a probe sees of one run. */
export interface ProbeContext<Options = Record<string, unknown>> {
  readonly target: TargetConfig;
  /** The probe's own options, validated against its schema and frozen. */
  readonly options: Options;
  /** Aborted when the run's deadline passes or the daemon stops. */
  readonly signal: AbortSignal;
  readonly credentials: CredentialProvider;
  readonly log: Logger;
  /**
   * Opens a JSON-RPC connection to the target. The runner owns it: it is closed when
   * the run ends, whatever happened. Its dns/connect/tls/upgrade steps are recorded.
   */
  connect(): Promise<RpcConnection>;
  /** Times `fn` as `name`; a ProbeError thrown inside gets this step if it has none. */
  step<T>(name: StepName, fn: () => Promise<T>): Promise<T>;
  /** Reports a value the probe declared in `values` (exported as a gauge). */
  setValue(name: string, value: number): void;
  /**
   * A ProbeError to throw for an expected failure, for probe scripts that cannot import
   * this module: `throw ctx.error('invalid_result', 'what went wrong')`. An unknown reason
   * becomes `internal`.
   */
  error(reason: FailureReason, message: string): ProbeError;
}

/** JSON Schema subset used for probe options (validated by the config loader). */
export type JsonSchema = Record<string, unknown>;

/**
 * A probe type. Adding one means one new file exporting this and one entry in
 * `src/probes/registry.ts` (or a file in the configured scripts directory).
 */
export interface ProbeDefinition<Options = Record<string, unknown>> {
  /** Name used in the config (`type:`), e.g. `auth_flow`. */
  readonly type: string;
  readonly description: string;
  /** JSON Schema of the options object; `default`s are applied; unknown keys must be refused. */
  readonly optionsSchema: JsonSchema;
  /**
   * Values this probe may report, exported as the gauge `camprobe_<name>{target}`.
   * The value is the gauge's help text.
   */
  readonly values?: Readonly<Record<string, string>>;
  /**
   * Checks options beyond what the schema can say (cross-field rules), given the target
   * and its credential. Returns problems as `[field, message]` pairs, field relative to
   * the probe's options.
   */
  validate?(options: Options, target: TargetConfig, credential?: CredentialConfig): Array<[string, string]>;
  /** Runs once. Resolves on success; throws a ProbeError on an expected failure. */
  run(ctx: ProbeContext<Options>): Promise<void>;
}
