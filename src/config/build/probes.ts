/**
 * One probe entry of a target: its type known, its schedule (interval or cron) and timeout
 * consistent, its latency objectives valid, and its options valid for its type, first
 * against the type's schema, then against the type's own cross-field rules.
 */
import { createTask, validateDetailed } from 'node-cron';
import { STEPS } from '../../core/outcome.js';
import { formatDuration } from '../../core/duration.js';
import { didYouMean, quote } from '../../core/text.js';
import { check, compileOptionsSchema, type Pruned } from '../check.js';
import { isObject } from '../objects.js';
import type { Path, Problems } from '../problems.js';
import { PROBE_BASE_KEYS, type RawProbeEntry } from '../schema.js';
import type { CredentialConfig, ProbeConfig, ProbeTypeSpec, TargetConfig } from '../types.js';
import { INTERVAL_RANGE, TIMEOUT_RANGE, checkTimeoutFits, duration, override, type Inherited } from './durations.js';

/** What checking a probe entry needs from its target. */
export interface ProbeEntryContext {
  problems: Problems;
  probeTypes: ReadonlyMap<string, ProbeTypeSpec>;
  /** The target as probe `validate` hooks see it; undefined when it is itself unusable (reported). */
  target: TargetConfig | undefined;
  credential: CredentialConfig | undefined;
  inherited: { interval: Inherited | undefined; timeout: Inherited | undefined };
}

/** The probe at `path`, or undefined when part of it is unusable (the problems are recorded). */
export function buildProbe(entry: Pruned<RawProbeEntry>, path: Path, ctx: ProbeEntryContext): ProbeConfig | undefined {
  const { problems } = ctx;
  const at = (key: string): Path => [...path, key];
  const { type, name, interval, schedule, timeout: rawTimeout, degraded_after: degraded, ...options } = entry;
  if (type === undefined) return undefined;

  const definition = ctx.probeTypes.get(type);
  if (!definition) {
    const known = [...ctx.probeTypes.keys()].sort();
    problems.add(at('type'), `unknown probe type ${quote(type)}${suggestion(type, known)} (known: ${known.join(', ')})`);
  }

  let period: Inherited | undefined;
  if (interval !== undefined && schedule !== undefined) {
    problems.add(path, 'set either interval or schedule, not both', at('schedule'));
  } else if (schedule !== undefined) {
    period = override(schedule, cronInterval(schedule, at('schedule'), problems), undefined, undefined);
  } else {
    period = override(interval, duration(interval, at('interval'), problems, INTERVAL_RANGE), undefined, ctx.inherited.interval);
  }

  const timeout = override(rawTimeout, duration(rawTimeout, at('timeout'), problems, TIMEOUT_RANGE), undefined, ctx.inherited.timeout);
  if (timeout && period) checkTimeoutFits(timeout, period, at('timeout'), problems);
  const degradedAfter = degradedThresholds(degraded, at('degraded_after'), timeout?.ms, problems);

  const optionsValid = definition !== undefined && checkOptions(definition, options, path, ctx);
  if (!optionsValid || period === undefined || timeout === undefined || (degraded !== undefined && degradedAfter === undefined)) return undefined;
  return {
    name: name ?? type,
    type,
    interval_ms: period.ms,
    ...(schedule !== undefined ? { schedule } : {}),
    timeout_ms: timeout.ms,
    ...(degradedAfter ? { degraded_after: degradedAfter } : {}),
    options,
  };
}

/**
 * Checks `options` against the type's schema (filling its defaults in), then, when they have
 * the right shape and the target is usable, against the type's cross-field rules.
 */
function checkOptions(definition: ProbeTypeSpec, options: Record<string, unknown>, path: Path, ctx: ProbeEntryContext): boolean {
  const found = check(compileOptionsSchema(definition.optionsSchema), options, path, PROBE_BASE_KEYS);
  ctx.problems.addAll(found);
  if (found.length > 0) return false;
  if (!definition.validate || !ctx.target) return true;
  const hookProblems = definition.validate(options, ctx.target, ctx.credential);
  for (const [field, message] of hookProblems) ctx.problems.add([...path, ...fieldPath(field)], message);
  return hookProblems.length === 0;
}

/**
 * `degraded_after: 200ms` (the whole run) or `{ run: 1s, call: 50ms, ... }` (per step).
 * A threshold at or past the timeout could never mark a run degraded rather than failed.
 */
function degradedThresholds(value: Pruned<RawProbeEntry>['degraded_after'], path: Path, timeoutMs: number | undefined, problems: Problems): Record<string, number> | undefined {
  if (value === undefined) return undefined;
  const entries: Array<[string, unknown]> = isObject(value) ? Object.entries(value) : [['run', value]];
  const out: Record<string, number> = {};
  for (const [key, raw] of entries) {
    const at = isObject(value) ? [...path, key] : path;
    if (key !== 'run' && !STEPS.some((step) => step === key)) {
      problems.add(at, `unknown step ${quote(key)}${suggestion(key, ['run', ...STEPS])} (use run or one of: ${STEPS.join(', ')})`);
      continue;
    }
    const ms = duration(String(raw), at, problems, TIMEOUT_RANGE);
    if (ms === undefined) continue;
    if (timeoutMs !== undefined && ms >= timeoutMs) {
      problems.add(at, `${formatDuration(ms)} must be shorter than the timeout (${formatDuration(timeoutMs)})`);
      continue;
    }
    out[key] = ms;
  }
  if (isObject(value) && entries.length === 0) problems.add(path, 'must name at least one of run or a step');
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A cron schedule's interval: the shortest gap between its next runs (the task never starts). */
function cronInterval(expression: string, path: Path, problems: Problems): number | undefined {
  const result = validateDetailed(expression);
  if (!result.valid) {
    const [error] = result.errors;
    const fields = '6 fields: second minute hour day-of-month month day-of-week, like "*/30 * * * * *"';
    const message =
      error === undefined || error.field === 'expression'
        ? `is not a cron expression; use ${fields}`
        : `invalid ${error.field} field ${quote(error.value ?? '')}; use ${fields}`;
    problems.add(path, message);
    return undefined;
  }
  const task = createTask(expression, () => undefined);
  try {
    const runs = task.getNextRuns(60).map((d) => d.getTime());
    if (runs.length < 2) {
      problems.add(path, 'must fire more than once');
      return undefined;
    }
    return Math.min(...runs.slice(1).map((t, i) => t - (runs[i] ?? t)));
  } finally {
    void task.destroy();
  }
}

/** `cases[1].method` → ['cases', 1, 'method']. */
function fieldPath(field: string): Path {
  return [...field.matchAll(/\[(\d+)\]|([^.[\]]+)/g)].map((m) => (m[1] !== undefined ? Number(m[1]) : (m[2] ?? '')));
}

/** `: did you mean "x"?` when a candidate is close to `given`, else ''. */
function suggestion(given: string, candidates: readonly string[]): string {
  const text = didYouMean(given, candidates);
  return text === '' ? '' : `: ${text}`;
}
