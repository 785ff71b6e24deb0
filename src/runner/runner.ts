/**
 * Runs one probe once. Owns what every probe shares: the deadline, the timing of each
 * step, the connections handed out (closed whatever happens), and the classification
 * of the outcome into a result and a reason. A probe that throws something other than
 * a ProbeError, or never settles, cannot take the daemon down with it.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ProbeConfig, TargetConfig } from '../config/types.js';
import type { CredentialProvider } from '../auth/credentials.js';
import type { Redactor } from '../core/secrets.js';
import { connectRpc, type RpcConnection, type Resolver } from '../rpc/client.js';
import { loadTls } from '../rpc/tls.js';
import { checkAnswers, loadContract, type Contract } from '../contract/openrpc.js';
import { type AnyProbeDefinition, type ProbeContext } from '../probes/types.js';
import { ProbeError, REASONS, STEPS, type FailureReason, type RunRecord, type StepName, type StepRecord } from '../core/outcome.js';

/** Failure details are bounded: they land in logs and in /api/runs. */
const MAX_DETAIL = 512;

export interface RunnerDeps {
  credentials: CredentialProvider;
  logger: Logger;
  redactor: Redactor;
  /** DNS seam for tests. */
  resolver?: Resolver;
}

export interface RunRequest {
  definition: AnyProbeDefinition;
  probe: ProbeConfig;
  target: TargetConfig;
  /** Aborted when the daemon stops or the target is removed: the run is then not recorded. */
  stopSignal?: AbortSignal;
  scheduledAtMs?: number;
}

/** Runs the probe; resolves with its record, or undefined when it was stopped (not timed out). */
export async function runProbe(req: RunRequest, deps: RunnerDeps): Promise<RunRecord | undefined> {
  const { definition, probe, target } = req;
  const startedAtMs = Date.now();
  const t0 = performance.now();
  const steps: StepRecord[] = [];
  const inProgress = new Set<StepName>();
  const connections = new Set<RpcConnection>();
  const values: Record<string, number> = {};
  // Made on first use: at the default level a successful run logs nothing.
  let childLog: Logger | undefined;
  const log = (): Logger => (childLog ??= deps.logger.child({ target: target.name, probe: probe.name }));

  // The run races `aborted`, rejected by whatever aborts it (cheaper than a listener on
  // the signal; this path is paid by every run).
  const controller = new AbortController();
  let rejectAborted: (err: ProbeError) => void = () => undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    rejectAborted = reject;
  });
  aborted.catch(() => undefined);
  const abort = (err: ProbeError) => {
    controller.abort(err);
    rejectAborted(err);
  };
  // Made when the deadline passes (an Error's stack capture is not free on every run).
  let timeoutError: ProbeError | undefined;
  const deadline = setTimeout(() => {
    timeoutError = new ProbeError('timeout', `no result within the ${probe.timeout_ms} ms timeout`);
    abort(timeoutError);
  }, probe.timeout_ms);
  const onStop = () => abort(new ProbeError('internal', 'stopped'));
  if (req.stopSignal?.aborted) onStop();
  req.stopSignal?.addEventListener('abort', onStop, { once: true });

  // The first answer that broke the target's contract; it fails a run that otherwise passed.
  let violation: { reason: FailureReason; detail: string; step?: StepName } | undefined;
  let contract: Contract | undefined;
  try {
    contract = target.contract ? loadContract(target.contract.openrpc) : undefined;
  } catch (err) {
    // Valid at load; changed since. Every run says so rather than silently not checking.
    violation = { reason: 'internal', detail: `contract ${target.contract!.openrpc} can no longer be used: ${(err as Error).message}` };
  }

  const record = (step: StepName, start: number, durationMs: number, ok: boolean) => {
    steps.push({ step, startMs: round(start - t0), durationMs: round(durationMs), ok });
  };
  const ctx: ProbeContext<Record<string, unknown>> = {
    target,
    options: probe.options,
    signal: controller.signal,
    credentials: deps.credentials,
    get log() {
      return log();
    },
    connect: async () => {
      const tlsOptions = loadTls(target.url, target.tls);
      const conn = await connectRpc({
        url: target.url,
        signal: controller.signal,
        maxFrameBytes: target.client.max_frame_bytes,
        closeTimeoutMs: target.client.close_timeout_ms,
        ...(tlsOptions ? { tls: tlsOptions } : {}),
        ...(deps.resolver ? { resolver: deps.resolver } : {}),
        onPhase: (phase, start, duration, ok) => {
          if (ok) inProgress.delete(phase);
          record(phase, start, duration, ok);
          if (!ok) inProgress.add(phase);
        },
      });
      connections.add(conn);
      if (contract) {
        checkAnswers(conn, contract, (detail) => {
          const step = [...inProgress].pop();
          violation ??= { reason: 'contract_violation', detail, ...(step ? { step } : {}) };
        });
      }
      return conn;
    },
    step: async <T>(name: StepName, fn: () => Promise<T>): Promise<T> => {
      if (!STEPS.includes(name)) throw new ProbeError('internal', `unknown step "${String(name)}"`);
      const start = performance.now();
      inProgress.add(name);
      try {
        const value = await fn();
        inProgress.delete(name);
        record(name, start, performance.now() - start, true);
        return value;
      } catch (err) {
        record(name, start, performance.now() - start, false);
        if (err instanceof ProbeError && err.step === undefined) err.step = name;
        throw err;
      }
    },
    setValue: (name, value) => {
      if (!definition.values || !(name in definition.values)) {
        throw new ProbeError('internal', `probe type ${definition.type} did not declare the value "${name}"`);
      }
      values[name] = value;
    },
    error: (reason, message) =>
      REASONS.includes(reason) && reason !== ('ok' as string)
        ? new ProbeError(reason, String(message))
        : new ProbeError('internal', `unknown failure reason ${JSON.stringify(String(reason)).slice(0, 40)}: ${String(message)}`),
  };

  let failure: { reason: FailureReason; detail: string; step?: StepName } | undefined;
  try {
    await Promise.race([definition.run(ctx), aborted]);
  } catch (err) {
    failure = classify(err, controller.signal, timeoutError, inProgress, log, deps.redactor);
  }
  // The probe's own verdict comes first (a security violation must never read as a contract one).
  if (!failure && violation) failure = violation;
  if (!failure) {
    // A second response to one request is a broken server even when the first was right
    // (it may have run the call twice). Seen on the last call, it can race the close.
    const duplicates = [...connections].reduce((n, c) => n + c.stats.duplicates, 0);
    if (duplicates > 0) {
      failure = { reason: 'protocol_error', detail: `the service answered ${duplicates} request(s) twice (same id): JSON-RPC allows exactly one response per request` };
    }
  }
  const durationMs = performance.now() - t0;
  clearTimeout(deadline);
  req.stopSignal?.removeEventListener('abort', onStop);
  await Promise.all([...connections].map((c) => c.close()));

  if (controller.signal.aborted && controller.signal.reason !== timeoutError) return undefined;

  const run: RunRecord = {
    target: target.name,
    probe: probe.name,
    type: definition.type,
    startedAt: new Date(startedAtMs).toISOString(),
    startedAtMs,
    durationMs: round(durationMs),
    result: failure ? 'failure' : 'success',
    reason: failure ? failure.reason : 'ok',
    steps,
  };
  if (req.scheduledAtMs !== undefined) run.scheduledAtMs = req.scheduledAtMs;
  if (Object.keys(values).length > 0) run.values = values;
  const slow = failure ? undefined : overObjective(probe, run.durationMs, steps);
  if (slow) {
    run.degraded = true;
    run.detail = slow;
    log().info({ detail: slow, duration_ms: run.durationMs }, 'probe run degraded');
  }
  if (failure) {
    if (failure.step) run.step = failure.step;
    run.detail = truncate(deps.redactor.redact(failure.detail));
    log().warn({ step: run.step, reason: run.reason, detail: run.detail, duration_ms: run.durationMs }, 'probe run failed');
  } else if (deps.logger.isLevelEnabled('debug')) {
    log().debug({ duration_ms: run.durationMs }, 'probe run succeeded');
  }
  return run;
}

