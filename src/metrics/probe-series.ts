/**
 * The series of every (target, probe): their state as plain numbers, updated by each run,
 * and the families they are written as. Thousands of series at a thousand targets:
 * prom-client allocates objects for every series on every scrape, and at that scale most
 * of a render went to collecting them (docs/performance.md, change 1). Here each probe's
 * label text is escaped once, when it is added, and a scrape only formats numbers.
 */
import { REASONS, STEPS } from '../core/outcome.js';
import { shared } from '../core/share.js';
import type { AccessReport, RunRecord, StepName } from '../core/outcome.js';
import { Buckets, CLOSE, NO_LABELS, escapeLabel, histogramHeads, writeFamilies, writeHistogram } from './exposition.js';
import { SESSION_FAMILIES, recordSession, type SessionSeries } from './session-series.js';
import type { Family, Row } from './exposition.js';
import { bytes, type TextWriter } from './text-writer.js';

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
 * metrics.ts).
 */
export const HISTOGRAM_STEPS: ReadonlySet<StepName> = new Set<StepName>(['call']);

/** `,step="…"` per step. */
const STEP_LABELS: Readonly<Record<StepName, Uint8Array>> = Object.fromEntries(STEPS.map((step): [StepName, Uint8Array] => [step, bytes(`,step="${step}"`)])) as Record<StepName, Uint8Array>;

/** Bounds label text, hence the size of a scrape and of what Prometheus stores. */
const MAX_LABEL_LENGTH = 64;

/** Every `(result, reason)` pair a run can produce; pre-created so `rate()` sees the first one. */
const RESULT_REASONS: ReadonlyArray<{ result: 'success' | 'failure'; reason: string }> = REASONS.map(
  (reason) => ({ result: reason === 'ok' ? 'success' : 'failure', reason }),
);
const REASON_INDEX = new Map(RESULT_REASONS.map((rr, i) => [rr.reason, i]));
/** `,result="…",reason="…"} ` per RESULT_REASONS entry. */
const RESULT_REASON_TAILS = RESULT_REASONS.map((rr) => bytes(`,result="${rr.result}",reason="${rr.reason}"} `));

/**
 * Throws a RangeError unless `value`, the value of label `kind`, has 1 to 64 characters.
 */
export function checkLabel(kind: string, value: string): void {
  if (value.length === 0 || value.length > MAX_LABEL_LENGTH) {
    throw new RangeError(`${kind} name must be 1 to ${MAX_LABEL_LENGTH} characters, got ${value.length}`);
  }
}

/** Everything exported for one (target, probe), with its label text escaped once. */
interface ProbeState {
  /** `target="…",probe="…"` plus `,location="…"` when set. */
  labels: string;
  /** `,type="…"` for camprobe_probe_info, when the type was given. */
  typeLabel: Uint8Array | undefined;
  success: number;
  /** 1 when the last run succeeded but missed its degraded_after objective. */
  degraded: number;
  degradedRuns: number;
  /** Indexed like RESULT_REASONS. A plain array of small integers: no typed array's object and buffer per probe. */
  runs: number[];
  skipped: number;
  lastRun: number | undefined;
  lastSuccess: number | undefined;
  duration: Buckets;
  stepHistograms: Map<StepName, Buckets>;
  /** Step → its duration in the last run that had it (the slowest occurrence there). */
  stepLast: Map<StepName, number>;
  /** The access matrix's standing, from the last run that reported one (protected_rejection). */
  access: AccessSeries | undefined;
  /** The held session's series, from the last run that reported one (the session probe). */
  session: SessionSeries | undefined;
}

/** An access report as series: method labels escaped once per method set. */
interface AccessSeries {
  report: AccessReport;
  /** `,method="…"` per method (as bytes), in the report's order. */
  methodLabels: Array<[string, Uint8Array]>;
}

/**
 * Per method of the matrix: 1 where the method's standing is `state`. Dense (a 0 for every
 * other method) for `exposed`, the security promise a dashboard shows whole; sparse for
 * the rare states, whose alerts only ask `> 0`, to keep a target's series few.
 */
