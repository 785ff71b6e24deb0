/**
 * protected_rejection: every protected method must refuse every caller without a valid,
 * strong enough credential — the access matrix (access-matrix.ts). A result where a
 * refusal was expected is a `security_violation`, the most severe finding camprobe can
 * make; an error outside the refusal codes is `rejection_unconfirmed`.
 *
 * Scheduled runs check a share of the matrix each, so a whole sweep completes once per
 * `sweep` within the service's request budget; `camprobe once` checks it all, paced.
 *
 * Before judging, a positive control proves the service is up, speaks JSON-RPC and
 * accepts the valid credential: a service that is down or refuses everyone would
 * otherwise "pass" every cell.
 */
import { roleBelow, roleRank } from '../config/methods.js';
import { parseDuration } from '../core/duration.js';
import { ProbeError, type AccessFinding, type AccessReport } from '../core/outcome.js';
import { AUTH_ERROR_CODES } from '../rpc/client.js';
import {
  CREDENTIAL_CLASSES,
  HARMLESS_PARAMS,
  MatrixState,
  RESOURCE_READS,
  USAGES,
  buildMatrix,
  sharedSweep,
  type CredentialClass,
  type Group,
  type SharedSweep,
} from './access-matrix.js';
import { evenPacer, runGroups } from './access-matrix-run.js';
import { describe } from './session.js';
import { defineProbe, type ProbeContext } from './types.js';
import { Type, duration, enumOf, int, type Static } from '../config/schema-parts.js';

export const REJECTION_CASES = CREDENTIAL_CLASSES;
export type RejectionCase = CredentialClass;

const optionsSchema = Type.Object(
  {
    /** Narrows the matrix to these credential classes. Default: every class the credential can produce. */
    cases: Type.Optional(Type.Array(enumOf(REJECTION_CASES), { minItems: 1, uniqueItems: true })),
    /** Narrows the matrix to one method. Default: every method of the target's table. */
    method: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' })),
    /** How bad credentials are presented: `auth_token` per call, `authenticate` first (session), or both. */
    usages: Type.Array(enumOf(USAGES), { minItems: 1, uniqueItems: true, default: [...USAGES] }),
    /** Error codes that count as "refused" (default: the auth family, -32001 and -32003). */
    reject_codes: Type.Array(Type.Integer(), { minItems: 1, maxItems: 16, uniqueItems: true, default: [...AUTH_ERROR_CODES] }),
    /** Checks side-effecting methods that have no known harmless params. Off; read the README first. */
    allow_side_effects: Type.Boolean({ default: false }),
    /** Every cell is checked at least once per sweep; scheduled runs share the work. */
    sweep: duration({ default: '10m' }),
    /** Pace of `camprobe once`, which checks the whole matrix in one run, in requests a minute. */
    once_requests_per_minute: int(1, 60_000, { default: 50 }),
  },
  { additionalProperties: false },
);

export type ProtectedRejectionOptions = Static<typeof optionsSchema>;

/** Cells listed in a failure's detail; the rest are counted. */
const MAX_DETAIL_FINDINGS = 8;
/** Findings kept on the run record (/api/runs, reporters). */
const MAX_REPORT_FINDINGS = 32;
const MEMORY_KEY = 'access-matrix';

