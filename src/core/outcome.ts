/**
 * What a probe run comes to: the steps it is made of, why it ended, the expected-failure
 * error probes throw, and the record the runner keeps. The leaf of camprobe's layers:
 * every other module may import it, it imports nothing of camprobe's.
 */
/** Steps a run is made of. A fixed set: it becomes a metrics label. */
export const STEPS = [
  'dns',
  'connect',
  'tls',
  'upgrade',
  'authenticate',
  'call',
  'control',
  'reject',
] as const;
export type StepName = (typeof STEPS)[number];

/** Why a run ended. A fixed set: it becomes a metrics label. */
export const REASONS = [
  'ok',
  'timeout',
  'dns',
  'connect_refused',
  'connect_error',
  'tls',
  'upgrade_rejected',
  'closed',
  'protocol_error',
  'auth_rejected',
  'rpc_error',
  'invalid_result',
  'rate_limited',
  'security_violation',
  'rejection_unconfirmed',
  'contract_violation',
  'internal',
] as const;
export type Reason = (typeof REASONS)[number];
export type FailureReason = Exclude<Reason, 'ok'>;

export type RunResult = 'success' | 'failure';

/**
 * An expected failure of a probe run. Anything else a probe throws is a bug and is
 * classified `internal` by the runner.
 */
export class ProbeError extends Error {
  readonly reason: FailureReason;
  step: StepName | undefined;

  constructor(reason: FailureReason, message: string, options: { step?: StepName; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProbeError';
    this.reason = reason;
    this.step = options.step;
  }
}

/** One timed step of a run; times are milliseconds, `startMs` relative to the run start. */
export interface StepRecord {
  step: StepName;
  startMs: number;
  durationMs: number;
  ok: boolean;
}

/** What the runner records of one finished run. Every string in it is already redacted. */
export interface RunRecord {
  target: string;
  probe: string;
  type: string;
  /** ISO-8601 time the run started. */
  startedAt: string;
  /** Epoch milliseconds the run started (for metrics timestamps). */
  startedAtMs: number;
  /** Epoch milliseconds the scheduler meant the run to start, when scheduled. */
  scheduledAtMs?: number;
  durationMs: number;
  result: RunResult;
  reason: Reason;
  /** The step that failed, when one did. */
  step?: StepName;
  /** Human-readable failure detail, redacted and bounded in length. */
  detail?: string;
  steps: StepRecord[];
  /**
   * A successful run slower than its `degraded_after` objective: still up, but slow.
   * `detail` then says which threshold was passed. Never set on a failed run.
   */
  degraded?: boolean;
  /** Values a probe reported (for example camera counts), exported as gauges. */
  values?: Record<string, number>;
  /** What the access matrix stands at after this run (protected_rejection only). */
  access?: AccessReport;
  /** The held connection's story so far (the session probe only). */
  session?: SessionReport;
}

/** Why a held session connection ended. A fixed set: it becomes a metrics label. */
export const DISCONNECT_REASONS = ['closed', 'heartbeat_failed', 'silent', 'error'] as const;
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];

/** Notification methods counted apart; any other is `other`. A fixed set: a metrics label. */
export const NOTIFICATION_METHODS = ['camera_status_update', 'recording_status_update', 'other'] as const;
export type NotificationMethod = (typeof NOTIFICATION_METHODS)[number];

/** Results of a session-expiry check. A fixed set: a metrics label. */
export const EXPIRY_RESULTS = ['enforced', 'not_enforced', 'inconclusive'] as const;
export type ExpiryResult = (typeof EXPIRY_RESULTS)[number];

/**
 * The session probe's held connection after a run: counters since the probe started
 * (they only grow, like Prometheus counters), timestamps in epoch ms, bounded samples.
 */
export interface SessionReport {
  up: boolean;
  /** Epoch ms the current connection opened; undefined while down. */
  connectedAtMs?: number;
  /** Why the last connection ended, for people: "closed by the service (code 1006)". */
  lastDisconnect?: string;
  disconnects: Record<DisconnectReason, number>;
  reconnects: number;
  /** This run's heartbeat latency, when it answered. */
  heartbeatMs?: number;
  heartbeatFailures: number;
  lastServerPingAtMs?: number;
  notifications: Record<NotificationMethod, number>;
  lastNotificationAtMs?: number;
  invalidNotifications: number;
  /** The latest malformed notifications, redacted and bounded: what was wrong and an excerpt. */
  invalidSamples: string[];
  expiryChecks: Record<ExpiryResult, number>;
  /** The last finished expiry check, for people. */
  lastExpiryCheck?: string;
  unauthenticatedNotifications: number;
}

/** A method's standing in the access matrix, worst first. */
export const ACCESS_STATES = ['exposed', 'unconfirmed', 'missing', 'refused', 'unchecked'] as const;
export type AccessState = (typeof ACCESS_STATES)[number];

/** A cell whose latest check was not a refusal. */
export interface AccessFinding {
  method: string;
  /** The credential class, for people: "forged token", "viewer token", "no credential". */
  credential: string;
  usage: 'per_call' | 'session' | 'none';
  state: Exclude<AccessState, 'refused' | 'unchecked'>;
  /** What came back, bounded: "a result", "error -32603 Internal error". */
  got: string;
}

/**
 * The access matrix of one (target, probe) after a run: its size, the sweep's progress,
 * and the standing state of every method from the latest check of each of its cells.
 */
export interface AccessReport {
  cells: number;
  uncovered: number;
  /** Why cells are uncovered, each reason once with how many cells it leaves out. */
  uncoveredWhy: Array<{ why: string; cells: number }>;
  /** Cells this run checked. */
  checked: number;
  sweep: {
    periodMs: number;
    /** Runs a sweep takes, and which of them this was (0-based). */
    runs: number;
    run: number;
    /** Epoch ms the last complete sweep ended; the matrix's start before the first. */
    lastCompletedAtMs: number;
    /** Cells the last complete sweep checked (0 before the first). */
    lastCheckedCells: number;
  };
  methods: Record<string, AccessState>;
  /** Cells whose latest check was not a refusal, worst first, bounded. */
  findings: AccessFinding[];
}
