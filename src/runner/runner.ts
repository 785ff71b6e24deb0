/**
 * Runs one probe once. Owns what every probe shares: the deadline, the timing of each
 * step, the connections handed out (closed whatever happens), and the classification
 * of the outcome into a result and a reason. A probe that throws something other than
 * a ProbeError, or never settles, cannot take the daemon down with it.
 *
 * This is the hot path, paid by every run: see docs/performance.md before adding to it.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ProbeConfig, TargetConfig } from '../config/types.js';
import type { CredentialProvider } from '../auth/credentials.js';
import type { Redactor } from '../core/secrets.js';
import type { RpcConnection, Resolver } from '../rpc/client.js';
import type { AnyProbeDefinition } from '../probes/types.js';
import type { RunRecord } from '../core/outcome.js';
import { classify, duplicateAnswers, type Failure } from './classify.js';
import { watchContract } from './contract-watch.js';
import { probeContext, type RunParts } from './probe-context.js';
import { RunAbort } from './run-abort.js';
import { logOutcome, runRecord } from './run-record.js';
import { StepTimer } from './step-timer.js';
import { HeldConnections } from './held.js';

/** What a run needs besides its request: createRunner builds these once per (target, probe). */
export interface RunnerDeps {
  credentials: CredentialProvider;
  logger: Logger;
  redactor: Redactor;
  /** DNS seam for tests. */
  resolver?: Resolver;
}

/** One run of one probe of one target. */
export interface RunRequest {
  definition: AnyProbeDefinition;
  probe: ProbeConfig;
  target: TargetConfig;
  /** Aborted when the daemon stops or the target is removed: the run is then not recorded. */
  stopSignal?: AbortSignal;
  scheduledAtMs?: number;
  /** Kept by the owner of the (target, probe) across its runs: see ProbeContext.memory. */
  memory?: Map<string, unknown>;
  /** Connections held across runs, owned with `memory`; a one-shot run gets its own. */
  held?: HeldConnections;
  /** A one-shot run that must check everything: see ProbeContext.exhaustive. */
  exhaustive?: boolean;
  /** Replaces the probe's timeout (an exhaustive run may need longer). */
  timeoutMs?: number;
}

/** Runs the probe; resolves with its record, or undefined when it was stopped (not timed out). */
export async function runProbe(req: RunRequest, deps: RunnerDeps): Promise<RunRecord | undefined> {
  const { definition, probe, target } = req;
  const startedAtMs = Date.now();
  const t0 = performance.now();
  const steps = new StepTimer(t0);
  const abort = new RunAbort(req.timeoutMs ?? probe.timeout_ms, req.stopSignal);
  const contract = watchContract(target, steps);
  const connections = new Set<RpcConnection>();
  const values: Record<string, number> = {};
  const reports: RunParts['reports'] = {};
  // A run with no owner for held connections (a one-shot run) holds them for itself.
  const held = req.held ?? new HeldConnections();
  // Made on first use: at the default level a successful run logs nothing.
  let childLog: Logger | undefined;
  const log = (): Logger => (childLog ??= deps.logger.child({ target: target.name, probe: probe.name }));
  const ctx = probeContext({
    definition,
    target,
    options: probe.options,
    credentials: deps.credentials,
    resolver: deps.resolver,
    signal: abort.signal,
    steps,
    contract,
    connections,
    values,
    reports,
    memory: req.memory ?? new Map(),
    held,
    exhaustive: req.exhaustive === true,
    intervalMs: probe.interval_ms,
    log,
  });

  let failure: Failure | undefined;
  try {
    await abort.race(definition.run(ctx));
  } catch (err) {
    failure = classify(err, abort.timedOut, steps.current(), log, deps.redactor);
  }
  // The probe's own verdict comes first (a security violation must never read as a contract one).
  failure ??= contract?.violation ?? duplicateAnswers(connections);
  const durationMs = performance.now() - t0;
  abort.dispose();
  await Promise.all([...connections].map((c) => c.close()));
  if (req.held === undefined) await held.close();
  if (abort.stopped) return undefined;

  const run = runRecord(
    { target: target.name, probe, type: definition.type, startedAtMs, scheduledAtMs: req.scheduledAtMs, durationMs, steps: steps.steps, values, failure, access: reports.access, session: reports.session },
    deps.redactor,
  );
  logOutcome(run, deps.logger, log);
  return run;
}
