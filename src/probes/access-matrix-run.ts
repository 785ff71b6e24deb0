/**
 * Runs cells of the access matrix against the target: each group on its own connection,
 * every call guarded so it cannot succeed for real, every answer judged. The plan and the
 * verdicts are in access-matrix.ts; this file only talks to the service.
 */
import type { Role, TargetConfig } from '../config/types.js';
import { roleRank } from '../config/methods.js';
import { RATE_LIMIT_CODE, type RpcConnection, type RpcResponse } from '../rpc/client.js';
import { ProbeError } from '../core/outcome.js';
import { HARMLESS_PARAMS, judge, type Cell, type CellOutcome, type CredentialClass, type Group } from './access-matrix.js';
import type { ProbeContext } from './types.js';

export interface CellResult {
  cell: Cell;
  outcome: CellOutcome;
}

/** Paces requests under a per-minute budget; `undefined` budget: no pacing. */
export interface Pacer {
  /** Resolves when the next request may be sent; rejects when `signal` aborts. */
  take(signal: AbortSignal): Promise<void>;
}

/** A pacer spacing requests evenly at `perMinute` (the first goes at once). */
export function evenPacer(perMinute: number, now: () => number = Date.now): Pacer {
  const gapMs = 60_000 / perMinute;
  let nextAt = 0;
  return {
    take(signal) {
      const wait = Math.max(0, nextAt - now());
      nextAt = Math.max(nextAt, now()) + gapMs;
      if (wait === 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal.reason instanceof Error ? signal.reason : new ProbeError('timeout', 'aborted'));
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, wait);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}

interface RunOptions {
  /** Params for read-only methods that name a resource (a real camera, a real recording). */
  readParams?: Readonly<Record<string, Record<string, unknown>>>;
  rejectCodes: readonly number[];
  allowSideEffects: boolean;
  pacer?: Pacer | undefined;
}

/** Runs `groups` one after another, handing each cell's outcome to `onResult` as it comes. */
export async function runGroups(ctx: ProbeContext<any>, groups: readonly Group[], opts: RunOptions, onResult: (r: CellResult) => void): Promise<void> {
  const results = { push: onResult };
  for (const group of groups) {
    const conn = await ctx.connect();
    try {
      await ctx.step('reject', () => runGroup(ctx, conn, group, opts, results));
    } finally {
      await conn.close();
    }
  }
}

async function runGroup(ctx: ProbeContext<any>, conn: RpcConnection, group: Group, opts: RunOptions, results: { push(r: CellResult): void }): Promise<void> {
  const send = async (method: string, params?: Record<string, unknown>): Promise<RpcResponse> => {
    await opts.pacer?.take(ctx.signal);
    const response = await conn.request(method, params);
    if (!response.ok && response.error.code === RATE_LIMIT_CODE) {
      throw new ProbeError('rate_limited', `${method}: rate limited (${RATE_LIMIT_CODE}): the access matrix needs a longer sweep`);
    }
    return response;
  };
  if (group.kind === 'session') {
    const token = await tokenFor(ctx, group.credential!, group.role);
    const auth = await send('authenticate', { auth_token: token });
    const accepted = auth.ok && isAuthenticated(auth.result);
    if (group.credential === 'role_too_low' && !accepted) {
      // The weak credential is valid: refused, the cells cannot be judged.
      throw new ProbeError('auth_rejected', `authenticate refused the valid ${group.role} credential used for the too-low-role cells`);
    }
    for (const cell of group.cells) {
      guard(ctx, cell, opts.allowSideEffects);
      const outcome = judge(await send(cell.method, paramsFor(cell.method, opts)), opts.rejectCodes);
      // A bad token the service accepted on authenticate is an exposure of the session itself.
      const exposedByAuth = accepted && group.credential !== 'role_too_low' && outcome.state !== 'exposed';
      results.push({ cell, outcome: exposedByAuth ? { state: 'exposed', got: 'authenticate accepted the token' } : outcome });
    }
    return;
  }
  for (const cell of group.cells) {
    guard(ctx, cell, opts.allowSideEffects);
    const token = cell.usage === 'none' ? undefined : await tokenFor(ctx, cell.credential, cell.role);
    const params = { ...paramsFor(cell.method, opts), ...(token === undefined ? {} : { auth_token: token }) };
    results.push({ cell, outcome: judge(await send(cell.method, Object.keys(params).length > 0 ? params : undefined), opts.rejectCodes) });
  }
}

/** Params that cannot name a real resource for side-effecting methods; none for the others. */
function paramsFor(method: string, opts: RunOptions): Record<string, unknown> | undefined {
  const params = HARMLESS_PARAMS[method] ?? opts.readParams?.[method];
  return params ? { ...params } : undefined;
}

async function tokenFor(ctx: ProbeContext<any>, credential: CredentialClass, role: Role | undefined): Promise<string> {
  const creds = ctx.credentials;
  if (credential === 'role_too_low') {
    if (role === undefined) throw new ProbeError('internal', 'role_too_low cell without a role');
    if (creds.canMint) return creds.mint(role);
    if (creds.role === role) return creds.valid();
    throw new ProbeError('internal', `no ${role} credential is available`);
  }
  if (credential === 'none') throw new ProbeError('internal', 'no token for the none class');
  // A bad token claims admin: accepted, it could do anything; refused, it proves the check.
  return creds.bad(credential, 'admin');
}

/**
 * Refuses, in code, to make a call that could succeed for real: a credential strong
 * enough for the method (`validRole`; undefined for an invalid credential), or a
 * side-effecting method unless its params are known to be harmless or the user allowed
 * side effects. Rejection checks must never run a protected method for real.
 */
export function assertCannotSucceed(target: TargetConfig, method: string, validRole: Role | undefined, allowSideEffects: boolean): void {
  const needed = target.methods[method];
  if (needed === undefined) throw new ProbeError('internal', `refusing to call "${method}": its role is unknown`);
  if (validRole !== undefined && roleRank(validRole) >= roleRank(needed)) {
    throw new ProbeError('internal', `refusing to call "${method}" with a ${validRole} credential that could succeed`);
  }
  if (target.side_effect_methods.includes(method) && !(method in HARMLESS_PARAMS) && !allowSideEffects) {
    throw new ProbeError('internal', `refusing to call "${method}": it has side effects`);
  }
}

function guard(ctx: ProbeContext<any>, cell: Cell, allowSideEffects: boolean): void {
  if (cell.credential === 'role_too_low' && cell.role === undefined) throw new ProbeError('internal', 'role_too_low cell without a role');
  assertCannotSucceed(ctx.target, cell.method, cell.credential === 'role_too_low' ? cell.role : undefined, allowSideEffects);
}

function isAuthenticated(result: unknown): boolean {
  return result !== null && typeof result === 'object' && (result as Record<string, unknown>).authenticated === true;
}
