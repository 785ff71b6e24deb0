/**
 * One (target, probe) on the page: a button that sums it up (state in words and a symbol,
 * never colour alone; since when; the last runs as bars) and expands its detail, and the
 * latest run's reason and detail below it when it is not up.
 */
import type { ProbeState, ProbeStatus, TimelineBar } from '../wire.js';
import { Detail } from './detail.js';
import { fill, fmtAge, fmtMs, fmtTime, h, nextId, svg } from './dom.js';
import { PROBE_STATES, SYMBOL, stateLabel } from './state.js';


/** The row of one (target, probe), updated in place when its entry changes. */
export class Row {
  readonly el: HTMLLIElement;
  private readonly button: HTMLButtonElement;
  private readonly badge = h('span', { class: 'badge' });
  private readonly since = h('span', { class: 'since' });
  private readonly bars = h('span', { class: 'timeline' });
  private readonly note = h('p', { class: 'note' });
  private readonly detail: Detail;
  private status: ProbeStatus | undefined;

  constructor(status: ProbeStatus) {
    const detailId = nextId('detail');
    this.detail = new Detail(detailId);
    // The label names the row and its state; since when, the runs and the reason describe it.
    const described = [this.since, this.bars, this.note].map((el) => (el.id = nextId('d'))).join(' ');
    this.button = h(
      'button',
      { type: 'button', class: 'summary', 'aria-expanded': 'false', 'aria-controls': detailId, 'aria-describedby': described },
      this.badge,
      h('span', { class: 'name' }, h('span', { class: 'target' }, status.target), h('span', { class: 'sep', 'aria-hidden': 'true' }, ' / '), h('span', { class: 'probe' }, status.probe), h('span', { class: 'type' }, status.type)),
      this.since,
      this.bars,
    );
    this.button.addEventListener('click', () => this.toggle());
    this.el = h('li', { class: 'row' }, this.button, this.note, this.detail.el);
  }

  /** Shows `status`; only what changed is rebuilt (the `rev` says whether anything did). */
  update(status: ProbeStatus, nowMs: number): void {
    const changed = this.status?.rev !== status.rev;
    this.status = status;
    if (changed) {
      this.el.dataset['state'] = status.state;
      const label = stateLabel(status.state, status.reason);
      fill(this.badge, h('span', { class: 'symbol', 'aria-hidden': 'true' }, SYMBOL[status.state]), label);
      this.button.setAttribute('aria-label', `${status.target} / ${status.probe}: ${label}`);
      fill(this.bars, timeline(status.timeline, nowMs));
      this.showNote(status);
      if (this.expanded) this.detail.show(status, nowMs);
    }
    this.tick(nowMs);
  }

  /** Refreshes what depends on the clock alone. */
  tick(nowMs: number): void {
    const s = this.status;
    if (s === undefined) return;
    const first = s.sinceFirstRun ? 'the first run, ' : '';
    this.since.textContent = `since ${first}${fmtTime(s.sinceMs, nowMs)} · ${fmtAge(nowMs - s.sinceMs)}`;
  }

  get expanded(): boolean {
    return this.button.getAttribute('aria-expanded') === 'true';
  }

  private toggle(): void {
    const open = !this.expanded;
    this.button.setAttribute('aria-expanded', String(open));
    if (open && this.status) this.detail.show(this.status, Date.now());
    this.detail.el.hidden = !open;
  }

  private showNote(s: ProbeStatus): void {
    if (s.state === 'up') {
      this.note.hidden = true;
      this.note.replaceChildren();
      return;
    }
    this.note.hidden = false;
    const step = s.latest.step ? ` at ${s.latest.step}` : '';
    const what = s.state === 'degraded' ? 'degraded' : `${s.reason}${step}`;
    fill(this.note, h('span', { class: 'reason' }, what), s.latest.detail ? `: ${s.latest.detail}` : '');
  }
}

const BAR_W = 6;
const GAP = 2;
const MAX_BARS = 30;
const BAR_H = 26;

/** The last runs as bars of their duration (newest right), a shape under each run that was not up, and the same in words. */
function timeline(bars: TimelineBar[], nowMs: number): DocumentFragment {
  const frag = document.createDocumentFragment();
  if (bars.length === 0) return frag;
  const slowest = Math.max(...bars.map((b) => b[1]));
  const scale = Math.max(1, slowest);
  const width = MAX_BARS * (BAR_W + GAP);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${BAR_H + 8}`, 'aria-hidden': 'true', focusable: 'false' });
  bars.forEach(([at, ms, state], i) => {
    const x = width - (bars.length - i) * (BAR_W + GAP);
    const hgt = Math.max(2, (ms / scale) * BAR_H);
    chart.append(svg('rect', { class: `bar s-${state}`, x: String(x), y: String(BAR_H - hgt), width: String(BAR_W), height: String(hgt) }, svg('title', {}, `${fmtTime(at, nowMs)} · ${fmtMs(ms)} · ${state}`)));
    const marker = markerFor(state, x + BAR_W / 2, BAR_H + 4);
    if (marker) chart.append(marker);
  });
  frag.append(chart, h('span', { class: 'sr-only' }, timelineWords(bars, slowest)));
  return frag;
}

/** A shape per state, so a bar's state never rests on its colour: square down, diamond security, triangle degraded. */
function markerFor(state: ProbeState, cx: number, cy: number): SVGElement | undefined {
  const cls = `mark s-${state}`;
  if (state === 'down') return svg('rect', { class: cls, x: String(cx - 2.5), y: String(cy - 2.5), width: '5', height: '5' });
  if (state === 'security') return svg('polygon', { class: cls, points: `${cx},${cy - 4} ${cx + 3.5},${cy} ${cx},${cy + 4} ${cx - 3.5},${cy}` });
  if (state === 'degraded') return svg('polygon', { class: cls, points: `${cx},${cy - 3} ${cx + 3},${cy + 3} ${cx - 3},${cy + 3}` });
  return undefined;
}

function timelineWords(bars: TimelineBar[], slowest: number): string {
  const counts = new Map<ProbeState, number>();
  for (const b of bars) counts.set(b[2], (counts.get(b[2]) ?? 0) + 1);
  const parts = PROBE_STATES.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`);
  const sorted = bars.map((b) => b[1]).sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
  return `Last ${bars.length} runs: ${parts.join(', ')}; median ${fmtMs(median)}, slowest ${fmtMs(slowest)}.`;
}
