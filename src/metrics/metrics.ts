/**
 * Every metric camprobe exports, behind one object the daemon owns. The runner reports
 * finished runs here; probes never touch this module (they report values through their
 * context). The per-probe families live in probe-series.ts and are written by
 * exposition.ts; prom-client renders the rest (client-families.ts).
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
 * - Series budget: at most 53 per probe (33 at start-up, 2 timestamps, 10 for the
 *   `call` histogram, one per step). protected_rejection adds its access matrix after its
 *   first run: one `exposed` series per method of the table and five sweep gauges, plus
 *   an `unconfirmed` or `missing` series only for a method in that state
 *   (docs/performance.md has the count `npm run bench` measures).
 */
import type { Registry, OpenMetricsContentType } from 'prom-client';
import type { RunRecord } from '../core/outcome.js';
import { ClientFamilies, checkValueName } from './client-families.js';
import { wantsOpenMetrics } from './exposition.js';
import { TextWriter, type ChunkSink } from './text-writer.js';
import { ProbeSeriesTable, checkLabel } from './probe-series.js';

/** Steps with a duration histogram; re-exported so callers keep one import path. */
export { HISTOGRAM_STEPS } from './probe-series.js';

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
 * All camprobe metrics: the per-probe series, which camprobe writes itself because there
 * are thousands of them (probe-series.ts says why), then the families prom-client
 * renders, in the Prometheus text format or OpenMetrics as the scraper asks.
 */
export class ProbeMetrics {
  private readonly series: ProbeSeriesTable;
  private readonly client: ClientFamilies;

  /** Throws a RangeError on a location label of more than 64 characters. */
  constructor(opts: MetricsOptions) {
    // Checked before prom-client's collectors start, so a refused label leaves none behind.
    if (opts.location !== undefined) checkLabel('location', opts.location);
    this.client = new ClientFamilies(opts);
    this.series = new ProbeSeriesTable(opts.location);
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
    if (this.series.add(s.target, s.probe, s.type)) this.client.declareValues(s.target, s.probe, values);
  }

  /**
   * Removes every series of a (target, probe). A value gauge is per target: its series
   * goes only when no other probe of the target declares that value.
   */
  removeProbe(target: string, probe: string): void {
    if (this.series.remove(target, probe)) this.client.withdrawValues(target, probe);
  }

  /**
   * Records a finished run. Runs of a (target, probe) not added (or already removed,
   * e.g. a run that was in flight during a reload) are ignored, so they cannot bring
   * back series of a probe that is gone. Values the probe did not declare are ignored.
   */
  recordRun(run: RunRecord): void {
    if (!this.series.recordRun(run) || run.values === undefined) return;
    for (const [name, value] of Object.entries(run.values)) this.client.setValue(run.target, run.probe, name, value);
  }

  /** Counts a run skipped because the previous one was still running. */
  recordSkip(target: string, probe: string): void {
    this.series.recordSkip(target, probe);
  }

  /**
   * The content type of a scrape: OpenMetrics when `accept` (the request's Accept header)
   * asks for `application/openmetrics-text`, the Prometheus text format otherwise.
   */
  contentType(accept?: string): string {
    return this.client.registryFor(wantsOpenMetrics(accept)).contentType;
  }

  /**
   * The text of a scrape (in the format `contentType(accept)` names), handed to `sink` in
   * chunks as it is made, never as one string: the per-probe families, giving the event
   * loop turns while they are written (exposition.ts), then prom-client's. Resolves once
   * the last chunk was handed over.
   */
  async write(accept: string | undefined, sink: ChunkSink): Promise<void> {
    const openMetrics = wantsOpenMetrics(accept);
    const registry = this.client.registryFor(openMetrics);
    const w = new TextWriter(sink);
    await this.series.write(openMetrics, w);
    w.text(await registry.metrics());
    await w.end();
  }

  /** The text of a scrape as one string (tests, benchmarks); `/metrics` streams `write`. */
  async render(accept?: string): Promise<{ body: string; contentType: string }> {
    const chunks: Buffer[] = [];
    await this.write(accept, (chunk) => void chunks.push(chunk));
    return { body: Buffer.concat(chunks).toString('utf8'), contentType: this.contentType(accept) };
  }
}
