/**
 * session: one authenticated connection per target held open across runs, like the
 * operator consoles that are the service's real clients. Each run heartbeats on it (the
 * warm-connection latency), and the connection's life is watched between runs: server
 * ping frames, notifications (counted and validated), why it ended. On its own schedule
 * an expiry check proves a session is refused once its token's `exp` has passed; an
 * optional unauthenticated listener proves no notification reaches a caller who never
 * authenticated. A session answering after expiry, or state pushed to an unauthenticated
 * socket, is a `security_violation`.
 *
 * The connections are held (ctx.connectHeld): the runner closes them when the probe is
 * removed or changed, or camprobe stops; this file closes one it finds dead.
 */
import { Type, duration, type Static } from '../config/schema-parts.js';
import { parseDuration } from '../core/duration.js';
import { ProbeError, type SessionReport } from '../core/outcome.js';
import { AUTH_ERROR_CODES, errorResponseToProbeError, type RpcConnection } from '../rpc/client.js';
import { ExpiryCheck } from './session-expiry.js';
import { boundToRun } from './run-bound.js';
import { SessionState, tokenExpiryMs } from './session-state.js';
import { authenticate } from './session.js';
import { defineProbe, type ProbeContext } from './types.js';

const optionsSchema = Type.Object(
  {
    /** Called on the held connection every run: the heartbeat. Read-only methods only. */
    method: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$', default: 'ping' }),
    /** A connection that neither answers nor sends anything (ping frames included) this long is dead. */
    dead_after: duration({ default: '2m' }),
    /** Sends a WebSocket ping frame this often on the held connection; `off` sends none. */
    keepalive: Type.String({ maxLength: 32, default: 'off' }),
    /** Longest wait between reconnect attempts (backoff doubles from the interval, jittered). */
    max_backoff: duration({ default: '5m' }),
    /** How often the expiry check runs (needs the signing secret); `off` disables it. */
    expiry_check: Type.String({ maxLength: 32, default: '15m' }),
    /** Lifetime of the token the expiry check authenticates with (whole seconds). */
    expiry_ttl: duration({ default: '5s' }),
    /** Clock difference allowed between camprobe and the service when judging expiry. */
    clock_skew: duration({ default: '2s' }),
    /** Also holds a connection that never authenticates: any notification on it is a security violation. */
    listen_unauthenticated: Type.Boolean({ default: false }),
    /** Error codes that count as "refused" after expiry (default: the auth family). */
    reject_codes: Type.Array(Type.Integer(), { minItems: 1, maxItems: 16, uniqueItems: true, default: [...AUTH_ERROR_CODES] }),
  },
  { additionalProperties: false },
);

export type SessionOptions = Static<typeof optionsSchema>;

const MEMORY_KEY = 'session';

export const liveSession = defineProbe(optionsSchema, {
  type: 'session',
  description: 'holds one authenticated connection open: heartbeat, server pings, notifications, token expiry, nothing to unauthenticated callers',
  validate(options, target, credential) {
    const problems: Array<[string, string]> = [];
    if (target.methods[options.method] === undefined) {
      problems.push(['method', `"${options.method}" is not in the target's method matrix; add it under the target's methods with the role it needs`]);
    } else if (target.side_effect_methods.includes(options.method)) {
      problems.push(['method', `"${options.method}" has side effects; the heartbeat must only read (ping is the default)`]);
    }
    for (const key of ['dead_after', 'max_backoff', 'expiry_ttl', 'clock_skew'] as const) {
      if (!validDuration(options[key])) problems.push([key, 'must be a duration like 500ms, 15s, 1m or 1h']);
    }
    for (const key of ['keepalive', 'expiry_check'] as const) {
      if (options[key] !== 'off' && !validDuration(options[key])) problems.push([key, 'must be a duration like 30s or 15m, or off']);
    }
    if (options.expiry_check !== 'off' && credential?.kind === 'token') {
      problems.push(['expiry_check', `needs the signing secret (jwt_secret) to mint a short-lived token; credential "${credential.name}" is a static token: set expiry_check: off`]);
    }
    return problems;
  },
  async run(ctx) {
    const state = stateOf(ctx);
    // A run cut off by its deadline is recorded before this function returns: it carries
    // the state as it stood, updated when the deadline drops the connection (heartbeat).
    ctx.reportSession(state.report());
    try {
      await ensureConnected(ctx, state);
      await renewIfExpiring(ctx, state);
      await heartbeat(ctx, state);
      if (state.expiry) await state.expiry.step(ctx);
      if (ctx.options.listen_unauthenticated) await state.ensureListener(ctx);
      state.throwStandingViolation();
    } finally {
      ctx.reportSession(state.report());
    }
  },
});

