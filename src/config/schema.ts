/**
 * The shape of the raw YAML, as JSON Schema, and the turning of ajv's errors into messages
 * that say what is wrong and what is allowed. Rules that span fields (durations, interval
 * vs timeout, references between sections, files) live in `load.ts`.
 *
 * `x-message` on a schema node replaces the generic message for that node's own value
 * (never for unknown or missing keys inside it).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ROLES } from './types.js';
import { DURATION_HINT } from '../core/duration.js';
import { quote } from '../core/text.js';

export { quote };
import { MAX_SHARDS } from './shard.js';

export type Path = Array<string | number>;
export interface SchemaProblem {
  /** Where the message is shown. */
  path: Path;
  message: string;
  /** Where the problem sits in the document, when more precise than `path` (an unknown key). */
  at?: Path;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const ENV_NAME = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';
const LABEL_VALUE = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$';
const CREDENTIAL_NAME = '^[A-Za-z0-9_.-]{1,64}$';
const LOWER_NAME = '^[a-z][a-z0-9_]{0,63}$';
const LOWER_NAME_HINT = 'must be 1 to 64 lowercase letters, digits or "_", starting with a letter';

const text = (maxLength = 2048) => ({ type: 'string', minLength: 1, maxLength });
const int = (minimum: number, maximum: number) => ({ type: 'integer', minimum, maximum });
const duration = { type: 'string', maxLength: 32, 'x-message': DURATION_HINT };
const lowerName = { type: 'string', pattern: LOWER_NAME, 'x-message': LOWER_NAME_HINT };
/** A name exported as a label value (target, location): short and free of quoting trouble. */
const labelValue = {
  type: 'string',
  pattern: LABEL_VALUE,
  'x-message': 'must be 1 to 64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
};

const secretRef = {
  type: 'object',
  properties: {
    env: {
      type: 'string',
      pattern: ENV_NAME,
      'x-message': 'must be an environment variable name (letters, digits and "_", not starting with a digit)',
    },
    file: text(),
  },
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  'x-message':
    'must be { env: VARIABLE } or { file: /path/to/secret }: secrets come from an environment variable or a file, never from the config text',
};

const contract = {
  type: 'object',
  required: ['openrpc'],
  additionalProperties: false,
  properties: { openrpc: text() },
};

export const rootSchema = {
  type: 'object',
  required: ['credentials', 'targets'],
  additionalProperties: false,
  properties: {
    server: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        host: { ...text(253), default: '127.0.0.1' },
        port: { ...int(0, 65535), default: 9464 },
        // Who may read camprobe's own endpoints (all but /healthz). Checked further in load.ts.
        auth: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          maxProperties: 1,
          'x-message': 'must be { bearer_token: SECRET } or { basic: { username: NAME, password: SECRET } }',
          properties: {
            bearer_token: secretRef,
            basic: {
              type: 'object',
              required: ['username', 'password'],
              additionalProperties: false,
              properties: {
                username: { type: 'string', pattern: '^[^:\\s]{1,64}$', 'x-message': 'must be 1 to 64 characters, no ":" or white space' },
                password: secretRef,
              },
            },
          },
        },
        request_timeout: { ...duration, default: '10s' },
      },
    },
    log: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { level: { enum: LOG_LEVELS, default: 'info' } },
    },
    history: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { runs: { ...int(1, 1000), default: 20 }, failures: { ...int(0, 1000), default: 20 } },
    },
    defaults: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        interval: { ...duration, default: '30s' },
        timeout: { ...duration, default: '10s' },
        max_frame_bytes: { ...int(1024, 67_108_864), default: 1_048_576 },
        close_timeout: { ...duration, default: '1s' },
      },
    },
    contract,
    // Loaded before the rest is validated (the scripts' types validate their probes): see load.ts.
    probe_scripts_dir: text(),
    credentials: {
      type: 'object',
      minProperties: 1,
      maxProperties: 64,
      propertyNames: {
        pattern: CREDENTIAL_NAME,
        'x-message': 'must be 1 to 64 letters, digits, "_", "." or "-"',
      },
      // Each credential is checked against its kind's schema in load.ts.
      additionalProperties: { type: 'object' },
    },
    targets: {
      type: 'array',
      minItems: 1,
      maxItems: 5000,
      items: {
        type: 'object',
        required: ['name', 'url'],
        additionalProperties: false,
        properties: {
          name: labelValue,
          url: text(),
          credential: { type: 'string', maxLength: 64 },
          methods: {
            type: 'object',
            maxProperties: 256,
            propertyNames: { pattern: LOWER_NAME, 'x-message': LOWER_NAME_HINT },
            additionalProperties: { enum: ROLES },
          },
          side_effect_methods: { type: 'array', maxItems: 256, uniqueItems: true, items: lowerName },
          tls: {
            type: 'object',
            additionalProperties: false,
            properties: {
              ca_file: text(),
              cert_file: text(),
              key_file: text(),
              insecure_skip_verify: { type: 'boolean', default: false },
            },
          },
          interval: duration,
          timeout: duration,
          max_frame_bytes: int(1024, 67_108_864),
          close_timeout: duration,
          contract,
          probes: {
            type: 'array',
            minItems: 1,
            maxItems: 64,
            // Keys besides these are the probe type's options, checked with its own schema.
            items: {
              type: 'object',
              required: ['type'],
              properties: {
                type: { type: 'string', maxLength: 64 },
                name: lowerName,
                interval: duration,
                schedule: text(256),
                timeout: duration,
                // A duration, or a mapping of `run`/step names to durations: checked in load.ts.
                degraded_after: { type: ['string', 'object'], 'x-message': `must be a duration or a mapping of run or step names to durations` },
              },
            },
          },
        },
      },
    },
    // Added as the label `location` to every series (where this camprobe probes from).
    location: labelValue,
    // This replica's part of the targets; index < total is checked in load.ts.
    shard: {
      type: 'object',
      required: ['index', 'total'],
      additionalProperties: false,
      properties: { index: int(0, MAX_SHARDS - 1), total: int(1, MAX_SHARDS) },
    },
  },
};

/** Keys of a probe entry that are not the probe type's options. */
export const PROBE_BASE_KEYS = ['type', 'name', 'interval', 'schedule', 'timeout', 'degraded_after'] as const;

export const jwtCredentialSchema = {
  type: 'object',
  required: ['jwt_secret'],
  additionalProperties: false,
  properties: {
    jwt_secret: secretRef,
    user_id: { ...text(256), default: 'camprobe' },
    role: { enum: ROLES, default: 'viewer' },
    ttl: { ...duration, default: '5m' },
  },
};

export const tokenCredentialSchema = {
  type: 'object',
  required: ['token', 'role'],
  additionalProperties: false,
  properties: { token: secretRef, role: { enum: ROLES } },
};

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

export const validateRoot = ajv.compile(rootSchema);
export const validateJwtCredential = ajv.compile(jwtCredentialSchema);
export const validateTokenCredential = ajv.compile(tokenCredentialSchema);

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