function methodLines(name: string, state: string, dense: boolean): Family<ProbeState>['write'] {
  const head = bytes(name + '{');
  return ({ item: p, labels }, w) => {
    if (p.access === undefined) return;
    const methods = p.access.report.methods;
    for (const [method, label] of p.access.methodLabels) {
      const on = methods[method] === state;
      if (on || dense) w.sample3(head, labels, label, CLOSE, on ? 1 : 0);
    }
  };
}

/** One line from the access report, when the probe has one. */
function accessLine(name: string, value: (r: AccessReport) => number): Family<ProbeState>['write'] {
  const head = bytes(name + '{');
  return ({ item: p, labels }, w) => {
    if (p.access !== undefined) w.sample(head, labels, CLOSE, value(p.access.report));
  };
}

/** `name{labels} value`, or nothing while the value is undefined. */
function line(name: string, value: (p: ProbeState) => number | undefined): Family<ProbeState>['write'] {
  const head = bytes(name + '{');
  return ({ item: p, labels }, w) => {
    const v = value(p);
    if (v !== undefined) w.sample(head, labels, CLOSE, v);
  };
}

const DURATION = histogramHeads('camprobe_probe_duration_seconds');
const STEP_DURATION = histogramHeads('camprobe_probe_step_duration_seconds');
const STEP_LAST = bytes('camprobe_probe_step_last_duration_seconds{');
const RUNS = bytes('camprobe_probe_runs_total{');
const INFO = bytes('camprobe_probe_info{');

/** The access matrix's families (docs: README, Access matrix). Bounded: methods ≤ the target's table. */
const ACCESS_FAMILIES: ReadonlyArray<Family<ProbeState>> = [
  {
    name: 'camprobe_protected_method_exposed',
    type: 'gauge',
    help: 'Whether the latest check of a cell of this method got a result to a call that must be refused (1); 0 otherwise.',
    write: methodLines('camprobe_protected_method_exposed', 'exposed', true),
  },
  {
    name: 'camprobe_protected_method_unconfirmed',
    type: 'gauge',
    help: 'Present (1) while this method answers a call that must be refused with an error outside the refusal codes: the refusal is unconfirmed.',
    write: methodLines('camprobe_protected_method_unconfirmed', 'unconfirmed', false),
  },
  {
    name: 'camprobe_protected_method_missing',
    type: 'gauge',
    help: 'Present (1) while this method of the configured table answers -32601 method not found: the table has drifted from the service.',
    write: methodLines('camprobe_protected_method_missing', 'missing', false),
  },
  {
    name: 'camprobe_access_matrix_cells',
    type: 'gauge',
    help: 'Cells of the access matrix (protected methods x credentials that must be refused), checked and uncovered.',
    write: accessLine('camprobe_access_matrix_cells', (r) => r.cells + r.uncovered),
  },
  {
    name: 'camprobe_access_matrix_uncovered_cells',
    type: 'gauge',
    help: 'Cells of the access matrix left out: no harmless way to call the method, or the credential cannot be produced.',
    write: accessLine('camprobe_access_matrix_uncovered_cells', (r) => r.uncovered),
  },
  {
    name: 'camprobe_access_matrix_sweep_checked_cells',
    type: 'gauge',
    help: 'Cells the last complete sweep of the access matrix checked.',
    write: accessLine('camprobe_access_matrix_sweep_checked_cells', (r) => r.sweep.lastCheckedCells),
  },
  {
    name: 'camprobe_access_matrix_last_sweep_timestamp_seconds',
    type: 'gauge',
    help: 'When the last complete sweep of the access matrix ended (when the matrix started, before the first), seconds since the epoch.',
    write: accessLine('camprobe_access_matrix_last_sweep_timestamp_seconds', (r) => r.sweep.lastCompletedAtMs / 1000),
  },
  {
    name: 'camprobe_access_matrix_sweep_period_seconds',
    type: 'gauge',
    help: 'The configured period of a sweep of the access matrix, seconds.',
    write: accessLine('camprobe_access_matrix_sweep_period_seconds', (r) => r.sweep.periodMs / 1000),
  },
];

