/** The reporters of `camprobe once`, by name. */
import type { RunRecord } from '../core/outcome.js';
import { jsonReport } from './json.js';
import { junitReport } from './junit.js';
import { prettyReport } from './pretty.js';
import type { Summary } from './summary.js';

export { summarize, type Summary } from './summary.js';

export const REPORTERS = ['pretty', 'json', 'junit'] as const;
export type ReporterName = (typeof REPORTERS)[number];

export function isReporter(name: string): name is ReporterName {
  return (REPORTERS as readonly string[]).includes(name);
}

export function renderReport(name: ReporterName, runs: readonly RunRecord[], summary: Summary, opts: { colour: boolean }): string {
  switch (name) {
    case 'json':
      return jsonReport(runs, summary);
    case 'junit':
      return junitReport(runs, summary);
    default:
      return prettyReport(runs, summary, opts);
  }
}

/** Colour when writing to a terminal and the user has not opted out (https://no-color.org). */
export function useColour(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}
