/**
 * Checking data against a schema with ajv, and turning ajv's errors into messages that say
 * what is wrong and what is allowed.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { quote } from '../core/text.js';
import { jwtCredentialSchema, rootSchema, tokenCredentialSchema } from './schema.js';
import type { Static, TSchema } from './schema-parts.js';
import type { Path, SchemaProblem } from './problems.js';

// Coercion turns `${PORT}` (a string after interpolation) into the number the schema wants.
const ajv = new Ajv({
  allErrors: true,
  verbose: true,
  coerceTypes: true,
  useDefaults: true,
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
});
ajv.addKeyword('x-message');

/** Compiles one of camprobe's own schemas; the validator narrows data to the schema's type. */
export function compile<S extends TSchema>(schema: S): ValidateFunction<Static<S>> {
  return ajv.compile<Static<S>>(schema);
}

export const validateRoot = compile(rootSchema);
export const validateJwtCredential = compile(jwtCredentialSchema);
export const validateTokenCredential = compile(tokenCredentialSchema);

const compiled = new WeakMap<object, ValidateFunction>();

/** Compiles a probe type's options schema once (schemas are long-lived objects). */
export function compileOptionsSchema(schema: Record<string, unknown>): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/**
 * Runs `validate` on `data` (coercing and filling defaults in place) and returns its errors
 * as problems under `base`. `extraAllowed` names keys accepted beside the schema's own at
 * the top of `data` (the base keys of a probe entry).
 */
export function check(
  validate: ValidateFunction,
  data: unknown,
  base: Path,
  extraAllowed: readonly string[] = [],
): SchemaProblem[] {
  if (validate(data)) return [];
  const problems: SchemaProblem[] = [];
  for (const error of validate.errors ?? []) {
    // The inner error of a `propertyNames` failure; the outer one is reported.
    if (error.propertyName !== undefined) continue;
    const path = [...base, ...pointerToPath(error.instancePath, data)];
    problems.push(describe(error, path, error.instancePath === '' ? extraAllowed : []));
  }
  return problems;
}

function describe(error: ErrorObject, path: Path, extraAllowed: readonly string[]): SchemaProblem {
  const schema = (error.parentSchema ?? {}) as Record<string, any>;
  const params = error.params as Record<string, any>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const allowed = [...extraAllowed, ...Object.keys(schema.properties ?? {})];
      const key = String(params.additionalProperty);
      const hint = allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : '';
      return { path, at: [...path, key], message: `unknown key ${quote(key)}${hint}` };
    }
    case 'required':
      return { path: [...path, String(params.missingProperty)], message: 'is required' };
    case 'propertyNames': {
      const key = String(params.propertyName);
      const rule = schema.propertyNames?.['x-message'] ?? `must match ${schema.propertyNames?.pattern}`;
      return { path, at: [...path, key], message: `invalid key ${quote(key)}: ${rule}` };
    }
  }
  if (typeof schema['x-message'] === 'string') return { path, message: schema['x-message'] };
  switch (error.keyword) {
    case 'type':
    case 'minimum':
    case 'maximum':
      if (schema.minimum !== undefined && schema.maximum !== undefined) {
        const what = schema.type === 'integer' ? 'an integer' : 'a number';
        return { path, message: `must be ${what} from ${schema.minimum} to ${schema.maximum}` };
      }
      return { path, message: error.keyword === 'type' ? `must be ${TYPE_NAMES[params.type] ?? params.type}` : error.message ?? 'is out of range' };
    case 'enum':
      return { path, message: `must be one of ${(schema.enum as unknown[]).join(', ')}` };
    case 'minLength':
      return { path, message: params.limit === 1 ? 'must not be empty' : `must be at least ${params.limit} characters long` };
    case 'maxLength':
      return { path, message: `must be at most ${params.limit} characters long` };
    case 'pattern':
      return { path, message: `must match ${params.pattern}` };
    case 'minItems':
    case 'maxItems':
      return { path, message: `must have ${bounds(schema.minItems, schema.maxItems)} entries` };
    case 'minProperties':
    case 'maxProperties':
      return { path, message: `must have ${bounds(schema.minProperties, schema.maxProperties)} entries` };
    case 'uniqueItems':
      return { path, message: `must not list the same value twice (entries ${params.j} and ${params.i})` };
    default:
      return { path, message: error.message ?? `fails ${error.keyword}` };
  }
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
};

function bounds(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `from ${min} to ${max}`;
  return min !== undefined ? `at least ${min}` : `at most ${max}`;
}


/** A JSON pointer to path segments, with array indices as numbers (decided by the data). */
function pointerToPath(pointer: string, data: unknown): Path {
  if (pointer === '') return [];
  const path: Path = [];
  let node: any = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment = Array.isArray(node) ? Number(key) : key;
    path.push(segment);
    node = node?.[segment];
  }
  return path;
}
