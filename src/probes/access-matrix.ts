/**
 * The access matrix: every protected method of a target's method→role table × every
 * credential the service must refuse, each used per call and on a session. This module is
 * pure (no sockets): which cells exist, which cannot be checked harmlessly (uncovered),
 * how a sweep is cut into runs within the service's request budget, how one answer is
 * judged, and what the latest result of every cell says about each method.
 */
import type { Role } from '../config/types.js';
import { roleRank } from '../config/methods.js';
import { sameOr, shared } from '../core/share.js';
import { ACCESS_STATES, type AccessFinding, type AccessState } from '../core/outcome.js';

/** Credentials that must be refused. `role_too_low` is a valid credential of a lower role. */
export const CREDENTIAL_CLASSES = ['none', 'forged', 'expired', 'alg_none', 'malformed', 'role_too_low'] as const;
export type CredentialClass = (typeof CREDENTIAL_CLASSES)[number];

/** How the credential is presented: `auth_token` in the call, or `authenticate` first. */
export const USAGES = ['per_call', 'session'] as const;
export type Usage = (typeof USAGES)[number];

/** One check: `method` called with a credential of `credential` class (of `role` for role_too_low). */
export interface Cell {
  method: string;
  credential: CredentialClass;
  /** `none` has one usage: there is nothing to present. */
  usage: Usage | 'none';
  /** The lower role, for role_too_low. */
  role?: Role;
}

export interface UncoveredCell extends Cell {
  /** Why the cell is left out, for people: shown in logs, /api/runs and the README. */
  why: string;
}

/**
 * Params for side-effecting methods that cannot name a real resource, so a call the
 * service wrongly authorises still fails on the missing camera or file and changes
 * nothing. A method with side effects and no entry here is uncovered: no params are
 * known that make it harmless (retention changes and cleanups act on everything).
 */
export const HARMLESS_PARAMS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = Object.freeze({
  take_snapshot: { device: 'camprobe-no-such-camera' },
  start_recording: { device: 'camprobe-no-such-camera' },
  stop_recording: { device: 'camprobe-no-such-camera' },
  delete_recording: { filename: 'camprobe-no-such-recording.mp4' },
  delete_snapshot: { filename: 'camprobe-no-such-snapshot.jpg' },
});

/**
 * Read-only methods that answer about one resource. Called without naming a real one, an
 * exposed method could only answer "not found" (an unconfirmed refusal); named, it answers
 * with a result, which is what an exposure is. The positive control learns a real name
 * with the valid credential (`discovery`), read-only like the method itself.
 */
export const RESOURCE_READS: Readonly<Record<string, { param: string; discovery: string }>> = Object.freeze({
  get_camera_status: { param: 'device', discovery: 'get_camera_list' },
  get_recording_info: { param: 'filename', discovery: 'list_recordings' },
});

/** What the credential at hand can produce. */
export interface CredentialAbility {
  /** The signing secret is held: any role and expired tokens can be minted. */
  canMint: boolean;
  /** The role of the configured credential (a static token can only be that role). */
  role: Role;
}

export interface MatrixScope {
  methods: Readonly<Record<string, Role>>;
  sideEffectMethods: readonly string[];
  /** Narrows to one method (`method:` in the config). */
  method?: string | undefined;
  /** Narrows to these classes (`cases:` in the config). */
  cases?: readonly CredentialClass[] | undefined;
  usages: readonly Usage[];
  /** Side-effecting methods without harmless params are checked anyway (the user said so). */
  allowSideEffects?: boolean | undefined;
}

export interface Matrix {
  cells: Cell[];
  uncovered: UncoveredCell[];
}

const ROLES_LOW_TO_HIGH: readonly Role[] = ['viewer', 'operator', 'admin'];

