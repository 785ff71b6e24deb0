/**
 * `--reporter junit`: JUnit XML as CI systems read it (GitHub, GitLab, Jenkins): one
 * testsuite per target, one testcase per probe (classname = target), the reason and detail
 * in `<failure>`; a degraded run passes with a note in `<system-out>`.
 */
import type { RunRecord } from '../core/outcome.js';
import { formatSteps, type Summary } from './summary.js';

export function junitReport(runs: readonly RunRecord[], summary: Summary): string {
  const targets = [...new Set(runs.map((r) => r.target))];
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="camprobe" tests="${summary.total}" failures="${summary.failed}" errors="0" time="${seconds(summary.durationMs)}">`,
  ];
  for (const target of targets) {
    const own = runs.filter((r) => r.target === target);
    const failures = own.filter((r) => r.result === 'failure').length;
    const time = own.reduce((t, r) => t + r.durationMs, 0);
    lines.push(
      `  <testsuite name="${xml(target)}" tests="${own.length}" failures="${failures}" errors="0" skipped="0" time="${seconds(time)}" timestamp="${xml(own[0]!.startedAt)}">`,
    );
    for (const run of own) {
      lines.push(`    <testcase classname="${xml(target)}" name="${xml(run.probe)}" time="${seconds(run.durationMs)}">`);
      const steps = run.steps.length > 0 ? `steps: ${formatSteps(run)}` : 'no steps ran';
      if (run.result === 'failure') {
        const where = run.step ? ` at ${run.step}` : '';
        lines.push(
          `      <failure type="${xml(run.reason)}" message="${xml(`${run.reason}${where}: ${run.detail ?? ''}`)}">${xml(`${run.reason}${where}: ${run.detail ?? ''}\n${steps}`)}</failure>`,
        );
      }
      const note = run.degraded ? `degraded: ${run.detail ?? ''}\n` : '';
      lines.push(`      <system-out>${xml(`type: ${run.type}\n${note}${steps}`)}</system-out>`);
      lines.push('    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** Escapes for attributes and text alike, and drops characters XML 1.0 cannot carry at all. */
export function xml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;');
}
