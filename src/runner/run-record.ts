/**
 * The record of a finished run, and the log lines it deserves: the probe's verdict, a
 * missed `degraded_after` objective, every string redacted and bounded.
 */
import type { Logger } from 'pino';
import type { ProbeConfig } from '../config/types.js';
import type { AccessReport, RunRecord, SessionReport, StepRecord } from '../core/outcome.js';
import type { Redactor } from '../core/secrets.js';
import { truncate, type Failure } from './classify.js';
import { roundMs } from './step-timer.js';

/** What a run came to, before it is a record. */
export interface Finished {
  target: string;
  probe: ProbeConfig;
  type: string;
  startedAtMs: number;
  scheduledAtMs: number | undefined;
  durationMs: number;
  steps: StepRecord[];
  values: Record<string, number>;
  failure: Failure | undefined;
  access: AccessReport | undefined;
  session: SessionReport | undefined;
}

/** The run's record: a failure's detail redacted and bounded, a success checked against `degraded_after`. */
export function runRecord(f: Finished, redactor: Redactor): RunRecord {
  const { failure } = f;
  const run: RunRecord = {
    target: f.target,
    probe: f.probe.name,
    type: f.type,
    startedAt: new Date(f.startedAtMs).toISOString(),
    startedAtMs: f.startedAtMs,
    durationMs: roundMs(f.durationMs),
    result: failure ? 'failure' : 'success',
    reason: failure ? failure.reason : 'ok',
    steps: f.steps,
  };
  if (f.scheduledAtMs !== undefined) run.scheduledAtMs = f.scheduledAtMs;
  if (Object.keys(f.values).length > 0) run.values = f.values;
  if (f.access !== undefined) run.access = f.access;
  if (f.session !== undefined) run.session = redactSession(f.session, redactor);
  if (failure) {
    if (failure.step) run.step = failure.step;
    run.detail = truncate(redactor.redact(failure.detail));
    return run;
  }
  const slow = overObjective(f.probe, run.durationMs, f.steps);
  if (slow) {
    run.degraded = true;
    run.detail = slow;
  }
  return run;
}

/**
 * Logs each run at `debug`: the daemon tells changes of state at `info` and above
 * (daemon/state-log.ts), so a probe failing every run does not repeat itself. `log` makes
 * the run's child logger, so a run at the default level costs none.
 */
export function logOutcome(run: RunRecord, logger: Logger, log: () => Logger): void {
  if (!logger.isLevelEnabled('debug')) return;
  if (run.degraded) log().debug({ detail: run.detail, duration_ms: run.durationMs }, 'probe run degraded');
  if (run.result === 'failure') {
    log().debug({ step: run.step, reason: run.reason, detail: run.detail, duration_ms: run.durationMs }, 'probe run failed');
  } else {
    log().debug({ duration_ms: run.durationMs }, 'probe run succeeded');
  }
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

/** The texts of a session report come from the service (notifications, close reasons): redacted. */
function redactSession(report: SessionReport, redactor: Redactor): SessionReport {
  const out: SessionReport = { ...report, invalidSamples: report.invalidSamples.map((s) => redactor.redact(s)) };
  if (report.lastDisconnect !== undefined) out.lastDisconnect = truncate(redactor.redact(report.lastDisconnect));
  if (report.lastExpiryCheck !== undefined) out.lastExpiryCheck = truncate(redactor.redact(report.lastExpiryCheck));
  return out;
}
