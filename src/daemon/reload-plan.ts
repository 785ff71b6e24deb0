/**
 * Which jobs a configuration asks for, and what changes when it replaces another: pure
 * functions of the two, so a reload can be worked out (and tested) without running it.
 */
import { createHash } from 'node:crypto';
import type { Config, ProbeConfig, TargetConfig } from '../config/types.js';

/** A (target, probe) as a configuration asks for it. */
export interface DesiredJob {
  readonly target: TargetConfig;
  readonly probe: ProbeConfig;
  /** Everything the job is built from: equal fingerprints, nothing to restart. */
  readonly fingerprint: string;
}

/** A (target, probe) running now, and what it was built from. */
export interface ScheduledJob {
  readonly target: string;
  readonly probe: string;
  readonly type: string;
  readonly fingerprint: string;
}

/** What a reload does to each (target, probe), from planReload. */
export interface ReloadPlan {
  /** New (target, probe) pairs, to start; in configuration order. */
  readonly add: DesiredJob[];
  /**
   * Pairs whose settings changed, to restart; in configuration order. Their series and
   * history stay, unless the probe became another type whose series would mean something else.
   */
  readonly change: Array<{ job: DesiredJob; keepSeries: boolean }>;
  /** Pairs the configuration no longer has: to stop, with their series and history. */
  readonly remove: ScheduledJob[];
  /** Pairs built exactly as before: left running, their schedule and series untouched. */
  readonly keep: ScheduledJob[];
}

/** The key of a (target, probe): names cannot hold a NUL, so no two pairs share one. */
export function jobKey(target: string, probe: string): string {
  return `${target}\0${probe}`;
}

/**
 * What a job is built from: its target's settings (not the target's other probes), its
 * own and its credential's. A secret's value is not in it: the running job reads a
 * rotated secret file itself, no restart needed.
 */
export function fingerprint(target: TargetConfig, probe: ProbeConfig, config: Config): string {
  // A digest, not the text: every job keeps its fingerprint, and the text (the target's
  // method table and all) is about a kilobyte a job, a few MB at a thousand targets.
  const text = JSON.stringify([{ ...target, probes: undefined }, probe, config.credentials[target.credential]]);
  return createHash('sha256').update(text).digest('base64');
}

/** Every (target, probe) of `targets` (the shard's share of `config`), in configuration order. */
export function desiredJobs(config: Config, targets: readonly TargetConfig[]): DesiredJob[] {
  return targets.flatMap((target) => target.probes.map((probe) => ({ target, probe, fingerprint: fingerprint(target, probe, config) })));
}

/** How to go from the jobs running now to those `next` asks for. */
export function planReload(current: Iterable<ScheduledJob>, next: readonly DesiredJob[]): ReloadPlan {
  const running = new Map<string, ScheduledJob>();
  for (const job of current) running.set(jobKey(job.target, job.probe), job);
  const wanted = new Map<string, DesiredJob>();
  for (const job of next) wanted.set(jobKey(job.target.name, job.probe.name), job);

  const plan: ReloadPlan = { add: [], change: [], remove: [], keep: [] };
  for (const [key, job] of running) if (!wanted.has(key)) plan.remove.push(job);
  for (const [key, job] of wanted) {
    const old = running.get(key);
    if (!old) plan.add.push(job);
    else if (old.fingerprint === job.fingerprint) plan.keep.push(old);
    else plan.change.push({ job, keepSeries: old.type === job.probe.type });
  }
  return plan;
}

/** Settings that differ between `before` and `next` but are read only at start. */
export function restartOnlySettings(before: Config, next: Config): string[] {
  const settings = (['host', 'port', 'request_timeout_ms'] as const)
    .filter((k) => before.server[k] !== next.server[k])
    .map((k) => `server.${k}`);
  if (JSON.stringify(before.history) !== JSON.stringify(next.history)) settings.push('history');
  if (before.location !== next.location) settings.push('location');
  return settings;
}
