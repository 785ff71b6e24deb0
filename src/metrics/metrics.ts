/**
 * Every metric camprobe exports. The runner reports finished runs here; probes never
 * touch this module (they report values through their context).
 *
 * Which series exist when matters for alerting:
 * - From `addProbe` on, at 0: `camprobe_probe_success`, `camprobe_probe_duration_seconds`,
 *   every valid `(result, reason)` of `camprobe_probe_runs_total`,
 *   `camprobe_probe_skipped_total`, `camprobe_probe_degraded` and
 *   `camprobe_probe_degraded_runs_total` (and `camprobe_probe_info`, at 1, when the type is given). A counter that appears only with its first
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
 * - Step histograms and `camprobe_<value>{target}` gauges appear when a run reports
 *   them: only steps a probe really runs get series, and a value that was never
 *   measured must not read as 0 (0 cameras connected is an alarm, not a default).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metric, OpenMetricsContentType } from 'prom-client';
import { REASONS, STEPS } from '../probes/types.js';
import type { RunRecord } from '../probes/types.js';

export interface MetricsOptions {
  version: string;
  commit: string;
  /** Added as the label `location` to every series, to tell probing vantage points apart. */
  location?: string;
  /** Collect process and Node.js metrics (standard names, no prefix). Default true. */
  collectDefault?: boolean;
}

export interface ProbeSeries {
  target: string;
  probe: string;
  /** Values the probe may report: name → help text, exported as `camprobe_<name>{target}`. */
  values?: Readonly<Record<string, string>>;
  /** The probe type, exported in `camprobe_probe_info` so alerts can match on it. */
  type?: string;
}

/** Buckets around the documented 50 ms / 100 ms latency targets. */
const RUN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Fewer buckets than runs: there are up to |STEPS| step series per probe. */
const STEP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];
const MAX_LABEL_LENGTH = 64;
const LINTED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
const VALUE_NAME = /^[a-z][a-z0-9_]*$/;
/** Value gauges share the `camprobe_` namespace with the built-in metrics. */
const RESERVED_VALUE_PREFIXES = ['probe_', 'build_'];

/** Every `(result, reason)` pair a run can produce; pre-created so `rate()` sees the first one. */
const RESULT_REASONS: ReadonlyArray<{ result: 'success' | 'failure'; reason: string }> = REASONS.map(
  (reason) => ({ result: reason === 'ok' ? 'success' : 'failure', reason }),
);

type PairLabels = { target: string; probe: string };

/**
 * prom-client's OpenMetrics registry strips `_total` from a counter's `name` in place
 * while rendering (lib/registry.js `metrics()`), so a counter shared with the Prometheus
 * registry loses its suffix there after the first OpenMetrics scrape (see
 * prometheus/client_js#829). This registry renders the same families without mutating
 * them, through prom-client's per-family renderer.
 */
class OpenMetricsRegistry extends Registry<OpenMetricsContentType> {
  constructor() {
    super();
    this.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    if (typeof (this as unknown as FamilyRenderer).getMetricsAsString !== 'function') {
      throw new Error('prom-client has no Registry#getMetricsAsString: update OpenMetricsRegistry');
    }
  }

  override async metrics(): Promise<string> {
    const renderer = this as unknown as FamilyRenderer;
    const families = await Promise.all(
      this.getMetricsAsArray().map((m) => {
        const metric = m as unknown as Metric;
        return renderer.getMetricsAsString((m.type as unknown) === 'counter' ? counterFamily(metric) : metric);
      }),
    );
    return `${families.join('\n')}\n# EOF\n`;
  }
}

/**
 * The untyped prom-client internal that renders one metric family. (Its typings also
 * declare `MetricType` as a numeric enum while the runtime value is the string
 * 'counter', hence the cast where it is compared.)
 */
interface FamilyRenderer {
  getMetricsAsString(metric: Pick<Metric, 'get'>): Promise<string>;
}

