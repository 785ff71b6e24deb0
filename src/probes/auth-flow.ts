/**
 * auth_flow: a valid credential is accepted, the session carries the expected role, and
 * an authenticated call on that session works (`ping` answers "pong").
 */
import { ROLES } from '../config/types.js';
import { Type, enumOf, type Static } from '../config/schema-parts.js';
import { openSession, describe } from './session.js';
import { defineProbe } from './types.js';
import { ProbeError } from '../core/outcome.js';

const optionsSchema = Type.Object(
  {
    /** Role the service must report; default: the credential's own role. `any` skips the check. */
    expect_role: Type.Optional(enumOf([...ROLES, 'any'])),
  },
  { additionalProperties: false },
);

export type AuthFlowOptions = Static<typeof optionsSchema>;

export const authFlow = defineProbe(optionsSchema, {
  type: 'auth_flow',
  description: 'authenticate with a valid credential, then ping on the session',
  async run(ctx) {
    const wanted = ctx.options.expect_role ?? ctx.credentials.role;
    const conn = await openSession(ctx, wanted === 'any' ? undefined : wanted);
    const result = await ctx.step('call', () => conn.call('ping'));
    if (result !== 'pong') {
      throw new ProbeError('invalid_result', `ping: result is ${describe(result)}, expected "pong"`, { step: 'call' });
    }
  },
});
