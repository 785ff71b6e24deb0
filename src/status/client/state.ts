/**
 * What a run says about its (target, probe): one definition for the server's board and
 * the page (which judges each run of `/api/runs` the same way). Pure: no DOM, no Node.
 */
import type { RunRecord } from '../../core/outcome.js';
import type { ProbeState } from '../wire.js';

/** Worst first: the page's order and `counts`'. */
export const PROBE_STATES: readonly ProbeState[] = ['security', 'down', 'degraded', 'up'];

/** A refusal that did not happen, or was not what it should be, is a security state, never just "down". */
export function stateOf(run: Pick<RunRecord, 'result' | 'reason' | 'degraded'>): ProbeState {
  if (run.result === 'failure') return run.reason === 'security_violation' || run.reason === 'rejection_unconfirmed' ? 'security' : 'down';
  return run.degraded ? 'degraded' : 'up';
}

/** A symbol per state, so no state rests on colour alone. */
export const SYMBOL: Readonly<Record<ProbeState, string>> = { security: '⚠', down: '✖', degraded: '◷', up: '✔' };

/** The state in words; a security state says which finding it is. */
export function stateLabel(state: ProbeState, reason: string): string {
  if (state === 'security') return reason === 'rejection_unconfirmed' ? 'Security: rejection unconfirmed' : 'Security violation';
  return { down: 'Down', degraded: 'Degraded', up: 'Up' }[state];
}
