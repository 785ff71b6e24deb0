/** What the positive probes share: open a connection and authenticate on it. */
import type { Role } from '../config/types.js';
import type { RpcConnection } from '../rpc/client.js';
import { errorResponseToProbeError } from '../rpc/client.js';
import { type ProbeContext } from './types.js';
import { ProbeError } from '../core/outcome.js';

export interface AuthResult {
  role: string;
}

/**
 * Calls `authenticate` and requires `authenticated === true`, and `expectRole` when
 * given. Only `authenticated` and `role` are relied on: deployments differ in the rest.
 */
export async function authenticate(conn: RpcConnection, token: string, expectRole?: Role): Promise<AuthResult> {
  const response = await conn.request('authenticate', { auth_token: token });
  if (!response.ok) {
    const err = errorResponseToProbeError('authenticate', response.error);
    // A refused valid credential is the auth failure this probe exists to catch, whatever the code.
    throw err.reason === 'rpc_error' ? new ProbeError('auth_rejected', err.message) : err;
  }
  const result = response.result;
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new ProbeError('invalid_result', `authenticate: result is not an object (${describe(result)})`);
  }
  const r = result as Record<string, unknown>;
  if (r.authenticated !== true) {
    throw new ProbeError('auth_rejected', `authenticate: "authenticated" is ${describe(r.authenticated)}, expected true`);
  }
  if (expectRole !== undefined && r.role !== expectRole) {
    throw new ProbeError('invalid_result', `authenticate: role is ${describe(r.role)}, expected "${expectRole}"`);
  }
  return { role: typeof r.role === 'string' ? r.role : '' };
}

/** Connects and authenticates with the target's valid credential, timing both. */
export async function openSession(ctx: ProbeContext<unknown>, expectRole?: Role): Promise<RpcConnection> {
  const conn = await ctx.connect();
  const token = await ctx.credentials.valid();
  await ctx.step('authenticate', () => authenticate(conn, token, expectRole));
  return conn;
}

/** A short, safe description of a JSON value for failure details. */
export function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
