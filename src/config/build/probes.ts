/**
 * One probe entry of a target: its type known, its schedule (interval or cron) and timeout
 * consistent, its latency objectives valid, and its options valid for its type, first
 * against the type's schema, then against the type's own cross-field rules.
 */
import { createTask, validateDetailed } from 'node-cron';
import { STEPS } from '../../core/outcome.js';
import { formatDuration } from '../../core/duration.js';
import { quote } from '../../core/text.js';
import { check, compileOptionsSchema } from '../check.js';
import { isObject } from '../objects.js';
import type { Path, Problems } from '../problems.js';
import { PROBE_BASE_KEYS } from '../schema.js';
import type { CredentialConfig, ProbeConfig, ProbeTypeSpec, TargetConfig } from '../types.js';
import { TIMEOUT_RANGE, duration, interval, override, type Inherited } from './durations.js';

/** What checking a probe entry needs besides its target. */
export interface ProbeEntryContext {
  problems: Problems;
  probeTypes: ReadonlyMap<string, ProbeTypeSpec>;
}

/** The probe at `path`, or undefined when it has no usable type (the problems are recorded). */
export function buildProbe(
  value: unknown,
  path: Path,
  target: TargetConfig,
  credential: CredentialConfig | undefined,
  inherited: { interval: Inherited | undefined; timeout: Inherited | undefined },
  ctx: ProbeEntryContext,
): ProbeConfig | undefined {
  if (!isObject(value)) return undefined;
  const { problems } = ctx;
  const at = (key: string): Path => [...path, key];
  const { type, name, interval: rawInterval, schedule, timeout: rawTimeout, degraded_after: rawDegraded, ...options } = value;
  if (typeof type !== 'string') return undefined;

  const definition = ctx.probeTypes.get(type);
  if (!definition) {
    const known = [...ctx.probeTypes.keys()].sort().join(', ');
    problems.add(at('type'), `unknown probe type ${quote(type)} (known: ${known})`);
  }

  let period: Inherited | undefined;
  if (rawInterval !== undefined && schedule !== undefined) {
    problems.add(path, 'set either interval or schedule, not both', at('schedule'));
  } else if (schedule !== undefined) {
    const ms = typeof schedule === 'string' ? cronInterval(schedule, at('schedule'), problems) : undefined;
    period = override(schedule, ms, undefined, undefined);
  } else {
    period = override(rawInterval, interval(rawInterval, at('interval'), problems), undefined, inherited.interval);
  }

  const timeout = override(rawTimeout, duration(rawTimeout, at('timeout'), problems, TIMEOUT_RANGE), undefined, inherited.timeout);
  if (timeout && period && timeout.ms >= period.ms) {
    const sources = [timeout.from && `the timeout comes from ${timeout.from}`, period.from && `the interval comes from ${period.from}`];
    const note = sources.filter(Boolean).join(', ');
    problems.add(
      at('timeout'),
      `${formatDuration(timeout.ms)} must be shorter than the interval (${formatDuration(period.ms)})${note ? `; ${note}` : ''}`,
    );
  }

  const degradedAfter = degradedThresholds(rawDegraded, at('degraded_after'), timeout?.ms, problems);

  if (definition) {
    const problemsBefore = problems.size;
    problems.addAll(check(compileOptionsSchema(definition.optionsSchema), options, path, PROBE_BASE_KEYS));
    // Cross-field rules only make sense on options that have the right shape.
    if (problems.size === problemsBefore && definition.validate) {
      for (const [field, message] of definition.validate(options, target, credential)) problems.add([...path, ...fieldPath(field)], message);
    }
  }

  return {
    name: typeof name === 'string' ? name : type,
    type,
    interval_ms: period?.ms ?? 0,
    ...(typeof schedule === 'string' ? { schedule } : {}),
    timeout_ms: timeout?.ms ?? 0,
    ...(degradedAfter ? { degraded_after: degradedAfter } : {}),
    options,
  };
}

/**
 * `degraded_after: 200ms` (the whole run) or `{ run: 1s, call: 50ms, ... }` (per step).
 * A threshold at or past the timeout could never mark a run degraded rather than failed.
 */
function degradedThresholds(value: unknown, path: Path, timeoutMs: number | undefined, problems: Problems): Record<string, number> | undefined {
  if (value === undefined) return undefined;
  const entries: Array<[string, unknown]> = isObject(value) ? Object.entries(value) : [['run', value]];
  const out: Record<string, number> = {};
  for (const [key, raw] of entries) {
    const at = isObject(value) ? [...path, key] : path;
    if (key !== 'run' && !(STEPS as readonly string[]).includes(key)) {
      problems.add(at, `unknown step ${quote(key)} (use run or one of: ${STEPS.join(', ')})`);
      continue;
    }
    const ms = duration(raw, at, problems, TIMEOUT_RANGE);
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
    return Math.min(...runs.slice(1).map((t, i) => t - runs[i]!));
  } finally {
    void task.destroy();
  }
}

/** `cases[1].method` → ['cases', 1, 'method']. */
function fieldPath(field: string): Path {
  return [...field.matchAll(/\[(\d+)\]|([^.[\]]+)/g)].map((m) => (m[1] !== undefined ? Number(m[1]) : m[2]!));
}
