/**
 * Building blocks for JSON Schemas that carry their TypeScript type (TypeBox): the config
 * document's schema and the probe types' option schemas are written with these, and their
 * types are derived with `Static<typeof schema>`, so a schema and the code that reads what
 * it validated cannot disagree without `tsc` saying so.
 *
 * The schemas stay plain JSON Schema for ajv. Where TypeBox's own builder would emit a
 * different schema than the one whose error messages users know (`anyOf` for a union of
 * literals, `patternProperties` for a record), `Type.Unsafe` keeps the schema as written and
 * states its type from the parts it is made of.
 *
 * A property with a `default` is not `Type.Optional`: ajv fills the default in before it
 * checks `required`, so listing it there never fires, and its type says the value is there
 * once the document is validated.
 */
import { Type, type Static, type TObject, type TSchema, type TString, type TUnsafe, type ObjectOptions, type SchemaOptions } from '@sinclair/typebox';
import { DURATION_HINT } from '../core/duration.js';

export { Type, type Static, type TObject, type TSchema };

/** `T`, provided it is assignable to `U`: a compile-time check that fails `tsc` otherwise. */
export type Fits<T extends U, U> = T;

/** A non-empty string of at most `maxLength` characters. */
export function text(maxLength = 2048, options: SchemaOptions = {}): TString {
  return Type.String({ minLength: 1, maxLength, ...options });
}

/** An integer from `minimum` to `maximum`; the message names both bounds. */
export function int(minimum: number, maximum: number, options: SchemaOptions = {}) {
  return Type.Integer({ minimum, maximum, ...options });
}

/** A duration like `15s`; parsed (and range-checked) by the loader, so only its length is limited here. */
export function duration(options: SchemaOptions = {}): TString {
  return Type.String({ maxLength: 32, 'x-message': DURATION_HINT, ...options });
}

/** `{ enum: values }`, typed as one of the values (the message lists them). */
export function enumOf<const V extends readonly [string, ...string[]]>(values: V, options: SchemaOptions = {}): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ ...options, enum: [...values] });
}

/** A mapping whose keys and values the schema does not constrain (a user's JSON Schema, RPC params). */
export function jsonObject(options: ObjectOptions = {}): TUnsafe<Record<string, unknown>> {
  return Type.Unsafe<Record<string, unknown>>({ ...options, type: 'object' });
}

/** One of the mappings `{ key: value }` for a key of `P`, e.g. `{ env: string } | { file: string }`. */
export type ExactlyOne<P extends Record<string, TSchema>> = { [K in keyof P]: { [Q in K]: Static<P[Q]> } }[keyof P];

/**
 * A mapping with exactly one of `properties` (`{ env: VAR }` or `{ file: PATH }`). JSON
 * Schema says so with min/maxProperties, which keeps one message for every way to get it
 * wrong; the type is the union of the one-key mappings.
 */
export function exactlyOne<P extends Record<string, TSchema>>(properties: P, options: ObjectOptions = {}): TUnsafe<ExactlyOne<P>> {
  return Type.Unsafe<ExactlyOne<P>>({
    type: 'object',
    properties,
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    ...options,
  });
}

/** A mapping from keys matching `propertyNames` to values of `values`. */
export function mapOf<V extends TSchema>(values: V, options: ObjectOptions = {}): TUnsafe<Record<string, Static<V>>> {
  return Type.Unsafe<Record<string, Static<V>>>({ type: 'object', ...options, additionalProperties: values });
}