/** Which `degraded_after` objective a successful run missed, described; undefined when none. */
function overObjective(probe: ProbeConfig, durationMs: number, steps: StepRecord[]): string | undefined {
  const limits = probe.degraded_after;
  if (!limits) return undefined;
  if (limits.run !== undefined && durationMs > limits.run) {
    return `the run took ${formatMs(durationMs)}, over degraded_after ${formatMs(limits.run)}`;
  }
  for (const s of steps) {
    const limit = limits[s.step];
    if (limit !== undefined && s.durationMs > limit) {
      return `step ${s.step} took ${formatMs(s.durationMs)}, over degraded_after.${s.step} ${formatMs(limit)}`;
    }
  }
  return undefined;
}

function formatMs(ms: number): string {
  return `${Math.round(ms * 10) / 10} ms`;
}

function classify(
  err: unknown,
  signal: AbortSignal,
  timeoutError: ProbeError | undefined,
  inProgress: Set<StepName>,
  log: () => Logger,
  redactor: Redactor,
): { reason: FailureReason; detail: string; step?: StepName } {
  const current = [...inProgress].pop();
  // Past the deadline the run is a timeout, whatever error the aborted work surfaced.
  if (timeoutError !== undefined && signal.aborted && signal.reason === timeoutError) {
    const step = current ?? (err instanceof ProbeError ? err.step : undefined);
    return step ? { reason: 'timeout', detail: timeoutError.message, step } : { reason: 'timeout', detail: timeoutError.message };
  }
  if (err instanceof ProbeError) {
    const step = err.step ?? current;
    return step ? { reason: err.reason, detail: err.message, step } : { reason: err.reason, detail: err.message };
  }
  // Anything else is a bug in a probe: record it, never let it escape.
  const message = err instanceof Error ? `${err.name}: ${err.message}` : `non-error thrown: ${String(err)}`;
  // The stack helps find the bug; it is redacted like any detail (a script may throw a token).
  const stack = err instanceof Error && err.stack ? err.stack : message;
  log().error({ stack: truncate(redactor.redact(stack)) }, 'probe threw an unexpected error');
  return current ? { reason: 'internal', detail: message, step: current } : { reason: 'internal', detail: message };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function truncate(text: string): string {
  return text.length <= MAX_DETAIL ? text : `${text.slice(0, MAX_DETAIL - 1)}…`;
}
