/**
 * The access matrix of a protected_rejection probe, from its latest report: which methods
 * answered a caller they should have refused (exposed), refused in an unexpected way
 * (unconfirmed) or were missing; the cells not covered and why; the sweep's progress.
 */
import type { AccessFinding, AccessState } from '../../core/outcome.js';
import type { ProbeStatus } from '../wire.js';
import { fmtAge, fmtTime, h } from './dom.js';

/** The states a method is listed under by name; refused and unchecked ones are counted. */
const NAMED: ReadonlyArray<{ state: AccessState; label: string }> = [
  { state: 'exposed', label: 'Exposed: answered a caller it must refuse' },
  { state: 'unconfirmed', label: 'Unconfirmed: an error outside the refusal codes' },
  { state: 'missing', label: 'Missing: the service does not know the method' },
];

/** The access-matrix section, when the probe reported one. */
export function accessSection(s: ProbeStatus, nowMs: number): HTMLElement | undefined {
  const a = s.access;
  if (a === undefined) return undefined;
  const byState = new Map<AccessState, string[]>();
  for (const [method, state] of Object.entries(a.methods)) byState.set(state, [...(byState.get(state) ?? []), method]);
  const count = (state: AccessState) => byState.get(state)?.length ?? 0;

  const section = h('section', { class: 'access' }, h('h3', {}, 'Access matrix'));
  const at = s.accessAtMs ?? s.latest.startedAtMs;
  const stale = at !== s.latest.startedAtMs ? ' (the latest run reported none)' : '';
  section.append(
    h('p', {}, `As of the run at ${fmtTime(at, nowMs)}${stale}: ${a.cells} cells, ${a.checked} checked by that run; ${count('refused')} methods refused everything checked, ${count('unchecked')} not checked yet.`),
    h('p', { class: 'sweep' }, sweepText(a.sweep, nowMs)),
  );
  const states = h('ul', { class: 'method-states' });
  for (const { state, label } of NAMED) {
    const methods = (byState.get(state) ?? []).sort();
    // Marked (and coloured) only when it lists a method: "Exposed (0)" is good news.
    states.append(h('li', { 'data-access': methods.length > 0 ? state : undefined }, h('strong', {}, `${label} (${methods.length})`), methods.length > 0 ? `: ${methods.join(', ')}` : ''));
  }
  section.append(states);
  if (a.findings.length > 0) section.append(findingsTable(a.findings));
  section.append(h('p', {}, `Uncovered cells: ${a.uncovered}.`));
  if (a.uncoveredWhy.length > 0) section.append(h('ul', { class: 'uncovered' }, ...a.uncoveredWhy.map((u) => h('li', {}, `${u.why}: ${u.cells} cells`))));
  return section;
}

function sweepText(sweep: NonNullable<ProbeStatus['access']>['sweep'], nowMs: number): string {
  const period = fmtAge(sweep.periodMs);
  const last = sweep.lastCheckedCells > 0 ? `last complete sweep ended ${fmtTime(sweep.lastCompletedAtMs, nowMs)} (${sweep.lastCheckedCells} cells checked)` : 'no sweep completed yet';
  return `Sweep: run ${sweep.run + 1} of ${sweep.runs}, one sweep every ${period}; ${last}.`;
}

function findingsTable(findings: AccessFinding[]): HTMLElement {
  const head = h('tr', {}, ...['Method', 'Credential', 'Presented', 'Finding', 'Answer'].map((c) => h('th', { scope: 'col' }, c)));
  const body = h('tbody');
  for (const f of findings) {
    body.append(h('tr', { 'data-access': f.state }, h('th', { scope: 'row' }, f.method), h('td', {}, f.credential), h('td', {}, usageText(f.usage)), h('td', {}, f.state), h('td', {}, f.got)));
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: 'findings' }, h('caption', {}, 'Cells whose latest check was not a refusal, worst first'), h('thead', {}, head), body));
}

function usageText(usage: AccessFinding['usage']): string {
  return { per_call: 'per call (auth_token)', session: 'on a session (authenticate)', none: 'nothing presented' }[usage];
}
