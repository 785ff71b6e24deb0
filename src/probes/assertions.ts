/**
 * What the generic probes (`rpc`, `http`) and contract validation share: user-written JSON
 * Schemas, compiled once at config load, and simple assertions on a JSON pointer.
 */
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { compileUserSchema, schemaMismatch } from '../contract/user-schema.js';
import { DURATION_HINT, parseDuration } from '../core/duration.js';
import { Type, duration, type Static } from '../config/schema-parts.js';
import { ProbeError, type FailureReason } from '../core/outcome.js';
import { describe } from './session.js';

/** The options schema of an `assertions` list: checks on values at JSON pointers (RFC 6901) into an answer. */
export const assertionsSchema = Type.Array(
  Type.Object(
    {
      path: Type.String({
        maxLength: 256,
        pattern: '^(/[^/]*)*$',
        'x-message': 'must be a JSON pointer like /cameras/0/status (or "" for the whole answer)',
      }),
      equals: Type.Optional(Type.Unknown()),
      one_of: Type.Optional(Type.Array(Type.Unknown(), { minItems: 1, maxItems: 64 })),
      exists: Type.Optional(Type.Boolean()),
      min: Type.Optional(Type.Number()),
      max: Type.Optional(Type.Number()),
    },
    {
      additionalProperties: false,
      minProperties: 2,
      'x-message': 'must be { path: /json/pointer, and one or more of equals, one_of, exists, min, max }',
    },
  ),
  { maxItems: 32 },
);

/** One check on the value at a JSON pointer (RFC 6901) into an answer. */
export type PathAssertion = Static<typeof assertionsSchema>[number];

const MISSING = Symbol('missing');

function resolvePointer(data: unknown, pointer: string): unknown {
  if (pointer === '') return data;
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^(0|[1-9]\d*)$/.test(key) && Number(key) < node.length) node = node[Number(key)];
    else if (node !== null && typeof node === 'object' && !Array.isArray(node) && Object.hasOwn(node, key)) {
      node = (node as Record<string, unknown>)[key];
    } else return MISSING;
  }
  return node;
}

/** Throws a ProbeError (`reason`) naming the first assertion `data` fails. */
export function checkAssertions(data: unknown, assertions: readonly PathAssertion[], what: string, reason: FailureReason = 'invalid_result'): void {
  for (const a of assertions) {
    const value = resolvePointer(data, a.path);
    const at = `${what} ${a.path === '' ? '(root)' : a.path}`;
    const fail = (expected: string) =>
      new ProbeError(reason, `${at} is ${value === MISSING ? 'missing' : describe(value)}, expected ${expected}`);
    if (a.exists !== undefined && (value !== MISSING) !== a.exists) throw fail(a.exists ? 'it to exist' : 'it to be absent');
    if (value === MISSING) {
      if (a.exists === false) continue;
      throw fail(a.equals !== undefined ? describe(a.equals) : 'a value');
    }
    if (a.equals !== undefined && !isDeepStrictEqual(value, a.equals)) throw fail(describe(a.equals));
    if (a.one_of !== undefined && !a.one_of.some((v) => isDeepStrictEqual(value, v))) throw fail(`one of ${describe(a.one_of)}`);
    if (a.min !== undefined && !(typeof value === 'number' && value >= a.min)) throw fail(`a number >= ${a.min}`);
    if (a.max !== undefined && !(typeof value === 'number' && value <= a.max)) throw fail(`a number <= ${a.max}`);
  }
}

/** The options schema of a latency limit (`max_latency: 500ms`). */
export const latencySchema = duration();

/** `[field, message]` when a latency limit is not a duration from 1 ms to 1 h. */
export function latencyProblem(field: string, value: string | undefined): Array<[string, string]> {
  if (value === undefined) return [];
  try {
    const ms = parseDuration(value);
    return ms >= 1 && ms <= 3_600_000 ? [] : [[field, 'must be from 1ms to 1h']];
  } catch {
    return [[field, DURATION_HINT]];
  }
}

/** Awaits `answer()`; fails with `timeout` when it took longer than `limit` (a checked duration). */
export async function withinLatency<T>(what: string, limit: string | undefined, answer: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const value = await answer();
  const ms = performance.now() - start;
  if (limit !== undefined && ms > parseDuration(limit)) {
    throw new ProbeError('timeout', `${what} answered in ${Math.round(ms)} ms, over max_latency ${limit}`);
  }
  return value;
}

/** Checks an answer against a user schema (named `schemaField` in details) and path assertions. */
export function checkAnswer(
  data: unknown,
  what: string,
  checks: { schema?: Record<string, unknown> | undefined; schemaField: string; assertions?: readonly PathAssertion[] | undefined },
): void {
  if (checks.schema) {
    const mismatch = schemaMismatch(compileUserSchema(checks.schema), data);
    if (mismatch) throw new ProbeError('invalid_result', `${what} ${mismatch} (${checks.schemaField})`);
  }
  if (checks.assertions) checkAssertions(data, checks.assertions, what);
}
