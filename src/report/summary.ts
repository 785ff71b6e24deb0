/** What every reporter says first: how many runs passed, failed, and were degraded. */
import type { RunRecord } from '../core/outcome.js';

export interface Summary {
  total: number;
  passed: number;
  failed: number;
  /** Passed, but slower than a `degraded_after` objective (counted in `passed` too). */
  degraded: number;
  durationMs: number;
}

export function summarize(runs: readonly RunRecord[], durationMs: number): Summary {
  const passed = runs.filter((r) => r.result === 'success').length;
  return {
    total: runs.length,
    passed,
    failed: runs.length - passed,
    degraded: runs.filter((r) => r.result === 'success' && r.degraded === true).length,
    durationMs: Math.round(durationMs * 1000) / 1000,
  };
}

/** Step timings on one line: `connect 0.4 ms · upgrade 1.2 ms · call 3 ms (failed)`. */
export function formatSteps(run: RunRecord): string {
  return run.steps.map((s) => `${s.step} ${formatMs(s.durationMs)}${s.ok ? '' : ' (failed)'}`).join(' · ');
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms >= 100 ? Math.round(ms) : Math.round(ms * 10) / 10} ms`;
}