/** Every cell of the matrix, the ones that can be checked and the ones that cannot, in a stable order. */
export function buildMatrix(scope: MatrixScope, ability: CredentialAbility): Matrix {
  const cells: Cell[] = [];
  const uncovered: UncoveredCell[] = [];
  const methods = Object.keys(scope.methods)
    .filter((m) => scope.method === undefined || m === scope.method)
    .sort();
  const classes = CREDENTIAL_CLASSES.filter((c) => scope.cases === undefined || scope.cases.includes(c));
  for (const method of methods) {
    const needed = scope.methods[method]!;
    const sideEffects = scope.sideEffectMethods.includes(method);
    for (const credential of classes) {
      const roles = credential === 'role_too_low' ? ROLES_LOW_TO_HIGH.filter((r) => roleRank(r) < roleRank(needed)) : [undefined];
      for (const role of roles) {
        const usages: Array<Usage | 'none'> = credential === 'none' ? ['none'] : [...scope.usages];
        for (const usage of usages) {
          const cell: Cell = role === undefined ? { method, credential, usage } : { method, credential, usage, role };
          const why = uncoverable(cell, sideEffects && scope.allowSideEffects !== true, ability);
          if (why === undefined) cells.push(cell);
          else uncovered.push({ ...cell, why });
        }
      }
    }
  }
  return { cells, uncovered };
}

function uncoverable(cell: Cell, sideEffects: boolean, ability: CredentialAbility): string | undefined {
  if (sideEffects && !(cell.method in HARMLESS_PARAMS)) {
    return `${cell.method} has side effects and no params are known that make a wrongly accepted call harmless`;
  }
  if (cell.credential === 'expired' && !ability.canMint) return 'an expired token needs the signing secret (jwt_secret)';
  if (cell.credential === 'role_too_low' && !ability.canMint && cell.role !== ability.role) {
    return `a ${cell.role} token needs the signing secret; the static credential is ${ability.role}`;
  }
  return undefined;
}

/** A stable key for a cell, used for the latest-result map. */
export function cellKey(cell: Cell): string {
  return `${cell.method}|${cell.credential}|${cell.role ?? ''}|${cell.usage}`;
}

/** How a cell is described to people: "forged token per call", "viewer token on a session". */
export function describeCell(cell: Cell): string {
  const what = cell.credential === 'role_too_low' ? `${cell.role} token` : CLASS_LABELS[cell.credential];
  if (cell.usage === 'none') return what;
  return `${what} ${cell.usage === 'session' ? 'on a session' : 'per call'}`;
}

const CLASS_LABELS: Readonly<Record<CredentialClass, string>> = {
  none: 'no credential',
  forged: 'forged token',
  expired: 'expired token',
  alg_none: 'unsigned (alg none) token',
  malformed: 'malformed token',
  role_too_low: 'too-low role',
};

/**
 * A group of cells run together: per-call and no-credential cells on one unauthenticated
 * connection, session cells of one credential on one connection after one `authenticate`.
 */
export interface Group {
  kind: 'unauthenticated' | 'session';
  /** For a session group: the credential presented to `authenticate`. */
  credential?: CredentialClass;
  role?: Role;
  cells: Cell[];
}

/** The requests a group costs: one per cell, plus the `authenticate` of a session. */
export function groupCost(group: Group): number {
  return group.cells.length + (group.kind === 'session' ? 1 : 0);
}

/**
 * Cuts the matrix into `runs` batches of about equal cost, keeping each session's cells
 * together where they fit (every split session costs one more `authenticate`). Batch i
 * is what run i of a sweep checks; together the batches check every cell once.
 */
export function planSweep(cells: readonly Cell[], runs: number): Group[][] {
  const queue = groupCells(cells);
  let remaining = queue.reduce((n, g) => n + groupCost(g), 0);
  const count = Math.max(1, Math.min(runs, remaining));
  const batches: Group[][] = [];
  for (let b = 0; b < count && queue.length > 0; b++) {
    // Re-aimed at every batch, so the authenticates added by splits are spread too.
    const target = b === count - 1 ? Infinity : Math.ceil(remaining / (count - b));
    const batch: Group[] = [];
    let cost = 0;
    while (queue.length > 0 && cost < target) {
      const group = queue[0]!;
      const overhead = group.kind === 'session' ? 1 : 0;
      const take = Math.min(group.cells.length, Math.max(1, target - cost - overhead));
      const part: Group = { ...group, cells: group.cells.slice(0, take) };
      batch.push(part);
      cost += groupCost(part);
      if (take === group.cells.length) queue.shift();
      else {
        queue[0] = { ...group, cells: group.cells.slice(take) };
        remaining += overhead;
      }
    }
    remaining -= cost;
    batches.push(batch);
  }
  return batches;
}