/** A read-only view of a counter named as OpenMetrics wants (samples get `_total` back). */
function counterFamily(metric: Metric): Pick<Metric, 'get'> {
  return {
    get: async () => {
      const family = await metric.get();
      return { ...family, name: family.name.replace(/_total$/, '') };
    },
  } as Pick<Metric, 'get'>;
}

function checkLabel(kind: string, value: string): void {
  if (value.length === 0 || value.length > MAX_LABEL_LENGTH) {
    throw new RangeError(`${kind} name must be 1 to ${MAX_LABEL_LENGTH} characters, got ${value.length}`);
  }
}

/** Whether an Accept header asks for OpenMetrics (any q > 0). */
function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

interface ValueGauge {
  gauge: Gauge<'target'>;
  /** target → probes declaring this value there; the series goes when the last one does. */
  declaredBy: Map<string, Set<string>>;
}

/** All camprobe metrics, registered in a Prometheus and an OpenMetrics registry. */
export class ProbeMetrics {
  /** Renders the Prometheus text format (0.0.4). */
  readonly registry: Registry;
  /** Same metrics, rendered as OpenMetrics 1.0. */
  readonly openMetricsRegistry: Registry<OpenMetricsContentType>;

  private readonly success: Gauge<'target' | 'probe'>;
  private readonly duration: Histogram<'target' | 'probe'>;
  private readonly stepDuration: Histogram<'target' | 'probe' | 'step'>;
  private readonly runs: Counter<'target' | 'probe' | 'result' | 'reason'>;
  private readonly skipped: Counter<'target' | 'probe'>;
  private readonly lastRun: Gauge<'target' | 'probe'>;
  private readonly lastSuccess: Gauge<'target' | 'probe'>;
  private readonly reloadOk: Gauge;
  private readonly reloadAt: Gauge;
  private readonly shardInfo: Gauge<'index' | 'total'>;
  private readonly shardTargets: Gauge;
  private readonly degraded: Gauge<'target' | 'probe'>;
  private readonly degradedRuns: Counter<'target' | 'probe'>;
  private readonly info: Gauge<'target' | 'probe' | 'type'>;
  private readonly valueGauges = new Map<string, ValueGauge>();
  /** `target\0probe` → value names the probe declared, and its type. */
  private readonly probes = new Map<string, { values: readonly string[]; type: string | undefined }>();

