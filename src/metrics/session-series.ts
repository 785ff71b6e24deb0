/**
 * The session probe's series, from the SessionReport its runs carry: counters that only
 * grow within the probe's life, the heartbeat histogram, the held connection's timestamps.
 * Labels are bounded: the reason, method and result sets are fixed in core/outcome.ts.
 */
import { DISCONNECT_REASONS, EXPIRY_RESULTS, NOTIFICATION_METHODS, type SessionReport } from '../core/outcome.js';
import { Buckets, CLOSE, NO_LABELS, histogramHeads, writeHistogram, type Family } from './exposition.js';
import { bytes } from './text-writer.js';

/** The warm-connection latency, around the 50 ms objective of status methods. */
const HEARTBEAT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** What a probe's series state needs to hold for these families. */
export interface HasSession {
  session: SessionSeries | undefined;
}

export interface SessionSeries {
  report: SessionReport;
  heartbeat: Buckets;
}

/** Takes a run's session report; the histogram observes its heartbeat. */
export function recordSession(state: HasSession, report: SessionReport): void {
  state.session ??= { report, heartbeat: new Buckets(HEARTBEAT_BUCKETS) };
  state.session.report = report;
  if (report.heartbeatMs !== undefined) state.session.heartbeat.observe(report.heartbeatMs / 1000);
}

function line(name: string, value: (r: SessionReport) => number | undefined): Family<HasSession>['write'] {
  const head = bytes(name + '{');
  return ({ item: p, labels }, w) => {
    const v = p.session && value(p.session.report);
    if (v !== undefined) w.sample(head, labels, CLOSE, v);
  };
}

function labelled<K extends string>(name: string, label: string, keys: readonly K[], value: (r: SessionReport, k: K) => number): Family<HasSession>['write'] {
  const head = bytes(name + '{');
  const tails = keys.map((k) => bytes(`,${label}="${k}"} `));
  return ({ item: p, labels }, w) => {
    if (p.session === undefined) return;
    for (let i = 0; i < keys.length; i++) w.sample(head, labels, tails[i]!, value(p.session.report, keys[i]!));
  };
}

const HEARTBEAT = histogramHeads('camprobe_session_heartbeat_duration_seconds');

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

export const SESSION_FAMILIES: ReadonlyArray<Family<HasSession>> = [
  { name: 'camprobe_session_up', type: 'gauge', help: 'Whether the held session connection is open and its last heartbeat answered (1), else 0.', write: line('camprobe_session_up', (r) => (r.up ? 1 : 0)) },
  {
    name: 'camprobe_session_connected_seconds',
    type: 'gauge',
    help: 'How long the current session connection has been up, seconds (0 while down).',
    write: line('camprobe_session_connected_seconds', (r) => (r.connectedAtMs === undefined ? 0 : Math.max(0, Math.round((Date.now() - r.connectedAtMs) / 1000)))),
  },
  {
    name: 'camprobe_session_disconnects_total',
    type: 'counter',
    help: 'Held session connections that ended, by why: closed by the service, heartbeat failed, silent (no answer nor ping frame), error.',
    write: labelled('camprobe_session_disconnects_total', 'reason', DISCONNECT_REASONS, (r, k) => r.disconnects[k]),
  },
  { name: 'camprobe_session_reconnects_total', type: 'counter', help: 'Session connections opened again after one ended.', write: line('camprobe_session_reconnects_total', (r) => r.reconnects) },
  {
    name: 'camprobe_session_heartbeat_duration_seconds',
    type: 'histogram',
    help: 'Latency of the heartbeat on the held session connection (the warm-connection latency), seconds.',
    write: ({ item: p, labels }, w) => {
      if (p.session) writeHistogram(w, HEARTBEAT, labels, NO_LABELS, p.session.heartbeat);
    },
  },
  { name: 'camprobe_session_heartbeat_failures_total', type: 'counter', help: 'Heartbeats on the held session connection that failed.', write: line('camprobe_session_heartbeat_failures_total', (r) => r.heartbeatFailures) },
  {
    name: 'camprobe_session_last_server_ping_timestamp_seconds',
    type: 'gauge',
    help: 'When the service last sent a WebSocket ping frame on the held connection, seconds since the epoch; absent before the first.',
    write: line('camprobe_session_last_server_ping_timestamp_seconds', (r) => seconds(r.lastServerPingAtMs)),
  },
  {
    name: 'camprobe_session_notifications_total',
    type: 'counter',
    help: 'Notifications received on the held session connection, by method (documented ones, else other).',
    write: labelled('camprobe_session_notifications_total', 'method', NOTIFICATION_METHODS, (r, k) => r.notifications[k]),
  },
  {
    name: 'camprobe_session_last_notification_timestamp_seconds',
    type: 'gauge',
    help: 'When the last notification arrived on the held session connection, seconds since the epoch; absent before the first.',
    write: line('camprobe_session_last_notification_timestamp_seconds', (r) => seconds(r.lastNotificationAtMs)),
  },
  { name: 'camprobe_session_invalid_notifications_total', type: 'counter', help: 'Notifications whose params did not have the documented shape.', write: line('camprobe_session_invalid_notifications_total', (r) => r.invalidNotifications) },
  {
    name: 'camprobe_session_expiry_checks_total',
    type: 'counter',
    help: 'Session-expiry checks by result: enforced (refused after exp, restored by a fresh token), not_enforced (a security regression), inconclusive.',
    write: labelled('camprobe_session_expiry_checks_total', 'result', EXPIRY_RESULTS, (r, k) => r.expiryChecks[k]),
  },
  {
    name: 'camprobe_session_unauthenticated_notifications_total',
    type: 'counter',
    help: 'Notifications a connection that never authenticated received (a security regression).',
    write: line('camprobe_session_unauthenticated_notifications_total', (r) => r.unauthenticatedNotifications),
  },
];
