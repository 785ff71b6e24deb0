/**
 * What the session probe keeps between its runs (in the prepared probe's memory): the
 * held connection and what was seen on it, counters that only grow, the reconnect
 * backoff, and the standing security findings. Bounded: fixed counters, a few samples.
 */
import { sameOr } from '../core/share.js';
import {
  DISCONNECT_REASONS,
  EXPIRY_RESULTS,
  NOTIFICATION_METHODS,
  ProbeError,
  type DisconnectReason,
  type NotificationMethod,
  type SessionReport,
} from '../core/outcome.js';
import { decodeJwt } from 'jose';
import type { Notification, RpcConnection } from '../rpc/client.js';
import type { ExpiryCheck } from './session-expiry.js';
import type { ProbeContext } from './types.js';

/** Malformed notifications kept as samples; older ones are dropped. */
const MAX_SAMPLES = 5;
const MAX_SAMPLE_LENGTH = 200;

export interface SessionSettings {
  deadAfterMs: number;
  keepaliveMs: number | undefined;
  maxBackoffMs: number;
  intervalMs: number;
  expiry: ExpiryCheck | undefined;
}

/** The `exp` of a JWT in epoch ms; undefined for an API key or anything not a JWT. */
export function tokenExpiryMs(token: string): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return exp === undefined ? undefined : exp * 1000;
  } catch {
    // An API key, or anything else that is not a JWT: it does not expire as far as we know.
    return undefined;
  }
}

export class SessionState {
  conn: RpcConnection | undefined;
  lastDisconnect: string | undefined;
  readonly expiry: ExpiryCheck | undefined;
  private connectedAtMs: number | undefined;
  private everConnected = false;
  private lastInboundAtMs = 0;
  private tokenExpMs: number | undefined;
  private tokenRenewAtMs: number | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private failedAttempts = 0;
  private nextAttemptAtMs = 0;
  private heartbeatMs: number | undefined;
  private listener: RpcConnection | undefined;
  private unauthSeenAtRun = 0;
  private readonly counts = {
    disconnects: Object.fromEntries(DISCONNECT_REASONS.map((r) => [r, 0])) as Record<DisconnectReason, number>,
    reconnects: 0,
    heartbeatFailures: 0,
    notifications: Object.fromEntries(NOTIFICATION_METHODS.map((m) => [m, 0])) as Record<NotificationMethod, number>,
    invalidNotifications: 0,
    unauthenticated: 0,
  };
  private lastNotificationAtMs: number | undefined;
  private readonly samples: string[] = [];
  private unauthSample: string | undefined;

  constructor(private readonly settings: SessionSettings) {
    this.expiry = settings.expiry;
  }

  /** Takes a freshly authenticated connection as the held one. */
  attach(conn: RpcConnection, tokenExpMs: number | undefined): void {
    if (this.everConnected) this.counts.reconnects++;
    this.everConnected = true;
    this.conn = conn;
    this.failedAttempts = 0;
    this.connectedAtMs = Date.now();
    this.lastInboundAtMs = Date.now();
    this.renewed(tokenExpMs);
    conn.onNotification((n) => this.onNotification(n));
    conn.onEnd((why) => {
      // Ended under us (closed by the service, broken): noted now, counted when dropped.
      if (this.conn === conn) this.lastDisconnect = why.message;
    });
    if (this.settings.keepaliveMs !== undefined) {
      const timer = setInterval(() => {
        conn.ping().then(
          () => (this.lastInboundAtMs = Date.now()),
          () => undefined,
        );
      }, this.settings.keepaliveMs);
      timer.unref();
      this.keepalive = timer;
    }
  }

  /** Re-authenticated (or first authenticated) with a token expiring at `tokenExpMs`. */
  renewed(tokenExpMs: number | undefined): void {
    this.tokenExpMs = tokenExpMs;
    // Half the token's remaining life: the credential provider mints a new one by then too.
    this.tokenRenewAtMs = tokenExpMs === undefined ? undefined : Date.now() + (tokenExpMs - Date.now()) / 2;
  }

  /** Whether the session's token should be renewed before this run's heartbeat. */
  tokenExpiring(nowMs: number, intervalMs: number): boolean {
    if (this.tokenExpMs === undefined || this.tokenRenewAtMs === undefined) return false;
    return nowMs >= this.tokenRenewAtMs || nowMs + intervalMs >= this.tokenExpMs;
  }

  /** Drops the held connection when it ended or went silent; counts why. */
  async dropIfDead(nowMs: number): Promise<void> {
    const conn = this.conn;
    if (!conn) return;
    const pingAt = conn.lastServerPingAtMs ?? 0;
    const inbound = Math.max(this.lastInboundAtMs, pingAt);
    if (conn.ended) await this.drop(conn.ended.reason === 'closed' ? 'closed' : 'error', conn.ended.message);
    else if (nowMs - inbound > this.settings.deadAfterMs) {
      await this.drop('silent', `neither an answer nor a ping frame for ${Math.round((nowMs - inbound) / 1000)} s`);
    }
  }

  /** Closes the held connection, counting why it ended. */
  async drop(reason: DisconnectReason, detail: string): Promise<void> {
    const conn = this.conn;
    if (!conn) return;
    this.conn = undefined;
    this.connectedAtMs = undefined;
    this.counts.disconnects[reason]++;
    this.lastDisconnect = this.lastDisconnect && reason === 'closed' ? this.lastDisconnect : `${reason}: ${detail}`;
    clearInterval(this.keepalive);
    this.keepalive = undefined;
    this.nextAttemptAtMs = 0;
    await conn.close();
  }

