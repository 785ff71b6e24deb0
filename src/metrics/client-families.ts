/**
 * The families prom-client renders: build info, configuration reload and shard gauges,
 * the per-target value gauges probes report, and the default process and Node.js
 * metrics. Kept in two registries, one per exposition format, sharing the same metric
 * objects. Few series (none per probe), so prom-client's cost per series does not matter.
 */
import { getHeapStatistics } from 'node:v8';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metric, OpenMetricsContentType } from 'prom-client';

/** What ClientFamilies is built from. */
export interface ClientFamiliesOptions {
  version: string;
  commit: string;
  /** Added as the label `location` to every series; already checked by the caller. */
  location?: string | undefined;
  /** Collect process and Node.js metrics (standard names, no prefix). Default true. */
  collectDefault?: boolean | undefined;
}

/** Default metrics that are gauges with a `_total` name, which promtool flags. */
const LINTED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
const VALUE_NAME = /^[a-z][a-z0-9_]*$/;
/** Value gauges share the `camprobe_` namespace with the built-in metrics. */
const RESERVED_VALUE_PREFIXES = ['probe_', 'build_'];

/**
 * Throws a RangeError unless `name` can be a value gauge's name after `camprobe_`:
 * lowercase snake_case, not clashing with camprobe's own families.
 */
export function checkValueName(name: string): void {
  if (!VALUE_NAME.test(name) || RESERVED_VALUE_PREFIXES.some((p) => name.startsWith(p))) {
    throw new RangeError(`invalid value name "${name}": lowercase snake_case, not starting with probe_ or build_`);
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

/** A read-only view of a counter named as OpenMetrics wants (samples get `_total` back). */
function counterFamily(metric: Metric): Pick<Metric, 'get'> {
  return {
    get: async () => {
      const family = await metric.get();
      return { ...family, name: family.name.replace(/_total$/, '') };
    },
  } as Pick<Metric, 'get'>;
}

interface ValueGauge {
  gauge: Gauge<'target'>;
  /** target → probes declaring this value there; the series goes when the last one does. */
  declaredBy: Map<string, Set<string>>;
}

/** Everything prom-client renders for camprobe, in both exposition formats. */
export class ClientFamilies {
  /** Renders the Prometheus text format (0.0.4). */
  readonly registry: Registry;
  /** Same families, rendered as OpenMetrics 1.0. */
  readonly openMetricsRegistry: Registry<OpenMetricsContentType>;

  private readonly valueGauges = new Map<string, ValueGauge>();
  private readonly reloadOk: Gauge;
  private readonly reloadAt: Gauge;
  private readonly shardInfo: Gauge<'index' | 'total'>;
  private readonly shardTargets: Gauge;

  constructor(opts: ClientFamiliesOptions) {
    this.registry = new Registry();
    this.openMetricsRegistry = new OpenMetricsRegistry();
    const registers = [this.registry, this.openMetricsRegistry];

    if (opts.collectDefault ?? true) this.collectDefault();
    if (opts.location !== undefined) {
      for (const r of registers) r.setDefaultLabels({ location: opts.location });
    }

    new Gauge({
      name: 'camprobe_build_info',
      help: 'Build information; always 1.',
      labelNames: ['version', 'commit', 'nodejs'],
      registers,
    }).set({ version: opts.version, commit: opts.commit, nodejs: process.version }, 1);
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

  private collectDefault(): void {
    // One set of collectors shared by both registries: a second call would start a
    // second event-loop monitor and GC observer for the same numbers.
    collectDefaultMetrics({ register: this.registry });
    // prom-client also exports these as gauges named *_total, which promtool flags
    // (a _total suffix promises a counter). The same numbers remain, by type, in
    // nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
    for (const name of LINTED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    // prom-client exports the heap's size and use, not its limit: with an explicit
    // --max-old-space-size (the image and the unit set one) the process aborts when the
    // heap needs more, and CamprobeHeapNearLimit compares the two.
    new Gauge({
      name: 'nodejs_heap_size_limit_bytes',
      help: 'Size limit of the V8 heap in bytes (--max-old-space-size plus the young generation); the process aborts past it.',
      registers: [this.registry],
    }).set(getHeapStatistics().heap_size_limit);
    for (const m of this.registry.getMetricsAsArray()) {
      this.openMetricsRegistry.registerMetric(m as unknown as Metric);
    }
  }

  /** See ProbeMetrics.setShard. */
  setShard(shard: { index: number; total: number }, ownedTargets: number): void {
    this.shardInfo.reset();
    this.shardInfo.set({ index: String(shard.index), total: String(shard.total) }, 1);
    this.shardTargets.set(ownedTargets);
  }

  /** See ProbeMetrics.recordConfigLoad. */
  recordConfigLoad(ok: boolean, atMs: number): void {
    this.reloadOk.set(ok ? 1 : 0);
    if (ok) this.reloadAt.set(atMs / 1000);
  }

  /**
   * Records that `probe` of `target` reports `values` (name → help text, names checked
   * with checkValueName). A gauge is made on the first declaration of its name; its
   * series appears when a value is set.
   */
  declareValues(target: string, probe: string, values: Readonly<Record<string, string>>): void {
    for (const [name, help] of Object.entries(values)) {
      let vg = this.valueGauges.get(name);
      if (vg === undefined) {
        vg = {
          gauge: new Gauge({ name: `camprobe_${name}`, help, labelNames: ['target'], registers: [this.registry, this.openMetricsRegistry] }),
          declaredBy: new Map(),
        };
        this.valueGauges.set(name, vg);
      }
      const probes = vg.declaredBy.get(target) ?? new Set<string>();
      probes.add(probe);
      vg.declaredBy.set(target, probes);
    }
  }

  /**
   * Withdraws every value `probe` of `target` declared. A value gauge is per target: its
   * series goes only when no other probe of the target declares that value.
   */
  withdrawValues(target: string, probe: string): void {
    for (const vg of this.valueGauges.values()) {
      const probes = vg.declaredBy.get(target);
      if (probes === undefined || !probes.delete(probe)) continue;
      if (probes.size === 0) {
        vg.declaredBy.delete(target);
        vg.gauge.remove({ target });
      }
    }
  }

  /** Sets `camprobe_<name>{target}` if `probe` of `target` declared `name`; ignores it otherwise. */
  setValue(target: string, probe: string, name: string, value: number): void {
    const vg = this.valueGauges.get(name);
    if (vg?.declaredBy.get(target)?.has(probe)) vg.gauge.set({ target }, value);
  }

  /** The registry for the chosen format: its `metrics()` text and `contentType`. */
  registryFor(openMetrics: boolean): Registry | Registry<OpenMetricsContentType> {
    return openMetrics ? this.openMetricsRegistry : this.registry;
  }
}
