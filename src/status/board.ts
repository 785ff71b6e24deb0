/**
 * The status page's state, fed by the daemon's run sink: per (target, probe) its state,
 * since when, the last runs as a timeline, the last failure and the access matrix. An
 * entry is serialized when `/api/status` first asks for it after a change and kept until
 * the next: a run costs no JSON, an unwatched daemon keeps none, and a watched one
 * serializes only the entries that changed between two polls.
 */
import { randomBytes } from 'node:crypto';
import type { RunRecord } from '../core/outcome.js';
import { stateOf } from './client/state.js';
import type { ProbeState, ProbeStatus, RunBrief, StatusResponse, TimelineBar } from './wire.js';

export { PROBE_STATES, stateOf } from './client/state.js';
export type { ProbeState, ProbeStatus, StatusResponse } from './wire.js';

/** Bars in a timeline at most: the page shows a glance, /api/runs the rest. */
export const MAX_TIMELINE = 30;
/** Bars in a timeline unless the board is told otherwise. */
export const DEFAULT_TIMELINE = 20;

/** Run record fields the page has a view for; any other is passed on as `extra`. */
const KNOWN_FIELDS = new Set([
  'target', 'probe', 'type', 'startedAt', 'startedAtMs', 'scheduledAtMs', 'durationMs', 'result',
  'reason', 'step', 'detail', 'steps', 'degraded', 'values', 'access',
]);

interface Slot {
  /** The entry but its timeline, which is kept as text in `bars`. */
  status: Omit<ProbeStatus, 'timeline'>;
  /**
   * Each bar of the timeline as its JSON text, oldest first, made once when its run
   * arrives: turning durations into text was most of the work of the entry's JSON, and
   * text is smaller than arrays of boxed numbers (a thousand targets keep 80,000 bars).
   */
  bars: string[];
  /** `status` as JSON, made when `/api/status` is next asked for after a change. */
  json: string | undefined;
}

/** A JSON body and the validator that names it. */
export interface StatusSnapshot {
  body: string;
  etag: string;
}

/** Every (target, probe) that has run, as the status page shows it. */
export class StatusBoard {
  private readonly slots = new Map<string, Slot>();
  private readonly timelineLength: number;
  private readonly counts: Record<ProbeState, number> = { security: 0, down: 0, degraded: 0, up: 0 };
  /** Tells this process's revisions from another's, so a validator never matches across a restart. */
  private readonly boot = randomBytes(6).toString('hex');
  private revision = 0;
  private ordered: Slot[] | undefined;
  private joined: { revision: number; text: string } | undefined;

  /** `runs`: timeline length per (target, probe) (default DEFAULT_TIMELINE, at most MAX_TIMELINE). */
  constructor(opts: { runs?: number } = {}) {
    this.timelineLength = Math.max(1, Math.min(MAX_TIMELINE, opts.runs ?? DEFAULT_TIMELINE));
  }

  /** Takes in a finished run: its entry's state, since and timeline are updated now, its JSON when next asked for. */
  record(run: RunRecord): void {
    const key = slotKey(run.target, run.probe);
    const slot = this.slots.get(key);
    const state = stateOf(run);
    const end = run.startedAtMs + run.durationMs;
    this.revision++;
    if (slot === undefined) {
      const status: Slot['status'] = { target: run.target, probe: run.probe, type: run.type, state, reason: run.reason, sinceMs: end, sinceFirstRun: true, rev: this.revision, latest: brief(run) };
      this.slots.set(key, { status, bars: [], json: undefined });
      this.ordered = undefined;
      this.counts[state]++;
    } else {
      const s = slot.status;
      if (s.state !== state) {
        this.counts[s.state]--;
        this.counts[state]++;
        s.state = state;
        s.sinceMs = end;
        delete s.sinceFirstRun;
      }
      s.type = run.type;
      s.reason = run.reason;
      s.rev = this.revision;
      s.latest = brief(run);
    }
    this.update(this.slots.get(key)!, run, state);
  }

  /** Drops a (target, probe) that is no longer configured. */
  forget(target: string, probe: string): void {
    const key = slotKey(target, probe);
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.slots.delete(key);
    this.counts[slot.status.state]--;
    this.ordered = undefined;
    this.revision++;
  }

  /** The validator of what `snapshot` would answer now. */
  etag(): string {
    return `W/"${this.boot}-${this.revision}"`;
  }

  /** `GET /api/status`: the entries' JSON joined (once per revision), the clock and counts around it. */
  snapshot(nowMs = Date.now()): StatusSnapshot {
    if (this.joined?.revision !== this.revision) {
      this.ordered ??= [...this.slots.values()].sort((a, b) => compare(a.status.target, b.status.target) || compare(a.status.probe, b.status.probe));
      this.joined = { revision: this.revision, text: this.ordered.map(entryJson).join(',') };
    }
    const head: Omit<StatusResponse, 'probes'> = { generatedAtMs: nowMs, revision: `${this.boot}-${this.revision}`, counts: this.counts };
    const body = `${JSON.stringify(head).slice(0, -1)},"probes":[${this.joined.text}]}`;
    return { body, etag: this.etag() };
  }

  /** The entry of one (target, probe), for tests and tools. */
  get(target: string, probe: string): ProbeStatus | undefined {
    const slot = this.slots.get(slotKey(target, probe));
    return slot && { ...slot.status, timeline: slot.bars.map((b) => JSON.parse(b) as TimelineBar) };
  }

  private update(slot: Slot, run: RunRecord, state: ProbeState): void {
    const s = slot.status;
    const bar: TimelineBar = [run.startedAtMs, run.durationMs, state];
    slot.bars.push(JSON.stringify(bar));
    if (slot.bars.length > this.timelineLength) slot.bars.splice(0, slot.bars.length - this.timelineLength);
    if (run.result === 'failure') s.lastFailure = s.latest;
    if (run.access !== undefined) {
      s.access = run.access;
      s.accessAtMs = run.startedAtMs;
    }
    slot.json = undefined;
  }
}

/**
 * A slot's JSON, made now if a run changed it since the last `/api/status`: nobody reads
 * it until then, and most daemons are not watched most of the time. The bars' text is
 * added as the last field.
 */
function entryJson(slot: Slot): string {
  return (slot.json ??= `${JSON.stringify(slot.status).slice(0, -1)},"timeline":[${slot.bars.join(',')}]}`);
}

/** The run without its steps, the fields the page knows by name and any others as `extra`. */
function brief(run: RunRecord): RunBrief {
  const b: RunBrief = { startedAtMs: run.startedAtMs, durationMs: run.durationMs, result: run.result, reason: run.reason };
  if (run.step !== undefined) b.step = run.step;
  if (run.detail !== undefined) b.detail = run.detail;
  if (run.degraded) b.degraded = true;
  if (run.values !== undefined) b.values = run.values;
  // for…in rather than Object.entries: no array of pairs for every run (a RunRecord is a plain object).
  for (const k in run) {
    const v = (run as unknown as Record<string, unknown>)[k];
    if (KNOWN_FIELDS.has(k) || v === undefined) continue;
    (b.extra ??= {})[k] = v;
  }
  return b;
}

function slotKey(target: string, probe: string): string {
  return `${target}\0${probe}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
