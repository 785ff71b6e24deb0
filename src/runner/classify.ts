/**
 * What a run comes to when it did not simply pass: the probe's error classified into a
 * reason and a step, and the failures the runner sees itself.
 */
import type { Logger } from 'pino';
import type { Redactor } from '../core/secrets.js';
import { ProbeError, type FailureReason, type StepName } from '../core/outcome.js';
import type { RpcConnection } from '../rpc/client.js';

/** Failure details are bounded: they land in logs and in /api/runs. */
const MAX_DETAIL = 512;

/** Why a run failed, and in which step when that is known. */
export interface Failure {
  reason: FailureReason;
  detail: string;
  step?: StepName;
}

/**
 * Classifies what a probe threw (or the abort it raced). `timedOut` is the deadline's
 * error when the deadline aborted the run; `current` the step still in progress.
 */
export function classify(
  err: unknown,
  timedOut: ProbeError | undefined,
  current: StepName | undefined,
  log: () => Logger,
  redactor: Redactor,
): Failure {
  // Past the deadline the run is a timeout, whatever error the aborted work surfaced.
  if (timedOut !== undefined) {
    const step = current ?? (err instanceof ProbeError ? err.step : undefined);
    return step ? { reason: 'timeout', detail: timedOut.message, step } : { reason: 'timeout', detail: timedOut.message };
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

/**
 * A second response to one request is a broken server even when the first was right (it
 * may have run the call twice). Seen on the last call, it can race the close.
 */
export function duplicateAnswers(connections: Iterable<RpcConnection>): Failure | undefined {
  let duplicates = 0;
  for (const c of connections) duplicates += c.stats.duplicates;
  if (duplicates === 0) return undefined;
  return {
    reason: 'protocol_error',
    detail: `the service answered ${duplicates} request(s) twice (same id): JSON-RPC allows exactly one response per request`,
  };
}

/** `text` cut to the length a failure detail may have. */
export function truncate(text: string): string {
  return text.length <= MAX_DETAIL ? text : `${text.slice(0, MAX_DETAIL - 1)}…`;
}
