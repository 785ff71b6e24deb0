/**
 * One scheduler runs every (target, probe) job at its own instants.
 *
 * - Each job is given a stable phase from a hash of its key, so a thousand targets do
 *   not fire in the same millisecond, and a job keeps its instants across restarts.
 * - An interval job, whatever its interval, runs at the instants `k * interval + phase`
 *   (epoch milliseconds). Each instant is computed from that grid, never from the run
 *   before, so lateness does not add up; each is aimed at with one timer, which costs less
 *   and starts runs later by less than node-cron did (docs/performance.md, change 4).
 * - A `schedule:` (cron expression) job runs on node-cron: whole seconds from the
 *   expression, the phase's milliseconds as a short timer after each tick.
 * - The first run happens promptly at start (spread over at most two seconds); the
 *   schedule starts once it has finished, so start-up never counts as a skipped run.
 * - Runs of one job never overlap: a tick that finds the previous run still going is
 *   skipped and reported, and so is a tick missed (the process was stalled for longer
 *   than an interval, or node-cron reported a missed execution).
 * - Stopping destroys every task, clears every timer and aborts runs in flight.
 */
import { createTask, type ScheduledTask, type Logger as CronLogger } from 'node-cron';
import type { Logger } from 'pino';

/** One (target, probe) to run on a schedule. */
export interface Job {
  target: string;
  probe: string;
  /** Time between runs; for a cron job, its shortest gap (bounds the start-up spread). */
  intervalMs: number;
  /** A cron expression (6 fields, seconds first) used instead of the interval. */
  schedule?: string;
  /** Runs the job once; must not throw. The signal aborts it when the job is stopped. */
  run(signal: AbortSignal, scheduledAtMs: number): Promise<void>;
}

