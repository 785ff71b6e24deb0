/**
 * Durations in the configuration: parsed to milliseconds, range-checked, and inherited
 * from `defaults` through the target down to the probe.
 */
import { DURATION_HINT, formatDuration, parseDuration } from '../../core/duration.js';
import type { Path, Problems } from '../problems.js';

export const TTL_RANGE: [number, number] = [10_000, 86_400_000];
export const CLOSE_TIMEOUT_RANGE: [number, number] = [10, 30_000];
export const TIMEOUT_RANGE: [number, number] = [10, 86_400_000];
export const REQUEST_TIMEOUT_RANGE: [number, number] = [100, 300_000];
/**
 * Sub-second runs would exceed the service's rate limit (60 requests a minute) with even a
 * one-request probe; past a day, a cron `schedule` says better when a probe should run.
 */
const INTERVAL_RANGE: [number, number] = [1000, 86_400_000];

/** A duration field: ms, or undefined when absent or invalid (the problem is recorded). */
export function duration(value: unknown, path: Path, problems: Problems, range?: [number, number]): number | undefined {
  if (value === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(String(value));
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

/** Any interval in range: camprobe's own timer runs it, so it need not divide a minute. */
export function interval(value: unknown, path: Path, problems: Problems): number | undefined {
  return duration(value, path, problems, INTERVAL_RANGE);
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