function validDuration(text: string): boolean {
  try {
    return parseDuration(text) > 0;
  } catch {
    return false;
  }
}

function stateOf(ctx: ProbeContext<SessionOptions>): SessionState {
  const kept = ctx.memory.get(MEMORY_KEY);
  if (kept instanceof SessionState) return kept;
  const o = ctx.options;
  const expiry =
    o.expiry_check !== 'off' && ctx.credentials.canMint
      ? new ExpiryCheck({
          everyMs: parseDuration(o.expiry_check),
          ttlMs: parseDuration(o.expiry_ttl),
          skewMs: parseDuration(o.clock_skew),
          method: o.method,
          rejectCodes: o.reject_codes,
        })
      : undefined;
  const state = new SessionState({
    deadAfterMs: parseDuration(o.dead_after),
    keepaliveMs: o.keepalive === 'off' ? undefined : parseDuration(o.keepalive),
    maxBackoffMs: parseDuration(o.max_backoff),
    intervalMs: ctx.intervalMs,
    expiry,
  });
  ctx.memory.set(MEMORY_KEY, state);
  return state;
}

/** Keeps the held connection: drops a dead one, reconnects with backoff, authenticates. */
async function ensureConnected(ctx: ProbeContext<SessionOptions>, state: SessionState): Promise<void> {
  await state.dropIfDead(Date.now());
  if (state.conn) return;
  const wait = state.backoffLeftMs(Date.now());
  if (wait > 0) {
    throw new ProbeError('closed', `session down${state.lastDisconnect ? ` (${state.lastDisconnect})` : ''}; next reconnect attempt in ${Math.ceil(wait / 1000)} s`);
  }
  let conn: RpcConnection | undefined;
  try {
    conn = await ctx.connectHeld();
    const token = await ctx.credentials.valid();
    const opened = conn;
    await ctx.step('authenticate', () => boundToRun(ctx, opened, () => authenticate(opened, token)));
    state.attach(conn, tokenExpiryMs(token));
  } catch (err) {
    await conn?.close();
    state.attemptFailed(Date.now());
    throw err;
  }
}

/** One call on the held connection, timed as `call`: the warm-connection latency. */
async function heartbeat(ctx: ProbeContext<SessionOptions>, state: SessionState): Promise<void> {
  const conn = state.conn!;
  const method = ctx.options.method;
  // The run's deadline also ends a heartbeat that never answers: the connection is then dead.
  const onAbort = () => {
    void state.drop('heartbeat_failed', `${method} got no answer within the run's timeout`);
    ctx.reportSession(state.report());
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const started = performance.now();
    const response = await ctx.step('call', () => conn.request(method));
    if (!response.ok) throw errorResponseToProbeError(`heartbeat ${method}`, response.error);
    state.heartbeatOk(performance.now() - started);
  } catch (err) {
    state.heartbeatFailed();
    if (err instanceof ProbeError && (err.reason === 'closed' || err.reason === 'protocol_error' || err.reason === 'timeout')) {
      await state.drop(err.reason === 'closed' ? 'closed' : 'heartbeat_failed', err.message);
    }
    throw err;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Authenticates again on the same connection before the session's token expires, as a
 * real client does: a correct service refuses the session after `exp`.
 */
async function renewIfExpiring(ctx: ProbeContext<SessionOptions>, state: SessionState): Promise<void> {
  const conn = state.conn;
  if (!conn || !state.tokenExpiring(Date.now(), ctx.intervalMs)) return;
  const token = await ctx.credentials.valid();
  await ctx.step('authenticate', () => boundToRun(ctx, conn, () => authenticate(conn, token), () => void state.drop('error', 'authenticate got no answer within the run\'s timeout')));
  state.renewed(tokenExpiryMs(token));
}

export type { SessionReport };
