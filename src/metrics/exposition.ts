/**
 * The text camprobe writes itself for a scrape, in the Prometheus text format (0.0.4) or
 * OpenMetrics 1.0: label escaping, histogram lines, the OpenMetrics family names, and
 * writing many series without holding the event loop. What the series are is the
 * caller's business (probe-series.ts); prom-client writes its own families.
 */
import { performance } from 'node:perf_hooks';
import { bytes, type TextWriter } from './text-writer.js';

/** The metric types camprobe writes itself. */
export type FamilyType = 'gauge' | 'counter' | 'histogram';

/** An item of a scrape with its label text (`target="…",probe="…"`) as bytes, encoded once per scrape. */
export interface Row<T> {
  readonly item: T;
  readonly labels: Uint8Array;
}

/**
 * One metric family over a list of items (one item, any number of series). `write` writes
 * the item's sample lines (none, when it has none).
 */
export interface Family<T> {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  readonly write: (row: Row<T>, w: TextWriter) => void;
}

/** What `writeHistogram` reads: per-bucket (not cumulative) counts, their sum and count. */
export interface HistogramCounts {
  readonly bounds: readonly number[];
  readonly counts: ArrayLike<number>;
  readonly sum: number;
  readonly count: number;
}

/** A histogram of one series set: per-bucket (not cumulative) counts, sum and count. */
export class Buckets implements HistogramCounts {
  /** A plain array of small integers: a typed array costs an object and a buffer more per histogram. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    const i = this.bounds.findIndex((b) => v <= b);
    if (i >= 0) this.counts[i] = (this.counts[i] ?? 0) + 1;
  }
}

/**
 * Longest stretch of writing between two turns of the event loop, in ms: short enough
 * that a run falling due during a scrape starts about on time, long enough that the turns
 * themselves (each runs whatever I/O is ready) stay few. docs/performance.md (change 5)
 * has the measurements behind the choice.
 */
export const RENDER_SLICE_MS = 5;

/** How many items are written between two looks at the clock; reading it costs too. */
const CLOCK_EVERY = 16;

/** Whether an Accept header asks for OpenMetrics (any q > 0). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** A label value as both text formats want it. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * The name in a family's HELP and TYPE lines. OpenMetrics names a counter family without
 * its `_total`, which stays on the samples; the Prometheus format keeps it everywhere.
 */
export function familyName(name: string, type: FamilyType, openMetrics: boolean): string {
  return type === 'counter' && openMetrics ? name.replace(/_total$/, '') : name;
}

/** `} `: the end of a sample's labels. */
export const CLOSE = bytes('} ');
/** No more labels. */
export const NO_LABELS = new Uint8Array(0);

/** The heads of a histogram family's lines, as bytes. */
export interface HistogramHeads {
  readonly bucket: Uint8Array;
  readonly sum: Uint8Array;
  readonly count: Uint8Array;
}

export function histogramHeads(name: string): HistogramHeads {
  return { bucket: bytes(`${name}_bucket{`), sum: bytes(`${name}_sum{`), count: bytes(`${name}_count{`) };
}

/** `,le="…"} ` per bound of a histogram, and the `+Inf` one: made once per bounds array. */
const leTails = new Map<readonly number[], readonly Uint8Array[]>();

function leTailsOf(bounds: readonly number[]): readonly Uint8Array[] {
  let tails = leTails.get(bounds);
  if (tails === undefined) leTails.set(bounds, (tails = [...bounds.map((le) => bytes(`,le="${le}"} `)), bytes(',le="+Inf"} ')]));
  return tails;
}

/**
 * Cumulative buckets, `+Inf`, `_sum` and `_count`, as prom-client writes them; `more` is
 * a label part after the item's (`,step="call"`) or NO_LABELS.
 */
export function writeHistogram(w: TextWriter, heads: HistogramHeads, labels: Uint8Array, more: Uint8Array, h: HistogramCounts): void {
  const le = leTailsOf(h.bounds);
  let cumulative = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    cumulative += h.counts[i] ?? 0;
    w.sample3(heads.bucket, labels, more, le[i]!, cumulative);
  }
  w.sample3(heads.bucket, labels, more, le[h.bounds.length]!, h.count);
  w.sample3(heads.sum, labels, more, CLOSE, h.sum);
  w.sample3(heads.count, labels, more, CLOSE, h.count);
}

/**
 * The text of `families` over `rows`, family after family, newline-terminated, into `w`
 * (which hands it on in chunks). Every RENDER_SLICE_MS (or sooner, when the sink asks for
 * a turn) the event loop gets a turn, so a scrape of a thousand targets does not hold back
 * the timers of runs that are due. One item's lines of a family are written in one go (a
 * histogram's buckets agree with its count); different items, or one item in different
 * families, may be read a run apart, as with any scrape taken while runs finish.
 */
export async function writeFamilies<T>(rows: readonly Row<T>[], families: readonly Family<T>[], openMetrics: boolean, w: TextWriter): Promise<void> {
  let sliceStart = performance.now();
  for (const family of families) {
    const head = familyName(family.name, family.type, openMetrics);
    w.text(`# HELP ${head} ${family.help}\n# TYPE ${head} ${family.type}\n`);
    let sinceClock = 0;
    for (const row of rows) {
      family.write(row, w);
      const turn = w.flushIfFull();
      if (turn !== undefined) {
        await turn;
        sliceStart = performance.now();
        sinceClock = 0;
      } else if (++sinceClock === CLOCK_EVERY) {
        sinceClock = 0;
        if (performance.now() - sliceStart > RENDER_SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
    }
  }
}
