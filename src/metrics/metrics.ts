/**
 * Every metric camprobe exports. The runner reports finished runs here; probes never
 * touch this module (they report values through their context).
 *
 * Which series exist when matters for alerting:
 * - From `addProbe` on, at 0: `camprobe_probe_success`, `camprobe_probe_duration_seconds`,
 *   every valid `(result, reason)` of `camprobe_probe_runs_total`,
 *   `camprobe_probe_skipped_total`, `camprobe_probe_degraded` and
 *   `camprobe_probe_degraded_runs_total` (and `camprobe_probe_info`, at 1, when the type
 *   is given). A counter that appears only with its first
 *   increment hides that increment from `rate()`/`increase()`, and a probe whose series
 *   are all missing cannot be told from a probe that was never configured.
 * - `camprobe_probe_success` is therefore 0 before the first run. That is not a failure:
 *   failure alerts should also require a run, e.g.
 *   `camprobe_probe_success == 0 and on(target, probe) camprobe_probe_last_run_timestamp_seconds`,
 *   or use `increase(camprobe_probe_runs_total{result="failure"}[5m]) > 0`.
 * - With the first run / first success: `camprobe_probe_last_run_timestamp_seconds` and
 *   `camprobe_probe_last_success_timestamp_seconds`. A 0 there would read as 1970 and
 *   fire every `time() - x > threshold` staleness alert at start-up; absent instead
 *   means "not yet", which `absent()` or the success gauge can cover.
 * - Step series (`camprobe_probe_step_duration_seconds` for the steps in
 *   HISTOGRAM_STEPS, `camprobe_probe_step_last_duration_seconds` for every step) and
 *   `camprobe_<value>{target}` gauges appear when a run reports them: only steps a
 *   probe really runs get series, and a value that was never measured must not read as
 *   0 (0 cameras connected is an alarm, not a default).
 * - Series budget: at most 52 per probe (32 at start-up, 2 timestamps, 10 for the
 *   `call` histogram, one per step), so a target with the three default probes stays
 *   under 150 (issue 6; docs/performance.md has the count `npm run bench` measures).
 */
import type { Registry, OpenMetricsContentType } from 'prom-client';
import { REASONS } from '../core/outcome.js';
import type { RunRecord, StepName } from '../core/outcome.js';
import { escapeLabel, histogramLines, wantsOpenMetrics, writeFamilies } from './exposition.js';
import type { Family, HistogramCounts } from './exposition.js';
import { ClientFamilies, checkValueName } from './client-families.js';

/** What ProbeMetrics is built from. */
export interface MetricsOptions {
  version: string;
  commit: string;
  /** Added as the label `location` to every series, to tell probing vantage points apart. */
  location?: string;
  /** Collect process and Node.js metrics (standard names, no prefix). Default true. */
  collectDefault?: boolean;
}

/** One (target, probe) as the daemon declares it to ProbeMetrics. */
export interface ProbeSeries {
  target: string;
  probe: string;
  /** Values the probe may report: name → help text, exported as `camprobe_<name>{target}`. */
  values?: Readonly<Record<string, string>>;
  /** The probe type, exported in `camprobe_probe_info` so alerts can match on it. */
  type?: string;
}

/**
 * Run durations, around the documented 50 ms / 100 ms targets and up to the timeouts.
 * Every bucket is a series per probe: 8 buckets are 11 series with `_sum` and `_count`.
 */
const RUN_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 10];
/** The `call` step, around the 50 ms latency objective (the SLO rules read le="0.05"). */
const STEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/**
 * Steps that get a duration histogram: `call`, the status call the latency SLO is about.
 * Every other step only exports the duration of its last run (one series each), which is
 * enough to see which step is slow and keeps a target within its series budget (see
 * the module comment).
 */
export const HISTOGRAM_STEPS: ReadonlySet<StepName> = new Set<StepName>(['call']);
const MAX_LABEL_LENGTH = 64;

/** Every `(result, reason)` pair a run can produce; pre-created so `rate()` sees the first one. */
const RESULT_REASONS: ReadonlyArray<{ result: 'success' | 'failure'; reason: string }> = REASONS.map(
  (reason) => ({ result: reason === 'ok' ? 'success' : 'failure', reason }),
);

function checkLabel(kind: string, value: string): void {
  if (value.length === 0 || value.length > MAX_LABEL_LENGTH) {
    throw new RangeError(`${kind} name must be 1 to ${MAX_LABEL_LENGTH} characters, got ${value.length}`);
  }
}

