/**
 * What ends a run early: its deadline, or the stop signal of whoever started it (the
 * daemon stopping, the job removed). Every run pays for this, so it stays cheap: `race`
 * is one promise, rejected directly by whatever aborts the run (no listener on the
 * probe's signal, no second promise to race against), and the timeout's ProbeError is
 * made only when the deadline passes (an Error's stack capture is not free).
 */
import { ProbeError } from '../core/outcome.js';

/** One run's deadline and stop; `dispose()` it when the run is over. */
export class RunAbort {
  private readonly controller = new AbortController();
  /** Rejects the promise `race` returned; undefined until the race starts. */
  private rejectRace: ((err: ProbeError) => void) | undefined;
  private timeoutError: ProbeError | undefined;
  private readonly deadline: NodeJS.Timeout;
  private readonly stopSignal: AbortSignal | undefined;
  private readonly onStop = (): void => this.abort(new ProbeError('internal', 'stopped'));

  constructor(timeoutMs: number, stopSignal: AbortSignal | undefined) {
    this.deadline = setTimeout(() => {
      this.timeoutError = new ProbeError('timeout', `no result within the ${timeoutMs} ms timeout`);
      this.abort(this.timeoutError);
    }, timeoutMs);
    this.stopSignal = stopSignal;
    if (stopSignal?.aborted) this.onStop();
    stopSignal?.addEventListener('abort', this.onStop, { once: true });
  }

  /**
   * `work`'s outcome, unless the run is aborted first (or already was): then it rejects
   * with the ProbeError of whatever aborted it, and `work` is left to the signal.
   */
  race<T>(work: T | PromiseLike<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const signal = this.controller.signal;
      if (signal.aborted) reject(signal.reason as ProbeError);
      this.rejectRace = reject;
      // A probe script's `run` may be a plain function: its result need not be a promise.
      Promise.resolve(work).then(resolve, reject);
    });
  }

  /** The probe's signal: aborted at the deadline or on stop, whichever comes first. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The deadline's error when the deadline is what aborted the run. */
  get timedOut(): ProbeError | undefined {
    const signal = this.controller.signal;
    return this.timeoutError !== undefined && signal.aborted && signal.reason === this.timeoutError ? this.timeoutError : undefined;
  }

  /** Aborted by the stop signal, not the deadline: the run is then not recorded. */
  get stopped(): boolean {
    const signal = this.controller.signal;
    return signal.aborted && signal.reason !== this.timeoutError;
  }

  /** The run is over: nothing may abort it any more. */
  dispose(): void {
    clearTimeout(this.deadline);
    this.stopSignal?.removeEventListener('abort', this.onStop);
  }

  private abort(err: ProbeError): void {
    this.controller.abort(err);
    this.rejectRace?.(err);
  }
}
