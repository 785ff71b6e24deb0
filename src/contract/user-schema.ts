/**
 * JSON Schemas users write about the service's answers (a probe's result_schema, an
 * OpenRPC contract): compiled once, and a mismatch described as `/pointer: expectation`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * For schemas users write about the service's answers: no coercion and no defaults (the
 * answer is checked, never changed), formats not checked (no format library), unknown
 * keywords allowed (OpenRPC documents carry annotations).
 */
export function userSchemaAjv(): Ajv {
  return new Ajv({ allErrors: false, strict: false, validateFormats: false, logger: false });
}
const ajv = userSchemaAjv();

const compiled = new WeakMap<object, ValidateFunction>();

/** Compiles a user schema once per schema object; throws with ajv's reason when it is invalid. */
export function compileUserSchema(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** `[field, message]` when `schema` does not compile (for a probe's validate hook). */
export function schemaProblem(field: string, schema: unknown): Array<[string, string]> {
  try {
    compileUserSchema(schema as object);
    return [];
  } catch (err) {
    return [[field, `is not a valid JSON Schema: ${(err as Error).message.slice(0, 200)}`]];
  }
}

/**
 * The first way `data` breaks the schema, as `/json/pointer: what was expected` (the
 * pointer prefixed with `base`); undefined when valid.
 */
export function schemaMismatch(validate: ValidateFunction, data: unknown, base = ''): string | undefined {
  if (validate(data)) return undefined;
  const error = validate.errors?.[0];
  return error ? describeSchemaError(error, base) : `${base || '(root)'}: does not match the schema`;
}

function describeSchemaError(error: ErrorObject, base: string): string {
  const where = `${base}${error.instancePath}` || '(root)';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'enum':
      return `${where}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'required':
      return `${where}/${String(params.missingProperty)}: is required`;
    case 'additionalProperties':
      return `${where}/${String(params.additionalProperty)}: is not allowed`;
    case 'const':
      return `${where}: must be ${JSON.stringify(params.allowedValue)}`;
    default:
      return `${where}: ${error.message ?? `fails ${error.keyword}`}`;
  }
}
