/**
 * The detail of one (target, probe), built when its row is expanded: the latest run, the
 * last failure, the access matrix, fields of the run this page has no view for, and the
 * recent runs from `/api/runs` (fetched on demand), each expanding to its steps.
 */
import type { RunRecord, StepRecord } from '../../core/outcome.js';
import type { ProbeStatus, RunBrief } from '../wire.js';
import { accessSection } from './access.js';
import { fill, fmtAge, fmtMs, fmtTime, h, nextId, svg } from './dom.js';
import { SYMBOL, stateLabel, stateOf } from './state.js';

/** Steps listed per run at most; a long access-matrix run says how many more. */
const MAX_STEPS = 40;

/** The expandable detail of a row. */
export class Detail {
  readonly el: HTMLDivElement;
  private readonly overview = h('div', { class: 'overview' });
  private readonly runs = h('section', { class: 'runs' });
  private loading: AbortController | undefined;
  /** Runs whose steps are shown (by start time), kept across refreshes. */
  private readonly openRuns = new Set<number>();

  constructor(id: string) {
    this.el = h('div', { id, class: 'detail' }, this.overview, this.runs);
    this.el.hidden = true;
  }

  /** Shows `s` and fetches its recent runs with their steps. */
  show(s: ProbeStatus, nowMs: number): void {
    fill(this.overview, runSection('Latest run', s.latest, nowMs), lastFailure(s, nowMs), accessSection(s, nowMs), extraSection(s.latest));
    void this.loadRuns(s, nowMs);
  }

