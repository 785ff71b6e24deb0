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
import type { CredentialConfig, ProbeTypeSpec, TargetConfig } from '../config/types.js';
import type { Static, TObject } from '../config/schema-parts.js';
import type { AccessReport, FailureReason, ProbeError, SessionReport, StepName } from '../core/outcome.js';

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
  /**
   * Opens a connection held across runs (the session probe's): the runner does not close
   * it when the run ends; it is closed when the probe is removed or changed, or camprobe
   * stops. The probe keeps it in `memory` and closes it itself when it finds it dead.
   */
  connectHeld(): Promise<RpcConnection>;
  /** Times `fn` as `name`; a ProbeError thrown inside gets this step if it has none. */
  step<T>(name: StepName, fn: () => Promise<T>): Promise<T>;
  /**
   * Kept across the runs of this (target, probe) while its configuration is unchanged, so a
   * probe can spread work over runs (the access matrix's sweep). Empty in a one-shot run.
   */
  readonly memory: Map<string, unknown>;
  /** The probe's interval (the interval between its scheduled runs), ms. */
  readonly intervalMs: number;
  /** A one-shot run (`camprobe once`): check everything now rather than a share per run. */
  readonly exhaustive: boolean;
  /** Attaches the access matrix's standing to the run record (protected_rejection). */
  reportAccess(report: AccessReport): void;
  /** Attaches the held session's story to the run record (the session probe). */
  reportSession(report: SessionReport): void;
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
export interface ProbeDefinition<Options = Record<string, unknown>> extends ProbeTypeSpec {
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
  /**
   * The deadline of an exhaustive run (`camprobe once`), for a probe that checks in one run
   * what scheduled runs share out, paced; default: the probe's own timeout.
   */
  exhaustiveTimeoutMs?(options: Options, target: TargetConfig, timeoutMs: number): number;
  /** Runs once. Resolves on success; throws a ProbeError on an expected failure. */
  run(ctx: ProbeContext<Options>): Promise<void>;
}

/**
 * A probe type of any options type, as the registry, the loader and the runner hold them
 * side by side: options are known only as the config holds them. Each definition still
 * receives options that passed its own `optionsSchema`; `ProbeDefinition<Options>` is
 * assignable because `validate` and `run` are methods, whose parameters TypeScript
 * compares in both directions.
 */
export type AnyProbeDefinition = ProbeDefinition<Record<string, unknown>>;

/**
 * A probe type whose options type is its options schema's (`Static<typeof optionsSchema>`),
 * so `validate` and `run` cannot read an option the schema does not describe, or read it
 * as another type. Probe scripts stay plain objects with a plain JSON Schema.
 */
export function defineProbe<S extends TObject>(
  optionsSchema: S,
  definition: Omit<ProbeDefinition<Static<S>>, 'optionsSchema'>,
): ProbeDefinition<Static<S>> {
  return { ...definition, optionsSchema };
}
