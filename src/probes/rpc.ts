/**
 * rpc: call any method, with params and a chosen credential, and judge the answer
 * without writing code: a result (checked against a JSON Schema and path assertions) or
 * an error (with which codes), within a latency limit.
 *
 * A method with side effects is refused unless `allow_side_effects: true`, at config load
 * and again in code before the call, as for rejection probes.
 */
import { BAD_CREDENTIALS, type BadCredential } from '../auth/credentials.js';
import { ROLES, type Role } from '../config/types.js';
import { RATE_LIMIT_CODE, errorResponseToProbeError, type RpcConnection } from '../rpc/client.js';
import { assertionsSchema, checkAnswer, latencyProblem, latencySchema, withinLatency } from './assertions.js';
import { schemaProblem } from '../contract/user-schema.js';
import { authenticate, describe } from './session.js';
import { defineProbe, type ProbeContext } from './types.js';
import { Type, enumOf, jsonObject, type Static } from '../config/schema-parts.js';
import { ProbeError } from '../core/outcome.js';

/** `valid`: the target's credential; a role: a token minted for it; `none` or a bad kind: must be refused. */
export const RPC_CREDENTIALS = ['valid', 'none', ...ROLES, ...BAD_CREDENTIALS] as const;
export type RpcCredential = (typeof RPC_CREDENTIALS)[number];

const optionsSchema = Type.Object(
  {
    method: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
    params: Type.Optional(jsonObject({ maxProperties: 64 })),
    credential: enumOf(RPC_CREDENTIALS, { default: 'valid' }),
    /** `session`: authenticate first, then call; `per_call`: `auth_token` in the params. */
    auth: enumOf(['session', 'per_call'], { default: 'session' }),
    expect: enumOf(['result', 'error'], { default: 'result' }),
    /** With `expect: error`: the codes that count (default: any error). */
    error_codes: Type.Optional(Type.Array(Type.Integer(), { minItems: 1, maxItems: 16, uniqueItems: true })),
    result_schema: Type.Optional(jsonObject()),
    assertions: Type.Optional(assertionsSchema),
    max_latency: Type.Optional(latencySchema),
    allow_side_effects: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export type RpcOptions = Static<typeof optionsSchema>;

export const rpc = defineProbe(optionsSchema, {
  type: 'rpc',
  description: 'call a method with params and a credential; assert a result (schema, paths) or an error, and its latency',
  validate(options, target, credential) {
    const problems: Array<[string, string]> = [];
    if (target.side_effect_methods.includes(options.method) && !options.allow_side_effects) {
      problems.push(['method', `"${options.method}" has side effects; choose a method that only reads, or set allow_side_effects: true`]);
    }
    if (options.params && Object.hasOwn(options.params, 'auth_token')) {
      problems.push(['params.auth_token', 'must not be set: credentials come from the credentials section (use credential: and auth: per_call)']);
    }
    const c = options.credential;
    if (credential?.kind === 'token' && (c === 'expired' || ((ROLES as readonly string[]).includes(c) && c !== credential.role))) {
      problems.push(['credential', `${c} needs the signing secret (jwt_secret); credential "${credential.name}" is a static ${credential.role} token`]);
    }
    if (options.expect === 'error') {
      if (options.result_schema) problems.push(['result_schema', 'only applies with expect: result']);
      if (options.assertions) problems.push(['assertions', 'only apply with expect: result']);
    } else if (options.error_codes) {
      problems.push(['error_codes', 'only apply with expect: error']);
    }
    if (options.result_schema) problems.push(...schemaProblem('result_schema', options.result_schema));
    problems.push(...latencyProblem('max_latency', options.max_latency));
    return problems;
  },
  async run(ctx) {
    const o = ctx.options;
    if (ctx.target.side_effect_methods.includes(o.method) && !o.allow_side_effects) {
      throw new ProbeError('internal', `refusing to call "${o.method}": it has side effects`);
    }
    const refusable = o.credential === 'none' || (BAD_CREDENTIALS as readonly string[]).includes(o.credential);
    const token = await tokenFor(ctx, o.credential);
    const conn = await ctx.connect();
    let params = o.params ? { ...o.params } : undefined;
    if (token !== undefined && o.auth === 'per_call') params = { ...params, auth_token: token };
    else if (token !== undefined) await ctx.step('authenticate', () => authenticateWith(conn, token, refusable, o.credential));

    await ctx.step('call', async () => {
      const response = await withinLatency(o.method, o.max_latency, () => conn.request(o.method, params));
      if (o.expect === 'error') {
        if (response.ok) {
          const got = `answered with a result (${describe(response.result)})`;
          if (refusable) throw new ProbeError('security_violation', `${o.method} ${got} to a ${label(o.credential)}`);
          throw new ProbeError('invalid_result', `${o.method}: expected an error, ${got}`);
        }
        const { code, message } = response.error;
        if (code === RATE_LIMIT_CODE && !o.error_codes?.includes(code)) throw errorResponseToProbeError(o.method, response.error);
        if (o.error_codes && !o.error_codes.includes(code)) {
          throw new ProbeError('rpc_error', `${o.method}: expected error ${o.error_codes.join(' or ')}, got ${code} ${message.slice(0, 120)}`);
        }
        return;
      }
      if (!response.ok) throw errorResponseToProbeError(o.method, response.error);
      checkAnswer(response.result, `${o.method} result`, { schema: o.result_schema, schemaField: 'result_schema', assertions: o.assertions });
    });
  },
});

async function tokenFor(ctx: ProbeContext<RpcOptions>, credential: RpcCredential): Promise<string | undefined> {
  const creds = ctx.credentials;
  if (credential === 'none') return undefined;
  if (credential === 'valid') return creds.valid();
  if ((ROLES as readonly string[]).includes(credential)) {
    const role = credential as Role;
    return role === creds.role ? creds.valid() : creds.mint(role);
  }
  // A bad token claims the strongest role, so that if it were accepted it could do anything.
  return creds.bad(credential as BadCredential, 'admin');
}

/** A valid credential must be accepted; a bad one may be refused here, but never accepted. */
async function authenticateWith(conn: RpcConnection, token: string, refusable: boolean, credential: RpcCredential): Promise<void> {
  if (!refusable) {
    await authenticate(conn, token);
    return;
  }
  const answer = await conn.request('authenticate', { auth_token: token });
  const result = answer.ok ? (answer.result as Record<string, unknown> | null) : null;
  if (result !== null && typeof result === 'object' && result.authenticated === true) {
    throw new ProbeError('security_violation', `authenticate accepted a ${label(credential)}`);
  }
}

function label(credential: RpcCredential): string {
  return credential === 'none' ? 'call without credential' : `${credential} token`;
}
