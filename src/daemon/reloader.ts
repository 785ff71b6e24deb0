/**
 * The configuration in effect, and moving the running jobs to a new one: what SIGHUP
 * does. A file that does not load is refused and the running configuration stays.
 */
import type { Logger } from 'pino';
import { ConfigError } from '../config/load.js';
import type { TargetConfig } from '../config/types.js';
import type { Redactor } from '../core/secrets.js';
import type { ProbeMetrics } from '../metrics/metrics.js';
import type { JobSet } from './job-set.js';
import type { Loaded } from './loaded.js';
import { desiredJobs, planReload, restartOnlySettings } from './reload-plan.js';

/** What a reload did, each job named `target/probe`; or why it was refused. */
export type ReloadResult =
  | { ok: true; added: string[]; changed: string[]; removed: string[]; unchanged: number }
  | { ok: false; error: string };

/** What reloading reads and changes. */
export interface ReloaderDeps {
  /** Reads the configuration file again; throws when it is invalid. */
  load(): Promise<Loaded>;
  jobs: JobSet;
  metrics: Pick<ProbeMetrics, 'recordConfigLoad' | 'setShard'>;
  logger: Logger;
  /** Keeps secrets out of the message of a reload that failed other than by a ConfigError. */
  redactor: Redactor;
}

/** Holds the configuration in effect; `reload()` replaces it, or refuses the new one. */
export class Reloader {
  private current: Loaded;
  private readonly deps: ReloaderDeps;
  /** The reload going on, if any: the next one waits for it. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(initial: Loaded, deps: ReloaderDeps) {
    this.current = initial;
    this.deps = deps;
  }

  /** The configuration in effect: replaced only by a reload that succeeded. */
  get loaded(): Loaded {
    return this.current;
  }

  /** Starts the jobs of the configuration loaded at start. */
  start(): void {
    const { targets, config, runner } = this.current;
    for (const target of targets) warnInsecure(this.deps.logger, target);
    for (const job of desiredJobs(config, targets)) this.deps.jobs.add(job, runner);
  }

  /** Re-reads the configuration; reloads never overlap, one asked for during another runs after it. */
  reload(): Promise<ReloadResult> {
    const result = this.queue.then(() => this.apply());
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Resolves once no reload is going on or waiting. */
  async idle(): Promise<void> {
    await this.queue;
  }

  private async apply(): Promise<ReloadResult> {
    const { logger: log, metrics } = this.deps;
    let next: Loaded;
    try {
      next = await this.deps.load();
    } catch (err) {
      const error = err instanceof ConfigError ? err.message : this.deps.redactor.redact((err as Error).message);
      metrics.recordConfigLoad(false);
      log.error({ error }, 'configuration reload refused; the running configuration stays');
      return { ok: false, error };
    }
    const result = await this.switchTo(next);
    const before = this.current.config;
    this.current = next;
    log.level = next.config.log.level;
    metrics.recordConfigLoad(true);
    metrics.setShard(next.shard, next.targets.length);
    const restartOnly = restartOnlySettings(before, next.config);
    if (restartOnly.length > 0) log.warn({ settings: restartOnly }, 'these settings changed but apply only at restart');
    const { added, changed, removed, unchanged } = result;
    log.info({ added: added.length, changed: changed.length, removed: removed.length, unchanged }, 'configuration reloaded');
    return result;
  }

  /** Stops, restarts and starts jobs so the running ones are those `next` asks for. */
  private async switchTo(next: Loaded): Promise<ReloadResult & { ok: true }> {
    const { jobs } = this.deps;
    const plan = planReload(jobs.list(), desiredJobs(next.config, next.targets));
    for (const job of plan.remove) await jobs.remove(job.target, job.probe, { forget: true });
    for (const { job, keepSeries } of plan.change) await jobs.remove(job.target.name, job.probe.name, { forget: !keepSeries });
    const starting = [...plan.change.map((c) => c.job), ...plan.add];
    for (const target of new Set(starting.map((job) => job.target))) warnInsecure(this.deps.logger, target);
    for (const job of starting) jobs.add(job, next.runner);
    return {
      ok: true,
      added: plan.add.map((job) => `${job.target.name}/${job.probe.name}`),
      changed: plan.change.map(({ job }) => `${job.target.name}/${job.probe.name}`),
      removed: plan.remove.map((job) => `${job.target}/${job.probe}`),
      unchanged: plan.keep.length,
    };
  }
}

function warnInsecure(log: Logger, target: TargetConfig): void {
  if (target.url.startsWith('wss:') && target.tls.insecure_skip_verify) {
    log.warn({ target: target.name }, 'TLS certificate verification is OFF for this target (tls.insecure_skip_verify)');
  }
}
