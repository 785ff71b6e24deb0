/**
 * Durations in the configuration: parsed to milliseconds, range-checked, and inherited
 * from `defaults` through the target down to the probe.
 */
import { DURATION_HINT, formatDuration, parseDuration } from '../../core/duration.js';
import type { Path, Problems } from '../problems.js';

export type Range = readonly [min: number, max: number];

export const TTL_RANGE: Range = [10_000, 86_400_000];
export const CLOSE_TIMEOUT_RANGE: Range = [10, 30_000];
export const TIMEOUT_RANGE: Range = [10, 86_400_000];
export const REQUEST_TIMEOUT_RANGE: Range = [100, 300_000];
/**
 * Sub-second runs would exceed the service's rate limit (60 requests a minute) with even a
 * one-request probe; past a day, a cron `schedule` says better when a probe should run.
 */
export const INTERVAL_RANGE: Range = [1000, 86_400_000];

/** A duration field: ms, or undefined when absent or invalid (the problem is recorded). */
export function duration(value: string | undefined, path: Path, problems: Problems, range?: Range): number | undefined {
  if (value === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    problems.add(path, DURATION_HINT);
    return undefined;
  }
  if (range && (ms < range[0] || ms > range[1])) {
    problems.add(path, `must be from ${formatDuration(range[0])} to ${formatDuration(range[1])}`);
    return undefined;
  }
  return ms;
}

/**
 * A duration that has a default: one reported invalid (or absent) stands at the default, so
 * what depends on it is still checked. The configuration is refused anyway.
 */
export function durationOr(fallback: string, value: string | undefined, path: Path, problems: Problems, range: Range): number {
  return duration(value, path, problems, range) ?? parseDuration(fallback);
}

/** A setting as it applies at one level: its value, and where it was set when not at this level. */
export interface Inherited {
  ms: number;
  /** Where the value was set, when not on the probe itself. */
  from?: string;
}

/**
 * A setting given at this level replaces the inherited one. One given but invalid is
 * unknown (undefined), so no comparison is made against a value the user did not mean.
 */
export function override(value: unknown, ms: number | undefined, from: string | undefined, inherited: Inherited | undefined): Inherited | undefined {
  if (value === undefined) return inherited;
  return ms === undefined ? undefined : { ms, ...(from === undefined ? {} : { from }) };
}

/** The timeout must end before the next run is due; the message says where each value came from. */
export function checkTimeoutFits(timeout: Inherited, period: Inherited, path: Path, problems: Problems): void {
  if (timeout.ms < period.ms) return;
  const sources = [timeout.from && `the timeout comes from ${timeout.from}`, period.from && `the interval comes from ${period.from}`];
  const note = sources.filter(Boolean).join(', ');
  problems.add(path, `${formatDuration(timeout.ms)} must be shorter than the interval (${formatDuration(period.ms)})${note ? `; ${note}` : ''}`);
}
