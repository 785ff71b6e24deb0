/**
 * The session-expiry check: a session authenticated with a token about to expire must be
 * refused once `exp` (plus the allowed clock skew) has passed — the documented meaning of
 * -32001 "token expired" — and must accept a fresh `authenticate` on the same connection.
 * A session that keeps answering is a security regression.
 *
 * It spans runs instead of sleeping in one: a run opens the check's connection and
 * authenticates with a token living `ttl`; the first run after expiry judges it. So a
 * run never waits, and the check costs a handful of requests per period.
 */
import { EXPIRY_RESULTS, type ExpiryResult } from '../core/outcome.js';
import type { RpcConnection, RpcResponse } from '../rpc/client.js';
import { authenticate } from './session.js';
import { boundToRun } from './run-bound.js';
import type { ProbeContext } from './types.js';

export interface ExpirySettings {
  everyMs: number;
  ttlMs: number;
  skewMs: number;
  /** Called on the session before and after expiry (the heartbeat method: read-only). */
  method: string;
  rejectCodes: readonly number[];
}

type Phase = { kind: 'idle'; nextAtMs: number } | { kind: 'waiting'; conn: RpcConnection; judgeAtMs: number };

export class ExpiryCheck {
  /** Set while the last finished check found expiry not enforced; fails every run until one is. */
  violation: string | undefined;
  /** The last finished check, for people. */
  last: string | undefined;
  private phase: Phase = { kind: 'idle', nextAtMs: 0 };
  private readonly results = Object.fromEntries(EXPIRY_RESULTS.map((r) => [r, 0])) as Record<ExpiryResult, number>;

  constructor(private readonly settings: ExpirySettings) {}

  counts(): Record<ExpiryResult, number> {
    return { ...this.results };
  }

  /** Starts a check when one is due, judges one whose token has expired; otherwise nothing. */
  async step(ctx: ProbeContext<unknown>): Promise<void> {
    const now = Date.now();
    if (this.phase.kind === 'idle') {
      if (now >= this.phase.nextAtMs) await this.start(ctx);
      return;
    }
    if (this.phase.conn.ended) return this.finish('inconclusive', `the check's connection ended before expiry: ${this.phase.conn.ended.message}`);
    if (now >= this.phase.judgeAtMs) {
      const { conn } = this.phase;
      await ctx.step('control', () => boundToRun(ctx, conn, () => this.judge(ctx), () => void this.finish('inconclusive', "no answer within the run's timeout", conn)));
    }
  }

  private async start(ctx: ProbeContext<unknown>): Promise<void> {
    const { ttlMs, skewMs, method } = this.settings;
    const conn = await ctx.connectHeld();
    try {
      const token = await ctx.credentials.mint(ctx.credentials.role, Math.max(1, Math.round(ttlMs / 1000)));
      const before = await ctx.step('control', () =>
        boundToRun(ctx, conn, async () => {
          await authenticate(conn, token);
          return conn.request(method);
        }),
      );
      if (!before.ok) return this.finish('inconclusive', `${method} refused before the token expired (${before.error.code})`, conn);
      // exp has whole-second precision: judge past its end plus the allowed skew.
      this.phase = { kind: 'waiting', conn, judgeAtMs: Date.now() + Math.ceil(ttlMs / 1000) * 1000 + skewMs };
    } catch (err) {
      await conn.close();
      this.phase = { kind: 'idle', nextAtMs: Date.now() + this.settings.everyMs };
      throw err;
    }
  }

  private async judge(ctx: ProbeContext<unknown>): Promise<void> {
    if (this.phase.kind !== 'waiting') return;
    const { conn } = this.phase;
    const { method, rejectCodes } = this.settings;
    const after = await conn.request(method);
    if (after.ok) {
      return this.finish('not_enforced', `the session answered ${method} after its token expired (the service must refuse it: -32001 token expired)`, conn);
    }
    if (!rejectCodes.includes(after.error.code)) {
      return this.finish('inconclusive', `after expiry ${method} got error ${after.error.code}, not a refusal (${rejectCodes.join(', ')})`, conn);
    }
    // Refused as it must be; a fresh token must bring the session back on the same connection.
    try {
      await authenticate(conn, await ctx.credentials.valid());
    } catch (err) {
      await this.finish('inconclusive', 'a fresh authenticate was refused after expiry', conn);
      throw err;
    }
    const renewed: RpcResponse = await conn.request(method);
    if (!renewed.ok) return this.finish('inconclusive', `a fresh authenticate did not restore the session (${renewed.error.code})`, conn);
    return this.finish('enforced', `refused after expiry (${after.error.code}) and restored by a fresh authenticate`, conn);
  }

  private async finish(result: ExpiryResult, text: string, conn?: RpcConnection): Promise<void> {
    if (this.phase.kind === 'waiting' && conn === undefined) conn = this.phase.conn;
    this.results[result]++;
    this.last = `${result}: ${text}`;
    if (result === 'not_enforced') this.violation = text;
    else if (result === 'enforced') this.violation = undefined;
    this.phase = { kind: 'idle', nextAtMs: Date.now() + this.settings.everyMs };
    await conn?.close();
  }
}