export const protectedRejection = defineProbe(optionsSchema, {
  type: 'protected_rejection',
  description: 'every protected method refuses missing, forged, expired, unsigned, malformed and too-weak credentials (the access matrix)',
  validate(options, target, credential) {
    const problems: Array<[string, string]> = [];
    try {
      const ms = parseDuration(options.sweep);
      if (ms < 1000 || ms > 86_400_000) problems.push(['sweep', 'must be from 1s to 24h']);
    } catch {
      problems.push(['sweep', 'must be a duration like 10m or 1h']);
    }
    const cases = options.cases ?? [];
    if (cases.includes('expired') && credential?.kind === 'token') {
      problems.push(['cases', `expired needs the signing secret (jwt_secret); credential "${credential.name}" is a static token`]);
    }
    if (options.method === undefined) return problems;
    const methodRole = target.methods[options.method];
    if (methodRole === undefined) {
      problems.push(['method', `"${options.method}" is not in the target's method matrix; add it under the target's methods with the role it needs`]);
      return problems;
    }
    if (target.side_effect_methods.includes(options.method) && !(options.method in HARMLESS_PARAMS) && !options.allow_side_effects) {
      problems.push(['method', `"${options.method}" has side effects; choose a method that only reads, or set allow_side_effects: true`]);
    }
    if (cases.includes('role_too_low')) {
      if (roleBelow(methodRole) === undefined) {
        problems.push(['cases', `role_too_low needs a method that requires more than viewer ("${options.method}" requires viewer)`]);
      } else if (credential?.kind === 'token' && roleRank(credential.role) >= roleRank(methodRole)) {
        problems.push(['cases', `role_too_low needs the signing secret or a credential weaker than ${methodRole}; credential "${credential.name}" is ${credential.role}`]);
      }
    }
    return problems;
  },
  exhaustiveTimeoutMs(options, target, timeoutMs) {
    // An upper bound: every cell the table can have, each session's authenticate, paced.
    const { cells } = buildMatrix(
      { methods: target.methods, sideEffectMethods: target.side_effect_methods, method: options.method, cases: options.cases, usages: options.usages, allowSideEffects: options.allow_side_effects },
      { canMint: true, role: 'viewer' },
    );
    const requests = cells.length + CREDENTIAL_CLASSES.length * 3;
    return timeoutMs + Math.ceil((requests * 60_000) / options.once_requests_per_minute);
  },
  async run(ctx) {
    const o = ctx.options;
    const { shared, periodMs, state } = sweepOf(ctx);
    const plan = shared.plan;

    const index = state.next % Math.max(1, plan.length);
    const batch: Group[] = plan[index] ?? [];
    const readParams = await positiveControl(ctx, batch);
    let checked = 0;
    const pacer = ctx.exhaustive ? evenPacer(o.once_requests_per_minute) : undefined;
    try {
      await runGroups(ctx, batch, { rejectCodes: o.reject_codes, allowSideEffects: o.allow_side_effects, pacer, readParams }, ({ cell, outcome }) => {
        state.record(cell, outcome);
        checked++;
      });
      // Only a batch checked to the end moves the sweep on: one that keeps failing stalls it, visibly.
      state.next = index + 1;
      state.checkedThisSweep += checked;
      if (state.next >= plan.length) {
        state.next = 0;
        state.lastSweepAtMs = Date.now();
        state.lastSweepChecked = state.checkedThisSweep;
        state.checkedThisSweep = 0;
      }
    } finally {
      ctx.reportAccess(report(shared, state, { periodMs, runs: plan.length, run: index, checked }));
    }
    verdict(state.findings(Infinity));
  },
});

/**
 * Proves the service up and accepting the valid credential before anything is judged,
 * and learns, read-only, the names the batch's resource reads need: `get_camera_list`
 * stands in for `ping` when a camera name is needed, so it costs nothing extra. The
 * credential goes per call: one request instead of two (`authenticate` is auth_flow's
 * to check), which keeps a sweep at the defaults well inside the service's budget.
 */
async function positiveControl(ctx: ProbeContext<ProtectedRejectionOptions>, batch: readonly Group[]): Promise<Record<string, Record<string, unknown>>> {
  const methods = new Set(batch.flatMap((g) => g.cells.map((c) => c.method)));
  const reads = Object.entries(RESOURCE_READS).filter(([method]) => methods.has(method));
  const conn = await ctx.connect();
  const params: Record<string, Record<string, unknown>> = {};
  const token = await ctx.credentials.valid();
  await ctx.step('control', async () => {
    const discoveries = new Set(reads.map(([, r]) => r.discovery));
    if (!discoveries.has('get_camera_list')) {
      const pong = await conn.call('ping', { auth_token: token });
      if (pong !== 'pong') throw new ProbeError('invalid_result', `control ping: result is ${describe(pong)}, expected "pong"`);
    }
    for (const discovery of discoveries) {
      const result = await conn.call(discovery, { auth_token: token });
      if (result === null || typeof result !== 'object') throw new ProbeError('invalid_result', `control ${discovery}: result is ${describe(result)}, expected an object`);
      for (const [method, read] of reads) {
        if (read.discovery !== discovery) continue;
        const name = firstName(result, read.param);
        // No camera or no recording: the placeholder can only be refused or "not found".
        params[method] = { [read.param]: name ?? `camprobe-no-such-${read.param}` };
      }
    }
  });
  await conn.close();
  return params;
}

/** The first `key` (`device`, `filename`) in a listing: `{cameras: [...]}`, `{files: [...]}` or a list. */
function firstName(result: object, key: string): string | undefined {
  const lists = Array.isArray(result) ? [result] : Object.values(result).filter(Array.isArray);
  for (const list of lists) {
    for (const item of list as unknown[]) {
      const value = typeof item === 'string' ? item : item !== null && typeof item === 'object' ? (item as Record<string, unknown>)[key] : undefined;
      if (typeof value === 'string' && value !== '' && value.length <= 256) return value;
    }
  }
  return undefined;
}

