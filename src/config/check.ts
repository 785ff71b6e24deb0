/**
 * Checking data against a schema with ajv, and turning ajv's errors into messages that say
 * what is wrong and what is allowed.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { didYouMean, quote } from '../core/text.js';
import { isObject } from './objects.js';
import type { Path, SchemaProblem } from './problems.js';
import type { Static, TSchema } from './schema-parts.js';

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

/**
 * What is left of data checked against a schema of type `T` once every value that failed
 * is removed (see {@link prune}): each value present is valid, but any of them, required
 * or not, may be missing, and a list may have holes.
 */
export type Pruned<T> = T extends readonly (infer U)[]
  ? Array<Pruned<U> | undefined>
  : T extends object
    ? { [K in keyof T]?: Pruned<T[K]> }
    : T;

/**
 * Runs {@link check}, then removes from `data` every value a problem is about (a list entry
 * becomes a hole) and fills in the defaults of those removed, as if the file did not have
 * them. The rules that span fields then only meet values of the shape the schema promises
 * (one that failed is reported, and judging it again would only add noise), and still run
 * where a default stands in. The type comes from the validator, so it is the type of the
 * schema that checked the data.
 */
export function checkAndPrune<T>(validate: ValidateFunction<T>, data: Record<string, unknown>, base: Path): { problems: SchemaProblem[]; pruned: Pruned<T> } {
  const problems = check(validate, data, base);
  if (problems.length === 0) return { problems, pruned: prune<T>(data, [], base) };
  const pruned = prune<T>(data, problems, base);
  // Only to fill in defaults: what it would report is reported above, or a removed required value.
  validate(data);
  return { problems, pruned };
}

function prune<T>(data: Record<string, unknown>, problems: readonly SchemaProblem[], base: Path): Pruned<T> {
  for (const problem of problems) {
    const at = (problem.at ?? problem.path).slice(base.length);
    const key = at.pop();
    if (key === undefined) continue;
    let parent: unknown = data;
    for (const segment of at) parent = childOf(parent, segment);
    if (Array.isArray(parent) && typeof key === 'number') parent[key] = undefined;
    else if (isObject(parent)) delete parent[String(key)];
  }
  // The boundary between ajv's checks and the types: what is left is of the schema's type,
  // any value possibly missing, which is what Pruned<T> says.
  return data as Pruned<T>;
}

function childOf(node: unknown, segment: string | number): unknown {
  if (Array.isArray(node)) return typeof segment === 'number' ? node[segment] : undefined;
  return isObject(node) ? node[String(segment)] : undefined;
}

function describe(error: ErrorObject, path: Path, extraAllowed: readonly string[]): SchemaProblem {
  const schema: Record<string, unknown> = isObject(error.parentSchema) ? error.parentSchema : {};
  const params: Record<string, unknown> = error.params;
  switch (error.keyword) {
    case 'additionalProperties': {
      const allowed = [...extraAllowed, ...Object.keys(isObject(schema.properties) ? schema.properties : {})];
      const key = String(params.additionalProperty);
      return { path, at: [...path, key], message: unknownKey(key, allowed) };
    }
    case 'required':
      return { path: [...path, String(params.missingProperty)], message: 'is required' };
    case 'propertyNames': {
      const key = String(params.propertyName);
      const names = isObject(schema.propertyNames) ? schema.propertyNames : {};
      const rule = typeof names['x-message'] === 'string' ? names['x-message'] : `must match ${String(names.pattern)}`;
      return { path, at: [...path, key], message: `invalid key ${quote(key)}: ${rule}` };
    }
  }
  if (typeof schema['x-message'] === 'string') return { path, message: schema['x-message'] };
  return { path, message: genericMessage(error, schema, params) };
}

/** `unknown key "urll": did you mean "url"? (allowed: name, url, …)`: the key named, a likely intended one, the choices. */
export function unknownKey(key: string, allowed: readonly string[]): string {
  const suggestion = didYouMean(key, allowed);
  const hint = allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : '';
  return `unknown key ${quote(key)}${suggestion ? `: ${suggestion}` : ''}${hint}`;
}

/** The message for a keyword on a node without `x-message`. */
function genericMessage(error: ErrorObject, schema: Record<string, unknown>, params: Record<string, unknown>): string {
  switch (error.keyword) {
    case 'type':
    case 'minimum':
    case 'maximum':
      if (schema.minimum !== undefined && schema.maximum !== undefined) {
        const what = schema.type === 'integer' ? 'an integer' : 'a number';
        return `must be ${what} from ${String(schema.minimum)} to ${String(schema.maximum)}`;
      }
      return error.keyword === 'type' ? `must be ${TYPE_NAMES[String(params.type)] ?? String(params.type)}` : error.message ?? 'is out of range';
    case 'enum':
      return `must be one of ${(Array.isArray(schema.enum) ? schema.enum : []).join(', ')}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long`;
    case 'maxLength':
      return `must be at most ${String(params.limit)} characters long`;
    case 'pattern':
      return `must match ${String(params.pattern)}`;
    case 'minItems':
    case 'maxItems':
      return `must have ${bounds(schema.minItems, schema.maxItems)} entries`;
    case 'minProperties':
    case 'maxProperties':
      return `must have ${bounds(schema.minProperties, schema.maxProperties)} entries`;
    case 'uniqueItems':
      return `must not list the same value twice (entries ${String(params.j)} and ${String(params.i)})`;
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
};

function bounds(min: unknown, max: unknown): string {
  if (min !== undefined && max !== undefined) return `from ${String(min)} to ${String(max)}`;
  return min !== undefined ? `at least ${String(min)}` : `at most ${String(max)}`;
}

/** A JSON pointer to path segments, with array indices as numbers (decided by the data). */
function pointerToPath(pointer: string, data: unknown): Path {
  if (pointer === '') return [];
  const path: Path = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment = Array.isArray(node) ? Number(key) : key;
    path.push(segment);
    node = childOf(node, segment);
  }
  return path;
}
