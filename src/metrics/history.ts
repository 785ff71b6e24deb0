/**
 * The last runs of every (target, probe), kept in memory so "why did it fail at 03:12?"
 * has an answer without raising the log level. Bounded: fixed-size rings per key, and
 * the number of keys is bounded by the configuration.
 */
import type { RunRecord, StepName, StepRecord } from '../core/outcome.js';

/** Which runs `RunHistory.list` returns; every field narrows the list. */
export interface RunFilter {
  target?: string;
  probe?: string;
  failedOnly?: boolean;
  /** At most this many runs; capped at `runs + failures`. */
  limit?: number;
}

/**
 * A run and its arrival order, to order runs that started in the same millisecond. The
 * steps are kept as one line of text (`connect 0.31 0.673 1|upgrade …`): as objects they
 * were half of a kept run's memory (an array, an object and two boxed numbers a step),
 * and a thousand targets keep twenty thousand runs (docs/performance.md, the fleet).
 */
interface Entry {
  seq: number;
  run: Omit<RunRecord, 'steps'>;
  steps: string;
}

/** Fixed-capacity ring: pushing into a full ring overwrites the oldest item. */
class Ring<T> {
  private readonly items: Array<T | undefined>;
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    if (this.capacity === 0) return;
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  newest(): T | undefined {
    return this.size === 0 ? undefined : this.items[(this.next - 1 + this.capacity) % this.capacity];
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) {
      out.push(this.items[(this.next - this.size + i + this.capacity) % this.capacity] as T);
    }
    return out;
  }
}

interface Slot {
  target: string;
  probe: string;
  recent: Ring<Entry>;
  /** Failed runs again, so they outlive a burst of successes that fills `recent`. */
  failures: Ring<Entry>;
}

/** The recent runs of every (target, probe), as `/api/runs` shows them. */
export class RunHistory {
  private readonly runs: number;
  private readonly failures: number;
  private readonly slots = new Map<string, Slot>();
  private seq = 0;

  /** Per (target, probe): the last `runs` runs, plus the last `failures` failed runs besides. */
  constructor(opts: { runs: number; failures: number }) {
    for (const [k, v] of Object.entries(opts)) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`history ${k} must be a non-negative integer, got ${v}`);
    }
    this.runs = opts.runs;
    this.failures = opts.failures;
  }

  /** Keeps a finished run, dropping the oldest of its (target, probe) when the ring is full. */
  add(run: RunRecord): void {
    const key = slotKey(run.target, run.probe);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = { target: run.target, probe: run.probe, recent: new Ring(this.runs), failures: new Ring(this.failures) };
      this.slots.set(key, slot);
    }
    const { steps, ...rest } = run;
    const entry: Entry = { seq: this.seq++, run: rest, steps: packSteps(steps) };
    slot.recent.push(entry);
    if (run.result === 'failure') slot.failures.push(entry);
  }

  /** Forgets a (target, probe) that is no longer configured. */
  remove(target: string, probe: string): void {
    this.slots.delete(slotKey(target, probe));
  }

  /** Newest first (by start time, then arrival), recent and kept failures merged without duplicates. */
  list(filter: RunFilter = {}): RunRecord[] {
    const cap = this.runs + this.failures;
    const limit = Math.min(filter.limit ?? cap, cap);
    const entries = new Map<number, Entry>();
    for (const slot of this.slots.values()) {
      if (filter.target !== undefined && slot.target !== filter.target) continue;
      if (filter.probe !== undefined && slot.probe !== filter.probe) continue;
      for (const e of [...slot.recent.toArray(), ...slot.failures.toArray()]) {
        if (!filter.failedOnly || e.run.result === 'failure') entries.set(e.seq, e);
      }
    }
    return [...entries.values()]
      .sort((a, b) => b.run.startedAtMs - a.run.startedAtMs || b.seq - a.seq)
      .slice(0, Math.max(0, limit))
      .map(unpack);
  }

  /** The last run recorded of each (target, probe), ordered by target then probe. */
  latest(): RunRecord[] {
    const out: RunRecord[] = [];
    for (const slot of this.slots.values()) {
      const last = slot.recent.newest() ?? slot.failures.newest();
      if (last !== undefined) out.push(unpack(last));
    }
    return out.sort((a, b) => compare(a.target, b.target) || compare(a.probe, b.probe));
  }
}

/** Steps as text; names have no spaces or bars (they are from the fixed STEPS list). */
function packSteps(steps: readonly StepRecord[]): string {
  return steps.map((s) => `${s.step} ${s.startMs} ${s.durationMs} ${s.ok ? 1 : 0}`).join('|');
}

function unpack(e: Entry): RunRecord {
  const steps = e.steps === ''
    ? []
    : e.steps.split('|').map((text): StepRecord => {
        const [step = '', startMs = '', durationMs = '', ok = ''] = text.split(' ');
        return { step: step as StepName, startMs: Number(startMs), durationMs: Number(durationMs), ok: ok === '1' };
      });
  return { ...e.run, steps };
}

function slotKey(target: string, probe: string): string {
  return `${target}\0${probe}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