function groupCells(cells: readonly Cell[]): Group[] {
  const open: Cell[] = [];
  const sessions = new Map<string, Group>();
  for (const cell of cells) {
    if (cell.usage !== 'session') {
      open.push(cell);
      continue;
    }
    const key = `${cell.credential}|${cell.role ?? ''}`;
    let group = sessions.get(key);
    if (!group) {
      group = { kind: 'session', credential: cell.credential, cells: [], ...(cell.role ? { role: cell.role } : {}) };
      sessions.set(key, group);
    }
    group.cells.push(cell);
  }
  // No-credential cells first on the connection: nothing presented before them can leak into them.
  open.sort((a, b) => Number(a.usage !== 'none') - Number(b.usage !== 'none'));
  const unauthenticated: Group[] = open.length > 0 ? [{ kind: 'unauthenticated', cells: open }] : [];
  return [...unauthenticated, ...sessions.values()];
}

/** What one must-refuse call came to. */
export type CellOutcome =
  /** Refused with a refusal code: as it must be. */
  | { state: 'refused' }
  /** Answered with a result: the method is exposed to this credential. */
  | { state: 'exposed'; got: string }
  /** An error outside the refusal codes: the call got past where it should have been refused, or the service is broken. */
  | { state: 'unconfirmed'; got: string }
  /** -32601: the method is not on the service; the configured table has drifted. */
  | { state: 'missing'; got: string };

export const METHOD_NOT_FOUND = -32601;

/** Judges a response to a call that must be refused. Rate limiting is the caller's to handle. */
export function judge(response: { ok: true } | { ok: false; error: { code: number; message: string } }, rejectCodes: readonly number[]): CellOutcome {
  if (response.ok) return { state: 'exposed', got: 'a result' };
  const { code, message } = response.error;
  if (rejectCodes.includes(code)) return { state: 'refused' };
  const got = `error ${code} ${message.slice(0, 80)}`.trim();
  if (code === METHOD_NOT_FOUND) return { state: 'missing', got };
  return { state: 'unconfirmed', got };
}

/** The refusal every healthy cell comes to: one object shared by all of them. */
const REFUSED: CellOutcome = Object.freeze({ state: 'refused' });

/**
 * The latest outcome of every cell of one probe, kept across the runs of a sweep: one slot
 * per cell of the (shared) matrix, so a thousand targets keep a thousand small arrays, not
 * a thousand maps of cell keys.
 */
export class MatrixState {
  private readonly outcomes: Array<CellOutcome | undefined>;
  private readonly index: ReadonlyMap<Cell, number>;
  /** Index of the next batch to run. */
  next = 0;
  /** Cells checked since the current sweep started. */
  checkedThisSweep = 0;
  /** Epoch ms the last complete sweep ended; undefined before the first. */
  lastSweepAtMs: number | undefined;
  /** Cells the last complete sweep checked. */
  lastSweepChecked = 0;
  /** The last methodStates answer, handed out again while nothing changed. */
  private lastStates: Record<string, AccessState> | undefined;

  /** Epoch ms the matrix started: stands for the last sweep until the first completes. */
  readonly startedAtMs = Date.now();

  /** `index`: each of `cells` to its position (shared with every state of the same matrix). */
  constructor(
    private readonly cells: readonly Cell[],
    index: ReadonlyMap<Cell, number> = indexCells(cells),
  ) {
    this.index = index;
    this.outcomes = new Array<CellOutcome | undefined>(cells.length).fill(undefined);
  }

  /** Records the outcome of one of this matrix's cells (others are ignored). */
  record(cell: Cell, outcome: CellOutcome): void {
    const i = this.index.get(cell);
    if (i === undefined) return;
    this.outcomes[i] = outcome.state === 'refused' ? REFUSED : outcome;
  }