  /** A reconnect attempt failed: the next waits longer (doubling from the interval, jittered). */
  attemptFailed(nowMs: number): void {
    this.failedAttempts++;
    const base = Math.min(this.settings.maxBackoffMs, this.settings.intervalMs * 2 ** (this.failedAttempts - 1));
    // Jitter spreads many camprobes (or targets) reconnecting to one recovering service.
    this.nextAttemptAtMs = this.failedAttempts > 1 ? nowMs + base * (0.5 + Math.random() / 2) : nowMs;
  }

  backoffLeftMs(nowMs: number): number {
    return Math.max(0, this.nextAttemptAtMs - nowMs);
  }

  heartbeatOk(ms: number): void {
    this.heartbeatMs = Math.round(ms * 1000) / 1000;
    this.lastInboundAtMs = Date.now();
  }

  heartbeatFailed(): void {
    this.counts.heartbeatFailures++;
  }

  /** Holds a connection that never authenticates; any notification on it is a violation. */
  async ensureListener(ctx: ProbeContext<{ listen_unauthenticated: boolean }>): Promise<void> {
    if (this.listener && !this.listener.ended) return;
    await this.listener?.close();
    const conn = await ctx.connectHeld();
    conn.onNotification((n) => {
      this.counts.unauthenticated++;
      this.unauthSample = sample(n, 'pushed to a connection that never authenticated');
    });
    this.listener = conn;
  }

  /** Fails the run on the standing security findings: expiry not enforced, state pushed to anyone. */
  throwStandingViolation(): void {
    const expiry = this.expiry?.violation;
    if (expiry) throw new ProbeError('security_violation', expiry);
    if (this.counts.unauthenticated > this.unauthSeenAtRun) {
      this.unauthSeenAtRun = this.counts.unauthenticated;
      throw new ProbeError('security_violation', `an unauthenticated connection received ${this.unauthSample ?? 'a notification'}`);
    }
  }

  /** The last report handed out, whose unchanged parts the next one shares. */
  private lastReport: SessionReport | undefined;

  report(): SessionReport {
    // Parts equal to the last report's are that report's objects: the runs the history and
    // the status page keep share them instead of holding a copy each (they never change).
    const prev = this.lastReport;
    const report: SessionReport = {
      up: this.conn !== undefined && !this.conn.ended,
      disconnects: sameOr(prev?.disconnects, this.counts.disconnects),
      reconnects: this.counts.reconnects,
      heartbeatFailures: this.counts.heartbeatFailures,
      notifications: sameOr(prev?.notifications, this.counts.notifications),
      invalidNotifications: this.counts.invalidNotifications,
      invalidSamples: sameOr(prev?.invalidSamples, this.samples),
      expiryChecks: sameOr(prev?.expiryChecks, this.expiry ? this.expiry.counts() : NO_EXPIRY_CHECKS),
      unauthenticatedNotifications: this.counts.unauthenticated,
    };
    this.lastReport = report;
    if (this.connectedAtMs !== undefined && report.up) report.connectedAtMs = this.connectedAtMs;
    if (this.lastDisconnect !== undefined) report.lastDisconnect = this.lastDisconnect;
    if (this.heartbeatMs !== undefined) report.heartbeatMs = this.heartbeatMs;
    if (this.conn?.lastServerPingAtMs !== undefined) report.lastServerPingAtMs = this.conn.lastServerPingAtMs;
    if (this.lastNotificationAtMs !== undefined) report.lastNotificationAtMs = this.lastNotificationAtMs;
    const last = this.expiry?.last;
    if (last !== undefined) report.lastExpiryCheck = last;
    this.heartbeatMs = undefined;
    return report;
  }

  private onNotification(n: Notification): void {
    const now = Date.now();
    this.lastInboundAtMs = now;
    this.lastNotificationAtMs = now;
    const method: NotificationMethod = n.method === 'camera_status_update' || n.method === 'recording_status_update' ? n.method : 'other';
    this.counts.notifications[method]++;
    const problem = method === 'other' ? undefined : shapeProblem(n.params);
    if (problem === undefined) return;
    this.counts.invalidNotifications++;
    this.samples.push(sample(n, problem));
    if (this.samples.length > MAX_SAMPLES) this.samples.shift();
  }
}

/**
 * What is wrong with a documented notification's params, or undefined: an object with a
 * non-empty `device` string and a `status` string (the API page; the rest varies).
 */
export function shapeProblem(params: unknown): string | undefined {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return 'params is not an object';
  const p = params as Record<string, unknown>;
  if (typeof p.device !== 'string' || p.device === '') return 'params.device is missing or not a string';
  if (typeof p.status !== 'string') return 'params.status is missing or not a string';
  return undefined;
}

function sample(n: Notification, problem: string): string {
  const text = `${n.method}: ${problem}: ${JSON.stringify(n.params ?? null)}`;
  return text.length > MAX_SAMPLE_LENGTH ? `${text.slice(0, MAX_SAMPLE_LENGTH - 1)}…` : text;
}

const NO_EXPIRY_CHECKS: SessionReport['expiryChecks'] = Object.freeze(Object.fromEntries(EXPIRY_RESULTS.map((r) => [r, 0])) as SessionReport['expiryChecks']);