/** The per-probe families, in the order a scrape shows them. */
const FAMILIES: ReadonlyArray<Family<ProbeState>> = [
  {
    name: 'camprobe_probe_success',
    type: 'gauge',
    help: 'Whether the last finished run succeeded (1) or failed (0); 0 before the first run.',
    write: line('camprobe_probe_success', (p) => p.success),
  },
  {
    name: 'camprobe_probe_duration_seconds',
    type: 'histogram',
    help: 'Duration of probe runs, successful or not, in seconds.',
    write: ({ item: p, labels }, w) => writeHistogram(w, DURATION, labels, NO_LABELS, p.duration),
  },
  {
    name: 'camprobe_probe_step_duration_seconds',
    type: 'histogram',
    help: `Duration of the steps ${[...HISTOGRAM_STEPS].join(', ')} of probe runs, in seconds.`,
    write: ({ item: p, labels }, w) => {
      for (const [step, h] of p.stepHistograms) writeHistogram(w, STEP_DURATION, labels, STEP_LABELS[step], h);
    },
  },
  {
    name: 'camprobe_probe_step_last_duration_seconds',
    type: 'gauge',
    help: 'Duration of each step in the last run that had it (its slowest occurrence there), in seconds.',
    write: ({ item: p, labels }, w) => {
      for (const [step, v] of p.stepLast) w.sample3(STEP_LAST, labels, STEP_LABELS[step], CLOSE, v);
    },
  },
  {
    name: 'camprobe_probe_runs_total',
    type: 'counter',
    help: 'Finished probe runs by result and reason.',
    write: ({ item: p, labels }, w) => {
      for (let i = 0; i < RESULT_REASON_TAILS.length; i++) w.sample(RUNS, labels, RESULT_REASON_TAILS[i]!, p.runs[i]!);
    },
  },
  {
    name: 'camprobe_probe_degraded',
    type: 'gauge',
    help: 'Whether the last finished run succeeded but missed its degraded_after latency objective (1); 0 otherwise.',
    write: line('camprobe_probe_degraded', (p) => p.degraded),
  },
  {
    name: 'camprobe_probe_degraded_runs_total',
    type: 'counter',
    help: 'Successful runs that missed their degraded_after latency objective (also counted as successes in camprobe_probe_runs_total).',
    write: line('camprobe_probe_degraded_runs_total', (p) => p.degradedRuns),
  },
  {
    name: 'camprobe_probe_info',
    type: 'gauge',
    help: 'The type of each configured probe; always 1.',
    write: ({ item: p, labels }, w) => {
      if (p.typeLabel !== undefined) w.sample3(INFO, labels, p.typeLabel, CLOSE, 1);
    },
  },
  {
    name: 'camprobe_probe_skipped_total',
    type: 'counter',
    help: 'Runs skipped because the previous run of the probe was still going.',
    write: line('camprobe_probe_skipped_total', (p) => p.skipped),
  },
  {
    name: 'camprobe_probe_last_run_timestamp_seconds',
    type: 'gauge',
    help: 'When the last run ended, seconds since the epoch; absent before the first run.',
    write: line('camprobe_probe_last_run_timestamp_seconds', (p) => p.lastRun),
  },
  {
    name: 'camprobe_probe_last_success_timestamp_seconds',
    type: 'gauge',
    help: 'When the last successful run ended, seconds since the epoch; absent before the first success.',
    write: line('camprobe_probe_last_success_timestamp_seconds', (p) => p.lastSuccess),
  },
  ...ACCESS_FAMILIES,
  ...SESSION_FAMILIES,
];

/**
 * The series of every (target, probe) added and not removed, in the order added. Labels
 * are checked by the caller (checkLabel) before `add`.
 */
export class ProbeSeriesTable {
  /** `target\0probe` → its series. */
  private readonly probes = new Map<string, ProbeState>();
  /** `,location="…"` on every series, or empty. */
  private readonly locationLabel: string;

  /** `location`, when given, is added as a label to every series. */
  constructor(location: string | undefined) {
    this.locationLabel = location === undefined ? '' : `,location="${escapeLabel(location)}"`;
  }

