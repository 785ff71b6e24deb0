/**
 * The log as a story: one line when a (target, probe) changes state, none while it stays
 * where it is. Up, degraded and recovered are `info`; down is `warn`, or `error` when the
 * reason is a security finding. A probe failing a thousand times for the same reason
 * says so once, and again when it recovers, with how long it was down. Each run's own
 * line stays at `debug` (the runner's).
 */
import type { Logger } from 'pino';
import { formatDuration } from '../core/duration.js';
import type { FailureReason, RunRecord } from '../core/outcome.js';
import { jobKey } from './reload-plan.js';

/** Reasons that mean the service let a caller through, or may have: never just a warning. */
const SECURITY_REASONS: ReadonlySet<FailureReason> = new Set(['security_violation', 'rejection_unconfirmed']);

/** Where a (target, probe) stands after its last run. Small and fixed in size: no details kept. */
type Standing =
  | { state: 'up' }
  | { state: 'degraded'; sinceMs: number }
  | { state: 'down'; reason: FailureReason; sinceMs: number; failedRuns: number };

/** A RunSink (run-sink.ts, which wires it in) that also says how many entries it keeps. */
export interface StateLog {
  record(run: RunRecord): void;
  forget(target: string, probe: string): void;
  /** (target, probe) pairs with a standing kept. */
  readonly size: number;
}

/**
 * Logs each (target, probe)'s changes of state. It keeps one small entry per (target,
 * probe) that has run, dropped by `forget` when the probe is removed: its memory is
 * bounded by the configuration.
 */
export function stateLogSink(logger: Logger): StateLog {
  const standings = new Map<string, Standing>();
  return {
    get size() {
      return standings.size;
    },
    record(run) {
      const key = jobKey(run.target, run.probe);
      const next = advance(standings.get(key), run, logger);
      standings.set(key, next);
    },
    forget(target, probe) {
      standings.delete(jobKey(target, probe));
    },
  };
}

/** The standing after `run`, logging the change from `before` if there is one. */
function advance(before: Standing | undefined, run: RunRecord, log: Logger): Standing {
  const about = { target: run.target, probe: run.probe };
  if (run.result === 'failure') {
    const reason = run.reason === 'ok' ? 'internal' : run.reason;
    if (before?.state === 'down' && before.reason === reason) return { ...before, failedRuns: before.failedRuns + 1 };
    const fields = { ...about, reason, ...(run.step ? { step: run.step } : {}), detail: run.detail, duration_ms: run.durationMs };
    const was = before?.state === 'down' ? { previous_reason: before.reason } : {};
    if (SECURITY_REASONS.has(reason)) log.error({ ...fields, ...was }, 'probe down');
    else log.warn({ ...fields, ...was }, 'probe down');
    // Another reason is news, but the same outage: it is timed from its first failed run.
    if (before?.state === 'down') return { state: 'down', reason, sinceMs: before.sinceMs, failedRuns: before.failedRuns + 1 };
    return { state: 'down', reason, sinceMs: run.startedAtMs, failedRuns: 1 };
  }
  const next: Standing = run.degraded ? { state: 'degraded', sinceMs: run.startedAtMs } : { state: 'up' };
  if (before?.state === 'down') {
    const downMs = Math.max(0, run.startedAtMs - before.sinceMs);
    const slow = run.degraded ? { degraded: true, detail: run.detail } : {};
    log.info({ ...about, down_for: humanDuration(downMs), down_for_ms: downMs, reason_was: before.reason, failed_runs: before.failedRuns, ...slow }, 'probe recovered');
    return next;
  }
  if (next.state === 'degraded') {
    if (before?.state === 'degraded') return before;
    log.info({ ...about, detail: run.detail, duration_ms: run.durationMs }, 'probe degraded');
    return next;
  }
  if (before?.state === 'degraded') {
    const slowMs = Math.max(0, run.startedAtMs - before.sinceMs);
    log.info({ ...about, degraded_for: humanDuration(slowMs), degraded_for_ms: slowMs }, 'probe no longer degraded');
  } else if (before === undefined) {
    log.info({ ...about, duration_ms: run.durationMs }, 'probe up');
  }
  return next;
}

/** `2m10s`, to the second; under a second, `450ms`. */
function humanDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : formatDuration(Math.round(ms / 1000) * 1000);
}
