/**
 * One scheduler runs every (target, probe) job at its own instants.
 *
 * - Each job is given a stable phase from a hash of its key, so a thousand targets do
 *   not fire in the same millisecond. An interval job runs at the instants
 *   `k * interval + phase` (epoch milliseconds), each aimed at with one timer: node-cron
 *   (a heartbeat timer, then our phase timer, with Date and timezone work on every
 *   tick) alone started 3,000 no-op jobs 11 ms late at the median and 38 ms at p99, and
 *   kept about 6 KB per job (docs/performance.md). A `schedule:` (cron expression) job
 *   still runs on node-cron: whole seconds from the expression, the phase's
 *   milliseconds as a short timer after each tick.
 * - The first run happens promptly at start (spread over at most two seconds); the
 *   schedule starts once it has finished, so start-up never counts as a skipped run.
 * - Runs of one job never overlap: a tick that finds the previous run still going is
 *   skipped and reported, and so is a tick missed (the process was stalled for longer
 *   than an interval, or node-cron reported a missed execution).
 * - Stopping destroys every task, clears every timer and aborts runs in flight.
 */
import { createTask, type ScheduledTask, type Logger as CronLogger } from 'node-cron';
import type { Logger } from 'pino';

export interface Job {
  target: string;
  probe: string;
  intervalMs: number;
  /** A cron expression (6 fields, seconds first) used instead of the interval. */
  schedule?: string;
  /** Runs the job once; must not throw. The signal aborts it when the job is stopped. */
  run(signal: AbortSignal, scheduledAtMs: number): Promise<void>;
}

export interface SchedulerOptions {
  logger: Logger;
  /** A tick found the previous run still going (or was missed): one run skipped. */
  onSkip(job: Job): void;
  /** How long initial runs are spread over, at most. */
  startSpreadMs?: number;
}

export interface Plan {
  /** The instants as a cron expression (UTC for intervals of an hour or more). */
  cron: string;
  /** For an interval job: runs at `k * intervalMs + slotMs`, epoch milliseconds. */
  slotMs?: number;
  /** Milliseconds after each cron tick at which the run starts. */
  offsetMs: number;
  /** Delay of the first run after the job is added. */
  firstDelayMs: number;
}

interface Entry {
  job: Job;
  plan: Plan;
  task: ScheduledTask | undefined;
  timers: Set<NodeJS.Timeout>;
  controller: AbortController;
  inFlight: Promise<void> | undefined;
  stopped: boolean;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly opts: SchedulerOptions;
  private readonly cronLogger: CronLogger;

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
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
    const entry: Entry = {
      job,
      plan,
      task: undefined,
      timers: new Set(),
      controller: new AbortController(),
      inFlight: undefined,
      stopped: false,
    };
    this.entries.set(key, entry);
    this.after(entry, plan.firstDelayMs, async () => {
      this.fire(entry, Date.now());
      await entry.inFlight;
      if (entry.stopped) return;
      if (plan.slotMs === undefined) this.startCron(entry);
      else this.armInterval(entry, nextSlot(Date.now(), job.intervalMs, plan.slotMs));
    });
  }

  has(target: string, probe: string): boolean {
    return this.entries.has(jobKey(target, probe));
  }

  /** Stops one job: no further runs, the run in flight aborted and awaited. */
  async remove(target: string, probe: string): Promise<void> {
    const key = jobKey(target, probe);
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    await stopEntry(entry);
  }

  /** Stops every job and waits for runs in flight to finish aborting. */
  async stop(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map(stopEntry));
  }

  /** Number of runs in flight now. */
  inFlight(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.inFlight) n++;
    return n;
  }

  private startCron(entry: Entry): void {
    const task = createTask(
      entry.plan.cron,
      (ctx) => {
        const scheduledAtMs = ctx.date.getTime() + entry.plan.offsetMs;
        if (entry.plan.offsetMs === 0) this.fire(entry, scheduledAtMs);
        else this.after(entry, entry.plan.offsetMs, async () => this.fire(entry, scheduledAtMs));
      },
      { name: jobKey(entry.job.target, entry.job.probe), logger: this.cronLogger },
    );
    task.on('execution:missed', () => this.opts.onSkip(entry.job));
    entry.task = task;
    void task.start();
  }

  /** One timer to the instant `atMs`; whole intervals it woke up too late for are skipped. */
  private armInterval(entry: Entry, atMs: number): void {
    const interval = entry.job.intervalMs;
    this.after(entry, Math.max(0, atMs - Date.now()), async () => {
      let due = atMs;
      const missed = Math.floor((Date.now() - due) / interval);
      if (missed > 0) {
        for (let i = 0; i < missed; i++) this.opts.onSkip(entry.job);
        due += missed * interval;
      }
      this.fire(entry, due);
      this.armInterval(entry, due + interval);
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

  private after(entry: Entry, delayMs: number, fn: () => Promise<void>): void {
    const timer = setTimeout(() => {
      entry.timers.delete(timer);
      void fn();
    }, delayMs);
    entry.timers.add(timer);
  }
}

async function stopEntry(entry: Entry): Promise<void> {
  entry.stopped = true;
  for (const t of entry.timers) clearTimeout(t);
  entry.timers.clear();
  if (entry.task) await entry.task.destroy();
  entry.controller.abort();
  await entry.inFlight;
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
 * Turns a job into a cron expression with its phase. Intervals must divide a minute, an
 * hour or a day evenly (the config loader refuses others), so every tick is the same
 * distance apart.
 */
export function planJob(job: Pick<Job, 'target' | 'probe' | 'intervalMs' | 'schedule'>, startSpreadMs: number): Plan {
  const hash = phaseHash(jobKey(job.target, job.probe));
  const firstDelayMs = hash % Math.max(1, Math.min(startSpreadMs, job.intervalMs));
  if (job.schedule) return { cron: job.schedule, offsetMs: hash % SECOND, firstDelayMs };

  const interval = job.intervalMs;
  const slotMs = hash % interval;
  const offsetMs = slotMs % SECOND;
  const sec = Math.floor(slotMs / SECOND) % 60;
  if (interval < MINUTE) {
    return { cron: `${steps(sec, interval / SECOND, 60)} * * * * *`, slotMs, offsetMs, firstDelayMs };
  }
  const min = Math.floor(slotMs / MINUTE) % 60;
  if (interval < HOUR) {
    return { cron: `${sec} ${steps(min, interval / MINUTE, 60)} * * * *`, slotMs, offsetMs, firstDelayMs };
  }
  const hour = Math.floor(slotMs / HOUR) % 24;
  return { cron: `${sec} ${min} ${steps(hour, interval / HOUR, 24)} * * *`, slotMs, offsetMs, firstDelayMs };
}

/** The first instant `k * intervalMs + slotMs` after `nowMs`. */
export function nextSlot(nowMs: number, intervalMs: number, slotMs: number): number {
  return Math.floor((nowMs - slotMs) / intervalMs) * intervalMs + slotMs + intervalMs;
}

/** `first, first+step, ...` below `limit`, as a cron list. */
function steps(first: number, step: number, limit: number): string {
  const out: number[] = [];
  for (let v = first % step; v < limit; v += step) out.push(v);
  return out.join(',');
}
