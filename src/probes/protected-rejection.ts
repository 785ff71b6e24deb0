/**
 * protected_rejection: a protected method must refuse callers without a valid, strong
 * enough credential. A result where a refusal was expected is a `security_violation`,
 * the most severe finding camprobe can make.
 *
 * Before judging, a positive control proves the service is up, speaks JSON-RPC and
 * accepts the valid credential: a service that is down or refuses everyone would
 * otherwise "pass" every rejection case.
 */
import type { Role, TargetConfig } from '../config/types.js';
import { roleBelow, roleRank } from '../config/methods.js';
import { AUTH_ERROR_CODES, RATE_LIMIT_CODE, type RpcConnection, type RpcResponse } from '../rpc/client.js';
import { openSession, describe } from './session.js';
import { defineProbe, type ProbeContext } from './types.js';
import { Type, enumOf, type Static } from '../config/schema-parts.js';
import { ProbeError } from '../core/outcome.js';

export const REJECTION_CASES = ['none', 'forged', 'expired', 'alg_none', 'malformed', 'role_too_low'] as const;
export type RejectionCase = (typeof REJECTION_CASES)[number];

const optionsSchema = Type.Object(
  {
    /** Default: every case the credential can produce (see defaultCases). */
    cases: Type.Optional(Type.Array(enumOf(REJECTION_CASES), { minItems: 1, uniqueItems: true })),
    /** The protected method to call. Default: an admin method that only reads. */
    method: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$', default: 'get_server_info' }),
    /** Error codes that count as "rejected" (default: the auth family, -32001 and -32003). */
    reject_codes: Type.Array(Type.Integer(), { minItems: 1, maxItems: 16, uniqueItems: true, default: [...AUTH_ERROR_CODES] }),
    /** Allows `method` to be one with side effects. Off by default, and see assertCannotSucceed. */
    allow_side_effects: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export type ProtectedRejectionOptions = Static<typeof optionsSchema>;

const DEFAULT_CASES: RejectionCase[] = ['none', 'forged', 'expired', 'alg_none', 'role_too_low'];

/**
 * The cases run when none are configured. A static token (the least-privilege mode)
 * cannot mint an expired token, so that case is left out rather than refused.
 */
function defaultCases(canMint: boolean): RejectionCase[] {
  return canMint ? DEFAULT_CASES : DEFAULT_CASES.filter((c) => c !== 'expired');
}

export const protectedRejection = defineProbe(optionsSchema, {
  type: 'protected_rejection',
  description: 'a protected method refuses missing, forged, expired, unsigned and too-weak credentials',
  validate(options, target, credential) {
    const problems: Array<[string, string]> = [];
    const methodRole = target.methods[options.method];
    if (methodRole === undefined) {
      problems.push(['method', `"${options.method}" is not in the target's method matrix; add it under the target's methods with the role it needs`]);
      return problems;
    }
    if (target.side_effect_methods.includes(options.method) && !options.allow_side_effects) {
      problems.push(['method', `"${options.method}" has side effects; choose a method that only reads, or set allow_side_effects: true`]);
    }
    const cases = options.cases ?? defaultCases(credential?.kind !== 'token');
    if (cases.includes('role_too_low')) {
      if (roleBelow(methodRole) === undefined) {
        problems.push(['cases', `role_too_low needs a method that requires more than viewer ("${options.method}" requires viewer)`]);
      } else if (credential && credential.kind === 'token' && roleRank(credential.role) >= roleRank(methodRole)) {
        problems.push(['cases', `role_too_low needs the signing secret or a credential weaker than ${methodRole}; credential "${credential.name}" is ${credential.role}`]);
      }
    }
    if (cases.includes('expired') && credential && credential.kind === 'token') {
      problems.push(['cases', `expired needs the signing secret (jwt_secret); credential "${credential.name}" is a static token`]);
    }
    return problems;
  },
  async run(ctx) {
    const { method } = ctx.options;
    const cases = ctx.options.cases ?? defaultCases(ctx.credentials.canMint);
    const methodRole = ctx.target.methods[method];
    if (methodRole === undefined) throw new ProbeError('internal', `"${method}" is not in the method matrix`);

    const control = await openSession(ctx);
    await ctx.step('control', async () => {
      const pong = await control.call('ping');
      if (pong !== 'pong') throw new ProbeError('invalid_result', `control ping: result is ${describe(pong)}, expected "pong"`);
    });
    await control.close();

    const violations: string[] = [];
    for (const kase of cases) {
      const credential = await credentialFor(ctx, kase, methodRole);
      const conn = await ctx.connect();
      const exposed = await ctx.step('reject', () => checkCase(ctx, conn, kase, credential));
      if (exposed.length > 0) violations.push(`${label(kase)}: ${exposed.join(', ')}`);
      await conn.close();
    }
    if (violations.length > 0) {
      throw new ProbeError('security_violation', `${method} exposed: ${violations.join('; ')}`, { step: 'reject' });
    }
  },
});

interface CaseCredential {
  token?: string;
  /** The role of a valid token; undefined for an invalid one. */
  validRole?: Role;
}

async function credentialFor(ctx: ProbeContext<ProtectedRejectionOptions>, kase: RejectionCase, methodRole: Role): Promise<CaseCredential> {
  const creds = ctx.credentials;
  switch (kase) {
    case 'none':
      return {};
    case 'role_too_low': {
      const below = roleBelow(methodRole);
      if (below && creds.canMint) return { token: await creds.mint(below), validRole: below };
      if (roleRank(creds.role) < roleRank(methodRole)) return { token: await creds.valid(), validRole: creds.role };
      throw new ProbeError('internal', `no credential weaker than ${methodRole} is available for role_too_low`);
    }
    default:
      // A bad token claims the role the method needs: accepted, it would succeed.
      return { token: await creds.bad(kase, methodRole) };
  }
}

/**
 * Refuses, in code, to call a method with a credential that could succeed. Rejection
 * probes must never run a protected method for real; a side-effecting one least of all.
 */
export function assertCannotSucceed(target: TargetConfig, method: string, validRole: Role | undefined, allowSideEffects: boolean): void {
  const needed = target.methods[method];
  if (needed === undefined) throw new ProbeError('internal', `refusing to call "${method}": its role is unknown`);
  if (validRole !== undefined && roleRank(validRole) >= roleRank(needed)) {
    throw new ProbeError('internal', `refusing to call "${method}" with a ${validRole} credential that could succeed`);
  }
  if (target.side_effect_methods.includes(method) && !allowSideEffects) {
    throw new ProbeError('internal', `refusing to call "${method}": it has side effects`);
  }
}

/** Judges one case; returns where the protected method was exposed (empty when it was not). */
async function checkCase(
  ctx: ProbeContext<ProtectedRejectionOptions>,
  conn: RpcConnection,
  kase: RejectionCase,
  credential: CaseCredential,
): Promise<string[]> {
  const { method, reject_codes: rejectCodes, allow_side_effects: allowSideEffects } = ctx.options;
  assertCannotSucceed(ctx.target, method, credential.validRole, allowSideEffects);
  const exposed: string[] = [];
  const judge = (where: string, response: RpcResponse) => {
    if (response.ok) exposed.push(`answered ${where}`);
    else expectRejection(`${method} ${where} with a ${label(kase)}`, response, rejectCodes);
  };

  if (credential.token === undefined) {
    judge('with no credential', await conn.request(method));
    return exposed;
  }
  const token = credential.token;
  judge('per call', await conn.request(method, { auth_token: token }));

  const auth = await conn.request('authenticate', { auth_token: token });
  if (kase === 'role_too_low') {
    if (!auth.ok || !isAuthenticated(auth.result)) {
      // The weak credential is valid: if it is refused, the case cannot be judged.
      throw new ProbeError('auth_rejected', `authenticate refused the valid ${credential.validRole} credential used for role_too_low`);
    }
  } else if (auth.ok) {
    if (isAuthenticated(auth.result)) exposed.push('accepted by authenticate');
  } else {
    expectRejection(`authenticate with a ${label(kase)}`, auth, rejectCodes);
  }
  judge('on the session', await conn.request(method));
  return exposed;
}

function expectRejection(what: string, response: { ok: false; error: { code: number; message: string } }, rejectCodes: number[]): void {
  const { code, message } = response.error;
  if (code === RATE_LIMIT_CODE) throw new ProbeError('rate_limited', `${what}: rate limited (${code})`);
  if (!rejectCodes.includes(code)) {
    throw new ProbeError('rpc_error', `${what}: expected a rejection (${rejectCodes.join(', ')}), got error ${code} ${message.slice(0, 120)}`);
  }
}

function isAuthenticated(result: unknown): boolean {
  return result !== null && typeof result === 'object' && (result as Record<string, unknown>).authenticated === true;
}

function label(kase: RejectionCase): string {
  switch (kase) {
    case 'forged':
      return 'forged token';
    case 'expired':
      return 'expired token';
    case 'alg_none':
      return 'unsigned (alg none) token';
    case 'malformed':
      return 'malformed token';
    case 'role_too_low':
      return 'too-low role';
    default:
      return 'missing credential';
  }
}