  /** Each method's worst standing state over the latest results of its cells. */
  methodStates(methods: readonly string[]): Record<string, AccessState> {
    const states: Record<string, AccessState> = {};
    for (const m of methods) states[m] = 'unchecked';
    this.outcomes.forEach((outcome, i) => {
      if (outcome === undefined) return;
      const method = this.cells[i]!.method;
      const current = states[method] ?? 'unchecked';
      if (ACCESS_STATES.indexOf(outcome.state) < ACCESS_STATES.indexOf(current)) states[method] = outcome.state;
    });
    // The same standing as last time is the same object: runs kept in the history share it.
    return (this.lastStates = sameOr(this.lastStates, states));
  }

  /** The cells whose latest result is not a refusal, worst first, at most `limit`. */
  findings(limit: number): AccessFinding[] {
    const out: AccessFinding[] = [];
    this.outcomes.forEach((outcome, i) => {
      if (outcome === undefined || outcome.state === 'refused') return;
      const cell = this.cells[i]!;
      out.push({ method: cell.method, credential: describeCell({ ...cell, usage: 'none' }), usage: cell.usage, state: outcome.state, got: outcome.got });
    });
    if (out.length === 0) return NO_FINDINGS;
    // Worst first, then by method; within a method, in the order a sweep checks them
    // (no credential, then per call, then on a session), stable in matrix order.
    out.sort((a, b) => ACCESS_STATES.indexOf(a.state) - ACCESS_STATES.indexOf(b.state) || a.method.localeCompare(b.method) || USAGE_ORDER[a.usage] - USAGE_ORDER[b.usage]);
    return out.slice(0, limit);
  }
}

const USAGE_ORDER: Readonly<Record<Cell['usage'], number>> = { none: 0, per_call: 1, session: 2 };

/** No findings: one empty list for every report that has none (never written to). */
const NO_FINDINGS: AccessFinding[] = [];

function indexCells(cells: readonly Cell[]): Map<Cell, number> {
  return new Map(cells.map((cell, i) => [cell, i]));
}

/** A matrix and its sweep plan, immutable, shared by every probe built from the same inputs. */
export interface SharedSweep {
  matrix: Matrix;
  plan: Group[][];
  /** Each cell of `matrix.cells` to its position, for MatrixState. */
  index: ReadonlyMap<Cell, number>;
  /** The methods of the matrix, sorted; what the report lists. */
  methods: string[];
  /** Why cells are uncovered, each reason once with its count. */
  uncoveredWhy: Array<{ why: string; cells: number }>;
}

/** Distinct matrices kept for sharing; a fleet usually has one or a few tables. */
const MAX_SHARED = 64;
const SWEEPS = new Map<string, SharedSweep>();

/**
 * The matrix of `scope` and `ability` cut into `runs` batches. Every target with the same
 * table, options and credential ability gets the same object, so a thousand targets hold
 * one matrix, not a thousand (docs/performance.md, the fleet). Bounded: the oldest entry
 * goes when more than MAX_SHARED distinct matrices are asked for.
 */
export function sharedSweep(scope: MatrixScope, ability: CredentialAbility, runs: number): SharedSweep {
  const key = JSON.stringify([scope.methods, scope.sideEffectMethods, scope.method, scope.cases, scope.usages, scope.allowSideEffects, ability, runs]);
  return shared(SWEEPS, key, MAX_SHARED, () => {
    const matrix = buildMatrix(scope, ability);
    const why = new Map<string, number>();
    for (const cell of matrix.uncovered) why.set(cell.why, (why.get(cell.why) ?? 0) + 1);
    return {
      matrix,
      plan: planSweep(matrix.cells, runs),
      index: indexCells(matrix.cells),
      methods: [...new Set([...matrix.cells, ...matrix.uncovered].map((c) => c.method))].sort(),
      uncoveredWhy: [...why].map(([text, cells]) => ({ why: text, cells })),
    };
  });
}
