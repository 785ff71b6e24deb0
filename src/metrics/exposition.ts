/**
 * The text camprobe writes itself for a scrape, in the Prometheus text format (0.0.4) or
 * OpenMetrics 1.0: label escaping, histogram lines, the OpenMetrics family names, and
 * writing many series without holding the event loop. What the series are is the
 * caller's business (probe-series.ts); prom-client writes its own families.
 */
import { performance } from 'node:perf_hooks';

/** The metric types camprobe writes itself. */
export type FamilyType = 'gauge' | 'counter' | 'histogram';

/**
 * One metric family over a list of items (one item, any number of series). `text` is the
 * item's sample lines, each ending in a newline, or '' when it has none. Built by string
 * concatenation: V8 keeps such a string as a tree of its parts until it is written out,
 * so nothing is copied per line (docs/performance.md, change 8).
 */
export interface Family<T> {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  readonly text: (item: T) => string;
}

/**
 * Takes the next chunk of a scrape's text. A returned promise is awaited before the next
 * chunk is made: the consumer's backpressure, or the turn of the event loop it needs to
 * take the chunk on (zlib hands work back to the main thread between chunks).
 */
export type ChunkSink = (chunk: string) => Promise<void> | undefined;

/**
 * About how many characters a chunk holds. Large enough that the turns between chunks
 * stay few, small enough that zlib (on libuv's thread pool) compresses one chunk while
 * the next is made, and that no string of the whole scrape is ever built.
 */
export const CHUNK_CHARS = 64 * 1024;

/** What `histogramText` reads: per-bucket (not cumulative) counts, their sum and count. */
export interface HistogramCounts {
  readonly bounds: readonly number[];
  readonly counts: ArrayLike<number>;
  readonly sum: number;
  readonly count: number;
}

/** A histogram of one series set: per-bucket (not cumulative) counts, sum and count. */
export class Buckets implements HistogramCounts {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
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

/** `,le="…"} ` per bound of a histogram, and the `+Inf` one: made once per bounds array. */
const leLabels = new Map<readonly number[], readonly string[]>();

function leLabelsOf(bounds: readonly number[]): readonly string[] {
  let labels = leLabels.get(bounds);
  if (labels === undefined) leLabels.set(bounds, (labels = [...bounds.map((le) => `,le="${le}"} `), ',le="+Inf"} ']));
  return labels;
}

/** Cumulative buckets, `+Inf`, `_sum` and `_count`, as prom-client writes them. */
export function histogramText(name: string, labels: string, h: HistogramCounts): string {
  const le = leLabelsOf(h.bounds);
  const bucket = name + '_bucket{' + labels;
  let text = '';
  let cumulative = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    cumulative += h.counts[i] ?? 0;
    text += bucket + le[i] + cumulative + '\n';
  }
  return text + bucket + le[h.bounds.length] + h.count + '\n' + name + '_sum{' + labels + '} ' + h.sum + '\n' + name + '_count{' + labels + '} ' + h.count + '\n';
}

/**
 * The text of `families` over `items`, family after family, newline-terminated, handed to
 * `sink` in chunks of about CHUNK_CHARS. Every RENDER_SLICE_MS (or sooner, when the sink
 * asks for a turn) the event loop gets a turn, so a scrape of a thousand targets does not
 * hold back the timers of runs that are due. One item's lines of a family are written in
 * one go (a histogram's buckets agree with its count); different items, or one item in
 * different families, may be read a run apart, as with any scrape taken while runs finish.
 * Returns what is left over, less than a chunk, for the caller to send after its own text.
 */
export async function writeFamilies<T>(items: readonly T[], families: readonly Family<T>[], openMetrics: boolean, sink: ChunkSink): Promise<string> {
  let chunk = '';
  let sliceStart = performance.now();
  for (const family of families) {
    const head = familyName(family.name, family.type, openMetrics);
    chunk += '# HELP ' + head + ' ' + family.help + '\n# TYPE ' + head + ' ' + family.type + '\n';
    let sinceClock = 0;
    for (const item of items) {
      chunk += family.text(item);
      if (chunk.length >= CHUNK_CHARS) {
        const turn = sink(chunk);
        chunk = '';
        if (turn !== undefined) {
          await turn;
          sliceStart = performance.now();
          sinceClock = 0;
        }
      }
      if (++sinceClock === CLOCK_EVERY) {
        sinceClock = 0;
        if (performance.now() - sliceStart > RENDER_SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
    }
  }
  return chunk;
}