  private async loadRuns(s: ProbeStatus, nowMs: number): Promise<void> {
    this.loading?.abort();
    const ctl = new AbortController();
    this.loading = ctl;
    const query = new URLSearchParams({ target: s.target, probe: s.probe, limit: String(Math.max(1, s.timeline.length)) });
    try {
      const res = await fetch(`api/runs?${query.toString()}`, { signal: ctl.signal, headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const { runs } = (await res.json()) as { runs: RunRecord[] };
      if (!ctl.signal.aborted) this.renderRuns(runs, nowMs);
    } catch (err) {
      if (ctl.signal.aborted) return;
      fill(this.runs, h('h3', {}, 'Recent runs'), h('p', { class: 'error' }, `Could not load the recent runs (${err instanceof Error ? err.message : String(err)}).`));
    }
  }

  private renderRuns(runs: RunRecord[], nowMs: number): void {
    const list = h('ol', { class: 'run-list' });
    for (const run of runs) list.append(this.runItem(run, nowMs));
    fill(this.runs, h('h3', {}, 'Recent runs'), runs.length === 0 ? h('p', {}, 'No runs kept.') : h('p', { class: 'hint' }, 'Newest first; select a run for its steps.'), list);
  }

  private runItem(run: RunRecord, nowMs: number): HTMLLIElement {
    const state = stateOf(run);
    const stepsId = nextId('steps');
    const open = this.openRuns.has(run.startedAtMs);
    const button = h(
      'button',
      { type: 'button', class: 'run', 'data-state': state, 'aria-expanded': String(open), 'aria-controls': stepsId },
      h('span', { class: 'symbol', 'aria-hidden': 'true' }, SYMBOL[state]),
      `${fmtTime(run.startedAtMs, nowMs)} · ${stateLabel(state, run.reason)} · ${fmtMs(run.durationMs)}`,
      run.reason === 'ok' ? '' : ` · ${run.reason}`,
    );
    const steps = h('div', { id: stepsId, class: 'steps' }, stepTable(run, nowMs), run.detail ? h('p', { class: 'run-detail' }, run.detail) : '');
    steps.hidden = !open;
    button.addEventListener('click', () => {
      const nowOpen = button.getAttribute('aria-expanded') !== 'true';
      button.setAttribute('aria-expanded', String(nowOpen));
      steps.hidden = !nowOpen;
      if (nowOpen) this.openRuns.add(run.startedAtMs);
      else this.openRuns.delete(run.startedAtMs);
    });
    return h('li', {}, button, steps);
  }
}

/** A run's outcome as a definition list: when, how long, what it came to, and its values. */
function runSection(title: string, run: RunBrief, nowMs: number): HTMLElement {
  const state = stateOf(run);
  const dl = h(
    'dl',
    {},
    h('dt', {}, 'Started'),
    h('dd', {}, `${fmtTime(run.startedAtMs, nowMs)} (${fmtAge(nowMs - run.startedAtMs)} ago)`),
    h('dt', {}, 'Duration'),
    h('dd', {}, fmtMs(run.durationMs)),
    h('dt', {}, 'Result'),
    h('dd', {}, `${stateLabel(state, run.reason)} (${run.reason})${run.step ? ` at step ${run.step}` : ''}`),
  );
  if (run.detail) dl.append(h('dt', {}, 'Detail'), h('dd', { class: 'detail-text' }, run.detail));
  const values = Object.entries(run.values ?? {});
  if (values.length > 0) dl.append(h('dt', {}, 'Values'), h('dd', {}, values.map(([k, v]) => `${k} ${v}`).join(', ')));
  return h('section', {}, h('h3', {}, title), dl);
}

function lastFailure(s: ProbeStatus, nowMs: number): HTMLElement | undefined {
  if (s.lastFailure === undefined || s.lastFailure.startedAtMs === s.latest.startedAtMs) return undefined;
  return runSection('Last failure', s.lastFailure, nowMs);
}

/**
 * Fields of the run record this page has no view for (a probe type added later, such as
 * the session probe's findings): each shown as indented JSON text.
 */
function extraSection(run: RunBrief): HTMLElement | undefined {
  const extra = Object.entries(run.extra ?? {});
  if (extra.length === 0) return undefined;
  const section = h('section', { class: 'extra' }, h('h3', {}, 'Other findings of the latest run'));
  for (const [key, value] of extra) section.append(h('h4', {}, key), h('pre', {}, JSON.stringify(value, null, 2)));
  return section;
}

/** The run's steps: when each started, how long it took, whether it passed, and a bar on the run's own time scale. */
function stepTable(run: RunRecord, nowMs: number): HTMLElement {
  if (run.steps.length === 0) return h('p', {}, 'No steps recorded.');
  const total = Math.max(run.durationMs, ...run.steps.map((s) => s.startMs + s.durationMs), 0.001);
  const body = h('tbody');
  for (const step of run.steps.slice(0, MAX_STEPS)) body.append(stepRow(step, total));
  const more = run.steps.length - MAX_STEPS;
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'step-table' },
      h('caption', {}, `Steps of the run at ${fmtTime(run.startedAtMs, nowMs)}`),
      h('thead', {}, h('tr', {}, ...['Step', 'Starts at', 'Duration', 'Result'].map((c) => h('th', { scope: 'col' }, c)), h('th', { scope: 'col', class: 'gantt-col' }, 'When'))),
      body,
    ),
    more > 0 ? h('p', {}, `… and ${more} more steps.`) : '',
  );
}

function stepRow(step: StepRecord, total: number): HTMLTableRowElement {
  const gantt = svg(
    'svg',
    { class: 'gantt', viewBox: '0 0 100 6', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' },
    svg('rect', { class: step.ok ? 'ok' : 'failed', x: String((step.startMs / total) * 100), y: '0', width: String(Math.max(0.5, (step.durationMs / total) * 100)), height: '6' }),
  );
  return h(
    'tr',
    { class: step.ok ? '' : 'failed' },
    h('th', { scope: 'row' }, step.step),
    h('td', {}, `+${fmtMs(step.startMs)}`),
    h('td', {}, fmtMs(step.durationMs)),
    h('td', {}, step.ok ? 'ok' : '✖ failed'),
    h('td', { class: 'gantt-col' }, gantt),
  );
}