/** A histogram of one series set: per-bucket (not cumulative) counts, sum and count. */
class Buckets implements HistogramCounts {
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

/** Everything exported for one (target, probe), with its label text escaped once. */
interface ProbeState {
  /** `target="…",probe="…"` plus `,location="…"` when set. */
  labels: string;
  /** `type="…"` for camprobe_probe_info, when the type was given. */
  typeLabel: string | undefined;
  success: number;
  /** 1 when the last run succeeded but missed its degraded_after objective. */
  degraded: number;
  degradedRuns: number;
  /** Indexed like RESULT_REASONS. */
  runs: Float64Array;
  skipped: number;
  lastRun: number | undefined;
  lastSuccess: number | undefined;
  duration: Buckets;
  stepHistograms: Map<StepName, Buckets>;
  /** Step → its duration in the last run that had it (the slowest occurrence there). */
  stepLast: Map<StepName, number>;
}

const REASON_INDEX = new Map(RESULT_REASONS.map((rr, i) => [rr.reason, i]));

/** The per-probe families, in the order a scrape shows them. */
const FAMILIES: ReadonlyArray<Family<ProbeState>> = [
  {
    name: 'camprobe_probe_success',
    type: 'gauge',
    help: 'Whether the last finished run succeeded (1) or failed (0); 0 before the first run.',
    lines: (p, out) => {
      out.push(`camprobe_probe_success{${p.labels}} ${p.success}`);
    },
  },
  {
    name: 'camprobe_probe_duration_seconds',
    type: 'histogram',
    help: 'Duration of probe runs, successful or not, in seconds.',
    lines: (p, out) => histogramLines(out, 'camprobe_probe_duration_seconds', p.labels, p.duration),
  },
  {
    name: 'camprobe_probe_step_duration_seconds',
    type: 'histogram',
    help: `Duration of the steps ${[...HISTOGRAM_STEPS].join(', ')} of probe runs, in seconds.`,
    lines: (p, out) => {
      for (const [step, h] of p.stepHistograms) histogramLines(out, 'camprobe_probe_step_duration_seconds', `${p.labels},step="${step}"`, h);
    },
  },
  {
    name: 'camprobe_probe_step_last_duration_seconds',
    type: 'gauge',
    help: 'Duration of each step in the last run that had it (its slowest occurrence there), in seconds.',
    lines: (p, out) => {
      for (const [step, v] of p.stepLast) out.push(`camprobe_probe_step_last_duration_seconds{${p.labels},step="${step}"} ${v}`);
    },
  },
  {
    name: 'camprobe_probe_runs_total',
    type: 'counter',
    help: 'Finished probe runs by result and reason.',
    lines: (p, out) => {
      RESULT_REASONS.forEach((rr, i) => out.push(`camprobe_probe_runs_total{${p.labels},result="${rr.result}",reason="${rr.reason}"} ${p.runs[i]}`));
    },
  },
  {
    name: 'camprobe_probe_degraded',
    type: 'gauge',
    help: 'Whether the last finished run succeeded but missed its degraded_after latency objective (1); 0 otherwise.',
    lines: (p, out) => {
      out.push(`camprobe_probe_degraded{${p.labels}} ${p.degraded}`);
    },
  },
  {
    name: 'camprobe_probe_degraded_runs_total',
    type: 'counter',
    help: 'Successful runs that missed their degraded_after latency objective (also counted as successes in camprobe_probe_runs_total).',
    lines: (p, out) => {
      out.push(`camprobe_probe_degraded_runs_total{${p.labels}} ${p.degradedRuns}`);
    },
  },
  {
    name: 'camprobe_probe_info',
    type: 'gauge',
    help: 'The type of each configured probe; always 1.',
    lines: (p, out) => {
      if (p.typeLabel !== undefined) out.push(`camprobe_probe_info{${p.labels},${p.typeLabel}} 1`);
    },
  },
  {
    name: 'camprobe_probe_skipped_total',
    type: 'counter',
    help: 'Runs skipped because the previous run of the probe was still going.',
    lines: (p, out) => {
      out.push(`camprobe_probe_skipped_total{${p.labels}} ${p.skipped}`);
    },
  },
  {
    name: 'camprobe_probe_last_run_timestamp_seconds',
    type: 'gauge',
    help: 'When the last run ended, seconds since the epoch; absent before the first run.',
    lines: (p, out) => {
      if (p.lastRun !== undefined) out.push(`camprobe_probe_last_run_timestamp_seconds{${p.labels}} ${p.lastRun}`);
    },
  },
  {
    name: 'camprobe_probe_last_success_timestamp_seconds',
    type: 'gauge',
    help: 'When the last successful run ended, seconds since the epoch; absent before the first success.',
    lines: (p, out) => {
      if (p.lastSuccess !== undefined) out.push(`camprobe_probe_last_success_timestamp_seconds{${p.labels}} ${p.lastSuccess}`);
    },
  },
];

/**
 * All camprobe metrics. The per-probe families (thousands of series with a thousand
 * targets) are kept in plain arrays and rendered here: prom-client allocates objects for
 * every series on every scrape, and at that scale most of a render went to collecting
 * them (docs/performance.md, change 1). prom-client still renders the rest
 * (client-families.ts).
 */
export class ProbeMetrics {
  private readonly client: ClientFamilies;
  /** `target\0probe` → its series, in the order probes were added. */
  private readonly probes = new Map<string, ProbeState>();
  private readonly locationLabel: string;

  /** Throws a RangeError on a location label of more than 64 characters. */
  constructor(opts: MetricsOptions) {
    // Checked before prom-client's collectors start, so a refused label leaves none behind.
    if (opts.location !== undefined) checkLabel('location', opts.location);
    this.client = new ClientFamilies(opts);
    this.locationLabel = opts.location === undefined ? '' : `,location="${escapeLabel(opts.location)}"`;
  }

