/** `--reporter json`: the summary and every RunRecord as recorded (the shape of /api/runs). */
import type { RunRecord } from '../core/outcome.js';
import type { Summary } from './summary.js';

export function jsonReport(runs: readonly RunRecord[], summary: Summary): string {
  return `${JSON.stringify({ summary, runs }, null, 2)}\n`;
}
