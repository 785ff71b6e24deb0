/**
 * The shape of `GET /api/status`, shared by the server (board.ts) and the page
 * (client/), which imports it as types only. Every string in it came from a run record:
 * already redacted, but still untrusted text from the service, to be shown as text.
 */
import type { AccessReport, Reason, RunResult, StepName } from '../core/outcome.js';

/**
 * What a (target, probe) is now, worst first: `security` (its last run was a
 * security_violation or a rejection_unconfirmed), `down` (any other failure),
 * `degraded` (succeeded but missed its `degraded_after` objective), `up`.
 */
export type ProbeState = 'security' | 'down' | 'degraded' | 'up';

/** One bar of the timeline: when the run started (epoch ms), how long it took (ms), what it came to. */
export type TimelineBar = [startedAtMs: number, durationMs: number, state: ProbeState];

/** A run, without its steps (those come from `/api/runs` when asked for). */
export interface RunBrief {
  startedAtMs: number;
  durationMs: number;
  result: RunResult;
  reason: Reason;
  step?: StepName;
  detail?: string;
  degraded?: boolean;
  values?: Record<string, number>;
  /**
   * Fields of the run record this page has no view for (a probe type added later, such as
   * a session probe's findings), shown generically as text.
   */
  extra?: Record<string, unknown>;
}

/** One (target, probe) as the status page shows it. */
export interface ProbeStatus {
  target: string;
  probe: string;
  type: string;
  state: ProbeState;
  /** The latest run's reason. */
  reason: Reason;
  /** When the current state began: the end of the first run in it (epoch ms). */
  sinceMs: number;
  /** True while the state has not changed since the first run camprobe recorded. */
  sinceFirstRun?: boolean;
  /** Changes whenever anything in this entry does. */
  rev: number;
  latest: RunBrief;
  lastFailure?: RunBrief;
  /** The last runs, oldest first. */
  timeline: TimelineBar[];
  /** The access matrix after the latest run that reported one (protected_rejection). */
  access?: AccessReport;
  /** When that run started (epoch ms): older than `latest` when the latest run reported none. */
  accessAtMs?: number;
}

/** `GET /api/status`. */
export interface StatusResponse {
  /** The server's clock when it answered (epoch ms). */
  generatedAtMs: number;
  /** Changes whenever any entry does (and differs between processes). */
  revision: string;
  counts: Record<ProbeState, number>;
  /** Ordered by target, then probe. */
  probes: ProbeStatus[];
}