  /** Renders the Prometheus text format (0.0.4) of the families prom-client owns. */
  get registry(): Registry {
    return this.client.registry;
  }

  /** Same families, rendered as OpenMetrics 1.0. */
  get openMetricsRegistry(): Registry<OpenMetricsContentType> {
    return this.client.openMetricsRegistry;
  }

  /** Which shard this replica is and how many targets it owns (set at start, again on reload). */
  setShard(shard: { index: number; total: number }, ownedTargets: number): void {
    this.client.setShard(shard, ownedTargets);
  }

  /** Records a configuration load at start or on reload; a refused one keeps the old timestamp. */
  recordConfigLoad(ok: boolean, atMs: number = Date.now()): void {
    this.client.recordConfigLoad(ok, atMs);
  }

  /**
   * Creates every series of a (target, probe) that must exist from start-up (see the
   * module comment). Idempotent. Throws a RangeError on a name longer than 64 characters
   * or an invalid value name.
   */
  addProbe(s: ProbeSeries): void {
    checkLabel('target', s.target);
    checkLabel('probe', s.probe);
    const values = s.values ?? {};
    for (const name of Object.keys(values)) checkValueName(name);
    if (s.type !== undefined) checkLabel('type', s.type);
    const key = probeKey(s.target, s.probe);
    if (this.probes.has(key)) return;
    this.probes.set(key, {
      labels: `target="${escapeLabel(s.target)}",probe="${escapeLabel(s.probe)}"${this.locationLabel}`,
      typeLabel: s.type === undefined ? undefined : `type="${escapeLabel(s.type)}"`,
      success: 0,
      degraded: 0,
      degradedRuns: 0,
      runs: new Float64Array(RESULT_REASONS.length),
      skipped: 0,
      lastRun: undefined,
      lastSuccess: undefined,
      duration: new Buckets(RUN_BUCKETS),
      stepHistograms: new Map(),
      stepLast: new Map(),
    });
    this.client.declareValues(s.target, s.probe, values);
  }

  /**
   * Removes every series of a (target, probe). A value gauge is per target: its series
   * goes only when no other probe of the target declares that value.
   */
  removeProbe(target: string, probe: string): void {
    if (this.probes.delete(probeKey(target, probe))) this.client.withdrawValues(target, probe);
  }

  /**
   * Records a finished run. Runs of a (target, probe) not added (or already removed,
   * e.g. a run that was in flight during a reload) are ignored, so they cannot bring
   * back series of a probe that is gone. Values the probe did not declare are ignored.
   */
  recordRun(run: RunRecord): void {
    const state = this.probes.get(probeKey(run.target, run.probe));
    if (state === undefined) return;

    const endSeconds = (run.startedAtMs + run.durationMs) / 1000;
    const ok = run.result === 'success';
    state.success = ok ? 1 : 0;
    state.degraded = ok && run.degraded ? 1 : 0;
    if (ok && run.degraded) state.degradedRuns++;
    state.duration.observe(run.durationMs / 1000);
    const i = REASON_INDEX.get(run.reason);
    if (i !== undefined) state.runs[i]! += 1;
    state.lastRun = endSeconds;
    if (ok) state.lastSuccess = endSeconds;

    const seen = new Set<StepName>();
    for (const s of run.steps) {
      const seconds = s.durationMs / 1000;
      if (HISTOGRAM_STEPS.has(s.step)) {
        let h = state.stepHistograms.get(s.step);
        if (h === undefined) state.stepHistograms.set(s.step, (h = new Buckets(STEP_BUCKETS)));
        h.observe(seconds);
      }
      const last = state.stepLast.get(s.step);
      state.stepLast.set(s.step, seen.has(s.step) && last !== undefined ? Math.max(last, seconds) : seconds);
      seen.add(s.step);
    }

    for (const [name, value] of Object.entries(run.values ?? {})) this.client.setValue(run.target, run.probe, name, value);
  }

  /** Counts a run skipped because the previous one was still running. */
  recordSkip(target: string, probe: string): void {
    const state = this.probes.get(probeKey(target, probe));
    if (state) state.skipped++;
  }

  /**
   * Text for a scrape: OpenMetrics when `accept` (the request's Accept header) asks for
   * `application/openmetrics-text`, the Prometheus text format otherwise.
   */
  async render(accept?: string): Promise<{ body: string; contentType: string }> {
    const openMetrics = wantsOpenMetrics(accept);
    const registry = this.client.registryFor(openMetrics);
    const own = await this.renderProbes(openMetrics);
    return { body: own + (await registry.metrics()), contentType: registry.contentType };
  }

  /** The per-probe families (see writeFamilies for the event-loop turns it takes). */
  private renderProbes(openMetrics: boolean): Promise<string> {
    return writeFamilies([...this.probes.values()], FAMILIES, openMetrics);
  }
}

function probeKey(target: string, probe: string): string {
  return `${target}\0${probe}`;
}
