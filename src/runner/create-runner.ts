/**
 * The one way to get a runner: a configuration's credentials and probe types, a logger
 * and a redactor, put together once. The daemon, `camprobe once`, the tests and the
 * benchmarks all run probes through it, so they all run them the same way.
 */
import type { Logger } from 'pino';
import { createCredentialProvider, type CredentialProvider } from '../auth/credentials.js';
import type { CredentialConfig, ProbeConfig, TargetConfig } from '../config/types.js';
import type { RunRecord } from '../core/outcome.js';
import { Redactor } from '../core/secrets.js';
import type { Resolver } from '../rpc/client.js';
import { runProbe, type RunnerDeps, type RunRequest } from './runner.js';
import { HeldConnections } from './held.js';

/** A probe type as the runner runs it. */
export type RunnableProbe = RunRequest['definition'];

/** What createRunner is made from. */
export interface RunnerOptions {
  /**
   * The configured credentials by name. A provider is made for each at once, so every
   * secret is known to the redactor before a run can leak it, and one that cannot be
   * read fails here rather than in a run.
   */
  credentials: Readonly<Record<string, CredentialConfig>>;
  /** Probe types by name: the built-in ones and those of `probe_scripts_dir`. */
  probeTypes: ReadonlyMap<string, RunnableProbe>;
  logger: Logger;
  /** Learns every secret; share it with whatever else writes text (a new one when absent). */
  redactor?: Redactor | undefined;
  /** Where `{ env: VAR }` secrets are read; defaults to process.env. */
  env?: Record<string, string | undefined> | undefined;
  /** DNS seam for tests. */
  resolver?: Resolver | undefined;
}

/** What differs between two runs of one prepared probe. */
export interface RunOptions {
  /** Aborting it stops the run, which then resolves undefined (never recorded). */
  stopSignal?: AbortSignal | undefined;
  /** Epoch milliseconds the scheduler meant the run to start; kept in the record. */
  scheduledAtMs?: number | undefined;
  /** A one-shot run that checks everything (`camprobe once`): see ProbeContext.exhaustive. */
  exhaustive?: boolean | undefined;
  /** Replaces the probe's configured timeout for this run. */
  timeoutMs?: number | undefined;
}

/** One (target, probe) bound to its probe type and credential, to run any number of times. */
export interface PreparedProbe {
  readonly definition: RunnableProbe;
  /** Runs it once: its record, or undefined when it was stopped (a timeout is recorded). */
  run(opts?: RunOptions): Promise<RunRecord | undefined>;
  /** Closes what the probe holds across runs (a session's connection) and forgets its memory. */
  close(): Promise<void>;
}

/** Runs the probes of one configuration. */
export interface Runner {
  /**
   * Looks up the probe's type and its target's credential once. Throws when either is not
   * in the configuration the runner was made from (the config loader makes that a bug).
   */
  prepare(target: TargetConfig, probe: ProbeConfig): PreparedProbe;
  /** `prepare(target, probe).run(opts)`, for a probe run once. */
  run(target: TargetConfig, probe: ProbeConfig, opts?: RunOptions): Promise<RunRecord | undefined>;
}

/** A runner for one configuration's credentials and probe types. */
export function createRunner(opts: RunnerOptions): Runner {
  const redactor = opts.redactor ?? new Redactor();
  const env = opts.env ?? process.env;
  const providers = new Map<string, CredentialProvider>();
  for (const [name, cfg] of Object.entries(opts.credentials)) providers.set(name, createCredentialProvider(cfg, redactor, env));

  const prepare = (target: TargetConfig, probe: ProbeConfig): PreparedProbe => {
    const credentials = providers.get(target.credential);
    if (!credentials) throw new Error(`target ${target.name}: credential ${target.credential} is not loaded`);
    const definition = opts.probeTypes.get(probe.type);
    if (!definition) throw new Error(`target ${target.name}: probe type ${probe.type} is not registered`);
    const deps: RunnerDeps = { credentials, logger: opts.logger, redactor, ...(opts.resolver ? { resolver: opts.resolver } : {}) };
    // What the probe keeps between its runs; a re-prepared (changed) probe starts afresh.
    const memory = new Map<string, unknown>();
    const held = new HeldConnections();
    return {
      definition,
      close: async () => {
        await held.close();
        memory.clear();
      },
      run: (runOpts = {}) => {
        const req: RunRequest = { definition, probe, target, memory, held };
        if (runOpts.exhaustive) req.exhaustive = true;
        // An exhaustive run may be paced past the probe's own timeout: the probe says how long.
        const timeoutMs = runOpts.timeoutMs ?? (runOpts.exhaustive ? definition.exhaustiveTimeoutMs?.(probe.options, target, probe.timeout_ms) : undefined);
        if (timeoutMs !== undefined) req.timeoutMs = timeoutMs;
        if (runOpts.stopSignal) req.stopSignal = runOpts.stopSignal;
        if (runOpts.scheduledAtMs !== undefined) req.scheduledAtMs = runOpts.scheduledAtMs;
        return runProbe(req, deps);
      },
    };
  };
  return {
    prepare,
    run: async (target, probe, runOpts) => {
      const prepared = prepare(target, probe);
      try {
        return await prepared.run(runOpts);
      } finally {
        await prepared.close();
      }
    },
  };
}