  /** Creates the series a probe has from start-up; false (and nothing changes) if it has them already. */
  add(target: string, probe: string, type: string | undefined): boolean {
    const key = probeKey(target, probe);
    if (this.probes.has(key)) return false;
    this.probes.set(key, {
      labels: `target="${escapeLabel(target)}",probe="${escapeLabel(probe)}"${this.locationLabel}`,
      typeLabel: type === undefined ? undefined : typeLabelOf(type),
      success: 0,
      degraded: 0,
      degradedRuns: 0,
      runs: new Array<number>(RESULT_REASONS.length).fill(0),
      skipped: 0,
      lastRun: undefined,
      lastSuccess: undefined,
      duration: new Buckets(RUN_BUCKETS),
      stepHistograms: new Map(),
      stepLast: new Map(),
      access: undefined,
      session: undefined,
    });
    return true;
  }

  /** Drops every series of a probe; false if it had none. */
  remove(target: string, probe: string): boolean {
    return this.probes.delete(probeKey(target, probe));
  }

  /** Counts a finished run of a probe that was added; false (and nothing changes) otherwise. */
  recordRun(run: RunRecord): boolean {
    const state = this.probes.get(probeKey(run.target, run.probe));
    if (state === undefined) return false;

    const endSeconds = (run.startedAtMs + run.durationMs) / 1000;
    const ok = run.result === 'success';
    state.success = ok ? 1 : 0;
    state.degraded = ok && run.degraded ? 1 : 0;
    if (ok && run.degraded) state.degradedRuns++;
    state.duration.observe(run.durationMs / 1000);
    const i = REASON_INDEX.get(run.reason);
    if (i !== undefined) state.runs[i] = (state.runs[i] ?? 0) + 1;
    state.lastRun = endSeconds;
    if (ok) state.lastSuccess = endSeconds;
    recordSteps(state, run);
    if (run.access !== undefined) recordAccess(state, run.access);
    if (run.session !== undefined) recordSession(state, run.session);
    return true;
  }

  /** Counts a skipped run of a probe that was added. */
  recordSkip(target: string, probe: string): void {
    const state = this.probes.get(probeKey(target, probe));
    if (state) state.skipped++;
  }

  /**
   * Every probe family's text into `w` (see writeFamilies for the event-loop turns it
   * takes). Each probe's label text is turned into bytes once per scrape, and dropped with it.
   */
  write(openMetrics: boolean, w: TextWriter): Promise<void> {
    const rows: Array<Row<ProbeState>> = [];
    for (const item of this.probes.values()) rows.push({ item, labels: bytes(item.labels) });
    return writeFamilies(rows, FAMILIES, openMetrics, w);
  }
}

function recordSteps(state: ProbeState, run: RunRecord): void {
  // A step can occur more than once in a run; its last duration is the slowest of them.
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
}

function recordAccess(state: ProbeState, report: AccessReport): void {
  const methods = Object.keys(report.methods);
  const previous = state.access?.methodLabels;
  // The method set rarely changes: its escaped labels are kept while it does not.
  const same = previous !== undefined && previous.length === methods.length && previous.every(([m], i) => m === methods[i]);
  state.access = { report, methodLabels: same ? previous : methodLabelsOf(methods) };
}

/** Method sets seen, each with its labels: every target of the same table shares one list. */
const METHOD_LABEL_SETS = new Map<string, Array<[string, Uint8Array]>>();
/** A fleet has one or a few tables; past this many the oldest set is forgotten (its holders keep theirs). */
const MAX_METHOD_LABEL_SETS = 64;

function methodLabelsOf(methods: string[]): Array<[string, Uint8Array]> {
  return shared(METHOD_LABEL_SETS, methods.join('\0'), MAX_METHOD_LABEL_SETS, () =>
    methods.map((m): [string, Uint8Array] => [m, bytes(`,method="${escapeLabel(m)}"`)]),
  );
}

/** The `,type="…"` label of each probe type, shared by every probe of that type (types are few). */
const TYPE_LABELS = new Map<string, Uint8Array>();

function typeLabelOf(type: string): Uint8Array {
  return shared(TYPE_LABELS, type, 256, () => bytes(`,type="${escapeLabel(type)}"`));
}

function probeKey(target: string, probe: string): string {
  return `${target}\0${probe}`;
}