/** The matrix and its plan (shared), and the state of its cells, kept across the runs of one (target, probe). */
interface Sweep {
  shared: SharedSweep;
  periodMs: number;
  state: MatrixState;
}

/**
 * The sweep of this prepared probe: built on its first run and kept in its memory. The
 * options, target and credential cannot change under a prepared probe (a reload prepares a
 * changed probe afresh), so nothing here is rebuilt on later runs; the matrix and its plan
 * are shared with every probe of the same table (sharedSweep).
 */
function sweepOf(ctx: ProbeContext<ProtectedRejectionOptions>): Sweep {
  const key = `${MEMORY_KEY}:${ctx.exhaustive ? 'whole' : 'shared'}`;
  const kept = ctx.memory.get(key) as Sweep | undefined;
  if (kept) return kept;
  const o = ctx.options;
  const periodMs = parseDuration(o.sweep);
  const shared = sharedSweep(
    { methods: ctx.target.methods, sideEffectMethods: ctx.target.side_effect_methods, method: o.method, cases: o.cases, usages: o.usages, allowSideEffects: o.allow_side_effects },
    { canMint: ctx.credentials.canMint, role: ctx.credentials.role },
    ctx.exhaustive ? 1 : Math.max(1, Math.ceil(periodMs / Math.max(1, ctx.intervalMs))),
  );
  const sweep: Sweep = { shared, periodMs, state: new MatrixState(shared.matrix.cells, shared.index) };
  ctx.memory.set(key, sweep);
  return sweep;
}

function report(shared: SharedSweep, state: MatrixState, run: { periodMs: number; runs: number; run: number; checked: number }): AccessReport {
  return {
    cells: shared.matrix.cells.length,
    uncovered: shared.matrix.uncovered.length,
    uncoveredWhy: shared.uncoveredWhy,
    checked: run.checked,
    sweep: {
      periodMs: run.periodMs,
      runs: run.runs,
      run: run.run,
      lastCompletedAtMs: state.lastSweepAtMs ?? state.startedAtMs,
      lastCheckedCells: state.lastSweepChecked,
    },
    methods: state.methodStates(shared.methods),
    findings: state.findings(MAX_REPORT_FINDINGS),
  };
}

/**
 * Fails the run on the matrix's standing, not on this run's share alone: an exposure
 * found earlier in the sweep stays a failure until its cell is checked again and refused.
 * A method missing from the service (table drift) is reported, never a failure.
 */
function verdict(findings: AccessFinding[]): void {
  const exposed = findings.filter((f) => f.state === 'exposed');
  if (exposed.length > 0) {
    throw new ProbeError('security_violation', `exposed: ${describeFindings(exposed)}`, { step: 'reject' });
  }
  const unconfirmed = findings.filter((f) => f.state === 'unconfirmed');
  if (unconfirmed.length > 0) {
    throw new ProbeError('rejection_unconfirmed', `refusal unconfirmed (an error outside the refusal codes): ${describeFindings(unconfirmed)}`, { step: 'reject' });
  }
}

/** Ways listed per method in a failure's detail; the rest are counted. */
const MAX_DETAIL_WAYS = 3;

/**
 * Per method, the credentials it answered and what came back, short enough to read in a
 * page: "get_metrics to no credential, forged token per call (a result); ping to …".
 * At most MAX_DETAIL_FINDINGS methods and MAX_DETAIL_WAYS ways each, the rest counted.
 */
function describeFindings(findings: AccessFinding[]): string {
  const byMethod = new Map<string, { ways: string[]; got: Set<string> }>();
  for (const f of findings) {
    let entry = byMethod.get(f.method);
    if (!entry) byMethod.set(f.method, (entry = { ways: [], got: new Set() }));
    entry.ways.push(f.usage === 'none' ? f.credential : `${f.credential} ${f.usage === 'session' ? 'on a session' : 'per call'}`);
    entry.got.add(f.got);
  }
  const methods = [...byMethod];
  const shown = methods.slice(0, MAX_DETAIL_FINDINGS).map(([method, e]) => {
    const more = e.ways.length - MAX_DETAIL_WAYS;
    const ways = `${e.ways.slice(0, MAX_DETAIL_WAYS).join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
    return `${method} to ${ways} (${[...e.got].join(', ')})`;
  });
  const more = methods.length - shown.length;
  const head = methods.length > 1 ? `${methods.length} methods: ` : '';
  return `${head}${shown.join('; ')}${more > 0 ? `; and ${more} more method(s)` : ''}`;
}
