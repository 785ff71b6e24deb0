/**
 * The steps of one run as they happen: each one timed, and the ones not finished kept,
 * so a failure is blamed on the step it happened in even when the error does not say.
 */
import { performance } from 'node:perf_hooks';
import { ProbeError, STEPS, type StepName, type StepRecord } from '../core/outcome.js';
import type { ConnectPhase } from '../rpc/client.js';

/** One run's steps: made at the run's start, read when it ends. */
export class StepTimer {
  /** Finished steps in the order they ended; times relative to the run's start. */
  readonly steps: StepRecord[] = [];
  private readonly inProgress = new Set<StepName>();
  private readonly t0: number;

  /** `t0`: the run's start, a performance.now() timestamp. */
  constructor(t0: number) {
    this.t0 = t0;
  }

  /** The step started last of those still going: where a failure happened. */
  current(): StepName | undefined {
    let last: StepName | undefined;
    for (const step of this.inProgress) last = step;
    return last;
  }

  /** Times `fn` as the step `name`; a ProbeError thrown inside gets this step if it has none. */
  async time<T>(name: StepName, fn: () => Promise<T>): Promise<T> {
    // Probe scripts are plain JavaScript: the type does not stop an unknown name.
    if (!STEPS.includes(name)) throw new ProbeError('internal', `unknown step "${String(name)}"`);
    const start = performance.now();
    this.inProgress.add(name);
    try {
      const value = await fn();
      this.inProgress.delete(name);
      this.record(name, start, performance.now() - start, true);
      return value;
    } catch (err) {
      // Left in progress: the failure's classification looks for it.
      this.record(name, start, performance.now() - start, false);
      if (err instanceof ProbeError && err.step === undefined) err.step = name;
      throw err;
    }
  }

  /** A connection phase as the RPC client reports it (its `onPhase`). */
  readonly onPhase = (phase: ConnectPhase, start: number, durationMs: number, ok: boolean): void => {
    if (ok) this.inProgress.delete(phase);
    this.record(phase, start, durationMs, ok);
    if (!ok) this.inProgress.add(phase);
  };

  private record(step: StepName, start: number, durationMs: number, ok: boolean): void {
    this.steps.push({ step, startMs: roundMs(start - this.t0), durationMs: roundMs(durationMs), ok });
  }
}

/** Milliseconds to the microsecond: what run records and metrics carry. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