  constructor(opts: MetricsOptions) {
    this.registry = new Registry();
    this.openMetricsRegistry = new OpenMetricsRegistry();
    const registers = [this.registry, this.openMetricsRegistry];

    if (opts.collectDefault ?? true) {
      // One set of collectors shared by both registries: a second call would start a
      // second event-loop monitor and GC observer for the same numbers.
      collectDefaultMetrics({ register: this.registry });
      // prom-client also exports these as gauges named *_total, which promtool flags
      // (a _total suffix promises a counter). The same numbers remain, by type, in
      // nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
      for (const name of LINTED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
      for (const m of this.registry.getMetricsAsArray()) {
        this.openMetricsRegistry.registerMetric(m as unknown as Metric);
      }
    }
    if (opts.location !== undefined) {
      checkLabel('location', opts.location);
      for (const r of registers) r.setDefaultLabels({ location: opts.location });
    }

    const pair = ['target', 'probe'] as const;
    this.success = new Gauge({
      name: 'camprobe_probe_success',
      help: 'Whether the last finished run succeeded (1) or failed (0); 0 before the first run.',
      labelNames: pair,
      registers,
    });
    this.duration = new Histogram({
      name: 'camprobe_probe_duration_seconds',
      help: 'Duration of probe runs, successful or not, in seconds.',
      labelNames: pair,
      buckets: RUN_BUCKETS,
      registers,
    });
    this.stepDuration = new Histogram({
      name: 'camprobe_probe_step_duration_seconds',
      help: 'Duration of each step of probe runs, in seconds.',
      labelNames: [...pair, 'step'],
      buckets: STEP_BUCKETS,
      registers,
    });
    this.runs = new Counter({
      name: 'camprobe_probe_runs_total',
      help: 'Finished probe runs by result and reason.',
      labelNames: [...pair, 'result', 'reason'],
      registers,
    });
    this.skipped = new Counter({
      name: 'camprobe_probe_skipped_total',
      help: 'Runs skipped because the previous run of the probe was still going.',
      labelNames: pair,
      registers,
    });
    this.lastRun = new Gauge({
      name: 'camprobe_probe_last_run_timestamp_seconds',
      help: 'When the last run ended, seconds since the epoch; absent before the first run.',
      labelNames: pair,
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'camprobe_probe_last_success_timestamp_seconds',
      help: 'When the last successful run ended, seconds since the epoch; absent before the first success.',
      labelNames: pair,
      registers,
    });
    this.reloadOk = new Gauge({
      name: 'camprobe_config_last_reload_successful',
      help: 'Whether the last configuration (re)load succeeded (1) or was refused (0).',
      registers,
    });
    this.reloadAt = new Gauge({
      name: 'camprobe_config_last_reload_success_timestamp_seconds',
      help: 'When the configuration was last loaded successfully, seconds since the epoch.',
      registers,
    });
    this.degraded = new Gauge({
      name: 'camprobe_probe_degraded',
      help: 'Whether the last finished run succeeded but missed its degraded_after latency objective (1); 0 otherwise.',
      labelNames: pair,
      registers,
    });
    this.degradedRuns = new Counter({
      name: 'camprobe_probe_degraded_runs_total',
      help: 'Successful runs that missed their degraded_after latency objective (also counted as successes in camprobe_probe_runs_total).',
      labelNames: pair,
      registers,
    });
    this.info = new Gauge({
      name: 'camprobe_probe_info',
      help: 'The type of each configured probe; always 1.',
      labelNames: [...pair, 'type'],
      registers,
    });
    new Gauge({
      name: 'camprobe_build_info',
      help: 'Build information; always 1.',
      labelNames: ['version', 'commit', 'nodejs'],
      registers,
    }).set({ version: opts.version, commit: opts.commit, nodejs: process.version }, 1);
    this.shardInfo = new Gauge({
      name: 'camprobe_shard_info',
      help: 'The part of the targets this replica probes: shard index (0-based) of total; always 1.',
      labelNames: ['index', 'total'],
      registers,
    });
    this.shardTargets = new Gauge({
      name: 'camprobe_shard_targets',
      help: 'Configured targets this replica owns (all of them when not sharded).',
      registers,
    });
    this.setShard({ index: 0, total: 1 }, 0);
  }

  /** Which shard this replica is and how many targets it owns (set at start, again on reload). */
  setShard(shard: { index: number; total: number }, ownedTargets: number): void {
    this.shardInfo.reset();
    this.shardInfo.set({ index: String(shard.index), total: String(shard.total) }, 1);
    this.shardTargets.set(ownedTargets);
  }

  /**
   * Creates every series of a (target, probe) that must exist from start-up (see the
   * module comment). Idempotent. Throws on a name longer than 64 characters or an
   * invalid value name.
   */
  addProbe(s: ProbeSeries): void {
    checkLabel('target', s.target);
    checkLabel('probe', s.probe);
    const names = Object.keys(s.values ?? {});
    for (const name of names) {
      if (!VALUE_NAME.test(name) || RESERVED_VALUE_PREFIXES.some((p) => name.startsWith(p))) {
        throw new RangeError(`invalid value name "${name}": lowercase snake_case, not starting with probe_ or build_`);
      }
    }
    const key = probeKey(s.target, s.probe);
    if (this.probes.has(key)) return;
    if (s.type !== undefined) checkLabel('type', s.type);
    this.probes.set(key, { values: names, type: s.type });

    const labels: PairLabels = { target: s.target, probe: s.probe };
    this.success.set(labels, 0);
    this.degraded.set(labels, 0);
    this.degradedRuns.inc(labels, 0);
    if (s.type !== undefined) this.info.set({ ...labels, type: s.type }, 1);
    this.duration.zero(labels);
    this.skipped.inc(labels, 0);
    for (const rr of RESULT_REASONS) this.runs.inc({ ...labels, ...rr }, 0);

    for (const name of names) {
      let vg = this.valueGauges.get(name);
      if (vg === undefined) {
        vg = {
          gauge: new Gauge({
            name: `camprobe_${name}`,
            help: s.values?.[name] ?? name,
            labelNames: ['target'],
            registers: [this.registry, this.openMetricsRegistry],
          }),
          declaredBy: new Map(),
        };
        this.valueGauges.set(name, vg);
      }
      const probes = vg.declaredBy.get(s.target) ?? new Set<string>();
      probes.add(s.probe);
      vg.declaredBy.set(s.target, probes);
    }
  }

  /**
   * Removes every series of a (target, probe). A value gauge is per target: its series
   * goes only when no other probe of the target declares that value.
   */
  removeProbe(target: string, probe: string): void {
    const key = probeKey(target, probe);
    const entry = this.probes.get(key);
    if (entry === undefined) return;
    this.probes.delete(key);
    const names = entry.values;

    const labels: PairLabels = { target, probe };
    for (const m of [this.success, this.duration, this.skipped, this.lastRun, this.lastSuccess, this.degraded, this.degradedRuns]) m.remove(labels);
    if (entry.type !== undefined) this.info.remove({ ...labels, type: entry.type });
    for (const rr of RESULT_REASONS) this.runs.remove({ ...labels, ...rr });
    for (const step of STEPS) this.stepDuration.remove({ ...labels, step });

    for (const name of names) {
      const vg = this.valueGauges.get(name);
      const probes = vg?.declaredBy.get(target);
      if (vg === undefined || probes === undefined) continue;
      probes.delete(probe);
      if (probes.size === 0) {
        vg.declaredBy.delete(target);
        vg.gauge.remove({ target });
      }
    }
  }

  /**
   * Records a finished run. Runs of a (target, probe) not added (or already removed,
   * e.g. a run that was in flight during a reload) are ignored, so they cannot bring
   * back series of a probe that is gone. Values the probe did not declare are ignored.
   */
  recordRun(run: RunRecord): void {
    const declared = this.probes.get(probeKey(run.target, run.probe))?.values;
    if (declared === undefined) return;

    const labels: PairLabels = { target: run.target, probe: run.probe };
    const endSeconds = (run.startedAtMs + run.durationMs) / 1000;
    const ok = run.result === 'success';

    this.success.set(labels, ok ? 1 : 0);
    this.degraded.set(labels, ok && run.degraded ? 1 : 0);
    if (ok && run.degraded) this.degradedRuns.inc(labels);
    this.duration.observe(labels, run.durationMs / 1000);
    this.runs.inc({ ...labels, result: run.result, reason: run.reason });
    this.lastRun.set(labels, endSeconds);
    if (ok) this.lastSuccess.set(labels, endSeconds);
    for (const s of run.steps) this.stepDuration.observe({ ...labels, step: s.step }, s.durationMs / 1000);

    for (const [name, value] of Object.entries(run.values ?? {})) {
      if (declared.includes(name)) this.valueGauges.get(name)?.gauge.set({ target: run.target }, value);
    }
  }

  /** Records a configuration load at start or on reload; a refused one keeps the old timestamp. */
  recordConfigLoad(ok: boolean, atMs: number = Date.now()): void {
    this.reloadOk.set(ok ? 1 : 0);
    if (ok) this.reloadAt.set(atMs / 1000);
  }

  /** Counts a run skipped because the previous one was still running. */
  recordSkip(target: string, probe: string): void {
    if (this.probes.has(probeKey(target, probe))) this.skipped.inc({ target, probe });
  }

  /**
   * Text for a scrape: OpenMetrics when `accept` (the request's Accept header) asks for
   * `application/openmetrics-text`, the Prometheus text format otherwise.
   */
  async render(accept?: string): Promise<{ body: string; contentType: string }> {
    const registry = wantsOpenMetrics(accept) ? this.openMetricsRegistry : this.registry;
    return { body: await registry.metrics(), contentType: registry.contentType };
  }
}

function probeKey(target: string, probe: string): string {
  return `${target}\0${probe}`;
}
