/**
 * auth_flow: a valid credential is accepted, the session carries the expected role, and
 * an authenticated call on that session works (`ping` answers "pong").
 */
import { ROLES, type Role } from '../config/types.js';
import { openSession, describe } from './session.js';
import { type ProbeDefinition } from './types.js';
import { ProbeError } from '../core/outcome.js';

export interface AuthFlowOptions {
  /** Role the service must report; default: the credential's own role. `any` skips the check. */
  expect_role?: Role | 'any';
}

export const authFlow: ProbeDefinition<AuthFlowOptions> = {
  type: 'auth_flow',
  description: 'authenticate with a valid credential, then ping on the session',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      expect_role: { enum: [...ROLES, 'any'] },
    },
  },
  async run(ctx) {
    const wanted = ctx.options.expect_role ?? ctx.credentials.role;
    const conn = await openSession(ctx, wanted === 'any' ? undefined : wanted);
    const result = await ctx.step('call', () => conn.call('ping'));
    if (result !== 'pong') {
      throw new ProbeError('invalid_result', `ping: result is ${describe(result)}, expected "pong"`, { step: 'call' });
    }
  },
};
