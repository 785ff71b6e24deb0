/**
 * The daemon's scheduled jobs: one per (target, probe) of the configuration in effect,
 * each running its probe through a prepared runner and handing the run to the sink.
 */
import type { ProbeMetrics } from '../metrics/metrics.js';
import type { PreparedProbe, Runner } from '../runner/create-runner.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { jobKey, type DesiredJob, type ScheduledJob } from './reload-plan.js';
import type { RunSink } from './run-sink.js';

/** What the jobs run on and report to. */
export interface JobSetDeps {
  scheduler: Pick<Scheduler, 'add' | 'remove'>;
  /** Receives every run of every job, and the jobs forgotten. */
  sink: RunSink;
  /** Creates a job's series when it starts, so they exist before its first run. */
  metrics: Pick<ProbeMetrics, 'addProbe'>;
}

/** The jobs scheduled now, each with what it was built from (for the next reload to compare). */
export class JobSet {
  private readonly jobs = new Map<string, ScheduledJob>();
  /** What each job's probe holds across runs (a session's connection), closed with the job. */
  private readonly prepared = new Map<string, PreparedProbe>();
  private readonly deps: JobSetDeps;

  constructor(deps: JobSetDeps) {
    this.deps = deps;
  }

  get size(): number {
    return this.jobs.size;
  }

  /** The jobs scheduled now. */
  list(): ScheduledJob[] {
    return [...this.jobs.values()];
  }

  /**
   * Starts `job` with the runner of the configuration it comes from. Throws when that
   * runner lacks its probe type or credential, before anything is scheduled.
   */
  add(job: DesiredJob, runner: Runner): void {
    const { target, probe } = job;
    const prepared = runner.prepare(target, probe);
    this.deps.metrics.addProbe({ target: target.name, probe: probe.name, type: probe.type, values: prepared.definition.values ?? {} });
    this.jobs.set(jobKey(target.name, probe.name), { target: target.name, probe: probe.name, type: probe.type, fingerprint: job.fingerprint });
    this.prepared.set(jobKey(target.name, probe.name), prepared);
    const sink = this.deps.sink;
    this.deps.scheduler.add({
      target: target.name,
      probe: probe.name,
      intervalMs: probe.interval_ms,
      ...(probe.schedule ? { schedule: probe.schedule } : {}),
      run: async (signal, scheduledAtMs) => {
        const run = await prepared.run({ stopSignal: signal, scheduledAtMs });
        if (run) sink.record(run);
      },
    });
  }

  /**
   * Stops a job: no more runs, its run in flight aborted and awaited (never recorded).
   * `forget` also drops its series and history; a restarted job keeps them.
   */
  async remove(target: string, probe: string, opts: { forget: boolean }): Promise<void> {
    const key = jobKey(target, probe);
    this.jobs.delete(key);
    await this.deps.scheduler.remove(target, probe);
    const prepared = this.prepared.get(key);
    this.prepared.delete(key);
    await prepared?.close();
    if (opts.forget) this.deps.sink.forget(target, probe);
  }

  /** Closes what every job holds across runs; for a stop, after the scheduler stopped. */
  async closeAll(): Promise<void> {
    const all = [...this.prepared.values()];
    this.prepared.clear();
    await Promise.all(all.map((p) => p.close()));
  }
}
