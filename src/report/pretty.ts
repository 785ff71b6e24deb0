/**
 * `--reporter pretty`: a table a person reads in a terminal or a CI log. Colour only when
 * asked for (the caller decides: a TTY without NO_COLOR), never in files or pipes.
 */
import type { RunRecord } from '../core/outcome.js';
import { formatMs, formatSteps, type Summary } from './summary.js';

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
type Colour = keyof typeof CODES;

export function prettyReport(runs: readonly RunRecord[], summary: Summary, opts: { colour: boolean }): string {
  const paint = (colour: Colour, text: string) => (opts.colour ? `\u001b[${CODES[colour]}m${text}\u001b[0m` : text);
  const header = ['RESULT', 'TARGET', 'PROBE', 'TYPE', 'DURATION'];
  const rows = runs.map((r) => [status(r), r.target, r.probe, r.type, formatMs(r.durationMs)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[], from = 0) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[from + i]!))).join('  ');

  const out = [paint('bold', line(header))];
  runs.forEach((run, i) => {
    const row = rows[i]!;
    const colour: Colour = run.result === 'failure' ? 'red' : run.degraded ? 'yellow' : 'green';
    // Pad before painting: escape codes would otherwise count towards the width.
    out.push(`${paint(colour, row[0]!.padEnd(widths[0]!))}  ${line(row.slice(1), 1)}`);
    const indent = ' '.repeat(widths[0]! + 2);
    if (run.result === 'failure') {
      out.push(`${indent}${paint('red', `${run.reason}${run.step ? ` at ${run.step}` : ''}: ${printable(run.detail ?? '')}`)}`);
    } else if (run.degraded) {
      out.push(`${indent}${paint('yellow', `degraded: ${printable(run.detail ?? '')}`)}`);
    }
    if (run.steps.length > 0) out.push(`${indent}${paint('dim', formatSteps(run))}`);
  });
  const counts = `${summary.total} run${summary.total === 1 ? '' : 's'}, ${summary.passed} passed (${summary.degraded} degraded), ${summary.failed} failed in ${formatMs(summary.durationMs)}`;
  out.push('', paint(summary.failed > 0 ? 'red' : summary.degraded > 0 ? 'yellow' : 'green', counts));
  return `${out.join('\n')}\n`;
}

/**
 * Details quote the service's own error messages: a terminal must not execute escape
 * sequences from them, and one run stays on one line.
 */
function printable(text: string): string {
  return text.replace(/[\t\r\n]+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '\uFFFD');
}

function status(run: RunRecord): string {
  if (run.result === 'failure') return 'FAIL';
  return run.degraded ? 'DEGRADED' : 'PASS';
}