/** Time and timers, a seam so tests can play hours of schedule in milliseconds. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `fn` after `delayMs`; returns what `clearTimeout` takes. */
  setTimeout(fn: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's own clock and timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
  // The handle is whatever setTimeout above returned.
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What the scheduler reports to, and its seams. */
export interface SchedulerOptions {
  logger: Logger;
  /** A tick found the previous run still going (or was missed): one run skipped. */
  onSkip(job: Job): void;
  /** How long initial runs are spread over, at most. */
  startSpreadMs?: number;
  /** Drives interval jobs and every timer; cron ticks come from node-cron's own clock. */
  clock?: Clock;
}

/** When a job runs: decided once when it is added, and the same for the same job every time. */
export type Plan =
  | {
      kind: 'interval';
      intervalMs: number;
      /** The job's phase: it runs at `k * intervalMs + slotMs`, epoch milliseconds. */
      slotMs: number;
      /** Delay of the first run after the job is added. */
      firstDelayMs: number;
    }
  | {
      kind: 'cron';
      cron: string;
      /** The job's phase: milliseconds after each cron tick at which the run starts. */
      offsetMs: number;
      /** Delay of the first run after the job is added. */
      firstDelayMs: number;
    };

type IntervalPlan = Extract<Plan, { kind: 'interval' }>;
type CronPlan = Extract<Plan, { kind: 'cron' }>;

interface Entry {
  job: Job;
  timers: Set<unknown>;
  task: ScheduledTask | undefined;
  controller: AbortController;
  inFlight: Promise<void> | undefined;
  stopped: boolean;
}

const SECOND = 1000;
/** setTimeout's longest delay; a longer wait is made of several timers. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Runs jobs at their instants, never two runs of one job at once. */
export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly opts: SchedulerOptions;
  private readonly clock: Clock;
  private readonly cronLogger: CronLogger;

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    const log = opts.logger.child({ component: 'node-cron' });
    this.cronLogger = {
      info: (m) => log.debug(m),
      warn: (m) => log.debug(m),
      error: (m) => log.error(String(m)),
      debug: (m) => log.trace(String(m)),
    };
  }

  /** Starts scheduling a job. A job with the same (target, probe) must be removed first. */
  add(job: Job): void {
    const key = jobKey(job.target, job.probe);
    if (this.entries.has(key)) throw new Error(`job ${job.target}/${job.probe} is already scheduled`);
    const plan = planJob(job, this.opts.startSpreadMs ?? 2 * SECOND);
    const entry: Entry = { job, timers: new Set(), task: undefined, controller: new AbortController(), inFlight: undefined, stopped: false };
    this.entries.set(key, entry);
    this.after(entry, plan.firstDelayMs, async () => {
      this.fire(entry, this.clock.now());
      await entry.inFlight;
      if (entry.stopped) return;
      if (plan.kind === 'cron') this.startCron(entry, plan);
      else this.armInterval(entry, plan, nextSlot(this.clock.now(), plan.intervalMs, plan.slotMs));
    });
  }

  /** Stops one job: no further runs, the run in flight aborted and awaited. */
  async remove(target: string, probe: string): Promise<void> {
    const key = jobKey(target, probe);
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    await this.stopEntry(entry);
  }

  /** Stops every job and waits for runs in flight to finish aborting. */
  async stop(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((entry) => this.stopEntry(entry)));
  }

  private startCron(entry: Entry, plan: CronPlan): void {
    const task = createTask(
      plan.cron,
      (ctx) => {
        const scheduledAtMs = ctx.date.getTime() + plan.offsetMs;
        if (plan.offsetMs === 0) this.fire(entry, scheduledAtMs);
        else this.after(entry, plan.offsetMs, () => this.fire(entry, scheduledAtMs));
      },
      { name: jobKey(entry.job.target, entry.job.probe), logger: this.cronLogger },
    );
    task.on('execution:missed', () => this.opts.onSkip(entry.job));
    entry.task = task;
    void task.start();
  }

  /** One timer to the instant `atMs`; whole intervals it woke up too late for are skipped. */
  private armInterval(entry: Entry, plan: IntervalPlan, atMs: number): void {
    const wait = atMs - this.clock.now();
    if (wait > MAX_TIMER_MS) {
      this.after(entry, MAX_TIMER_MS, () => this.armInterval(entry, plan, atMs));
      return;
    }
    this.after(entry, Math.max(0, wait), () => {
      let due = atMs;
      const missed = Math.floor((this.clock.now() - due) / plan.intervalMs);
      if (missed > 0) {
        for (let i = 0; i < missed; i++) this.opts.onSkip(entry.job);
        due += missed * plan.intervalMs;
      }
      this.fire(entry, due);
      this.armInterval(entry, plan, due + plan.intervalMs);
    });
  }

  private fire(entry: Entry, scheduledAtMs: number): void {
    if (entry.stopped) return;
    if (entry.inFlight) {
      this.opts.onSkip(entry.job);
      return;
    }
    const run = entry.job
      .run(entry.controller.signal, scheduledAtMs)
      .catch((err: unknown) => this.opts.logger.error({ err, target: entry.job.target, probe: entry.job.probe }, 'job failed'))
      .finally(() => {
        entry.inFlight = undefined;
      });
    entry.inFlight = run;
  }

  private after(entry: Entry, delayMs: number, fn: () => void | Promise<void>): void {
    const timer = this.clock.setTimeout(() => {
      entry.timers.delete(timer);
      void fn();
    }, delayMs);
    entry.timers.add(timer);
  }

  private async stopEntry(entry: Entry): Promise<void> {
    entry.stopped = true;
    for (const t of entry.timers) this.clock.clearTimeout(t);
    entry.timers.clear();
    if (entry.task) await entry.task.destroy();
    entry.controller.abort();
    await entry.inFlight;
  }
}

function jobKey(target: string, probe: string): string {
  return `${target}\u0000${probe}`;
}

/** FNV-1a: a cheap, stable 32-bit hash, so a job keeps its phase across restarts. */
export function phaseHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * A job's plan, its phase taken from the hash of its (target, probe). Any interval of a
 * positive number of milliseconds will do: the instants are a grid on epoch time, not
 * cron fields, so they need not divide a minute.
 */
export function planJob(job: Pick<Job, 'target' | 'probe' | 'intervalMs' | 'schedule'>, startSpreadMs: number): Plan {
  const hash = phaseHash(jobKey(job.target, job.probe));
  const firstDelayMs = hash % Math.max(1, Math.min(startSpreadMs, job.intervalMs));
  if (job.schedule) return { kind: 'cron', cron: job.schedule, offsetMs: hash % SECOND, firstDelayMs };
  if (!(Number.isFinite(job.intervalMs) && job.intervalMs > 0)) {
    throw new RangeError(`job ${job.target}/${job.probe}: the interval must be a positive number of milliseconds, not ${job.intervalMs}`);
  }
  return { kind: 'interval', intervalMs: job.intervalMs, slotMs: hash % job.intervalMs, firstDelayMs };
}

/** The first instant `k * intervalMs + slotMs` after `nowMs`. */
export function nextSlot(nowMs: number, intervalMs: number, slotMs: number): number {
  return Math.floor((nowMs - slotMs) / intervalMs) * intervalMs + slotMs + intervalMs;
}
