/**
 * The shape of the raw YAML, as JSON Schema, and the types derived from it. Rules that span
 * fields (durations, interval vs timeout, references between sections, files) live in
 * `build/`; turning ajv's errors into messages lives in `check.ts`.
 *
 * `x-message` on a schema node replaces the generic message for that node's own value
 * (never for unknown or missing keys inside it).
 */
import type { SecretRef } from '../core/secrets.js';
import { MAX_SHARDS, type Shard } from './shard.js';
import { Type, duration, enumOf, exactlyOne, int, jsonObject, mapOf, text, type Fits, type Static } from './schema-parts.js';

/** Roles the service knows, lowest first. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const ENV_NAME = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';
const LABEL_VALUE = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$';
const CREDENTIAL_NAME = '^[A-Za-z0-9_.-]{1,64}$';
const LOWER_NAME = '^[a-z][a-z0-9_]{0,63}$';
const LOWER_NAME_HINT = 'must be 1 to 64 lowercase letters, digits or "_", starting with a letter';
/** Defaults the loader also stands in for a value it reported (see build/durations.ts). */
export const CLOSE_TIMEOUT_DEFAULT = '1s';
export const TTL_DEFAULT = '5m';

const role = enumOf(ROLES);
const lowerName = Type.String({ pattern: LOWER_NAME, 'x-message': LOWER_NAME_HINT });
/** A name exported as a label value (target, location): short and free of quoting trouble. */
const labelValue = Type.String({
  pattern: LABEL_VALUE,
  'x-message': 'must be 1 to 64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
});

const secretRef = exactlyOne(
  {
    env: Type.String({
      pattern: ENV_NAME,
      'x-message': 'must be an environment variable name (letters, digits and "_", not starting with a digit)',
    }),
    file: text(),
  },
  {
    'x-message':
      'must be { env: VARIABLE } or { file: /path/to/secret }: secrets come from an environment variable or a file, never from the config text',
  },
);

const contractSchema = Type.Object(
  {
    /** Path of an OpenRPC JSON document. */
    openrpc: text(),
  },
  { additionalProperties: false },
);

// Who may read camprobe's own endpoints (all but /healthz). Its secret is checked in build/.
const httpAuthSchema = exactlyOne(
  {
    bearer_token: secretRef,
    basic: Type.Object(
      {
        username: Type.String({ pattern: '^[^:\\s]{1,64}$', 'x-message': 'must be 1 to 64 characters, no ":" or white space' }),
        password: secretRef,
      },
      { additionalProperties: false },
    ),
  },
  { 'x-message': 'must be { bearer_token: SECRET } or { basic: { username: NAME, password: SECRET } }' },
);

export const serverSchema = Type.Object(
  {
    host: text(253, { default: '127.0.0.1' }),
    port: int(0, 65535, { default: 9464 }),
    /** Absent: the endpoints are open (the default listen address is loopback). */
    auth: Type.Optional(httpAuthSchema),
    /** Longest a request may take to arrive. */
    request_timeout: duration({ default: '10s' }),
  },
  { default: {}, additionalProperties: false },
);

export const logSchema = Type.Object(
  { level: enumOf(LOG_LEVELS, { default: 'info' }) },
  { default: {}, additionalProperties: false },
);

export const historySchema = Type.Object(
  {
    /**
     * Recent runs kept per (target, probe). Five by default: a run costs about 1 KB of
     * memory, and successes are alike; failures are kept besides (docs/performance.md, the fleet).
     */
    runs: int(1, 1000, { default: 5 }),
    /** Recent failed runs kept besides, so failures outlive a burst of successes. */
    failures: int(0, 1000, { default: 20 }),
  },
  { default: {}, additionalProperties: false },
);

const maxFrameBytes = (options = {}) => int(1024, 67_108_864, options);

export const defaultsSchema = Type.Object(
  {
    interval: duration({ default: '30s' }),
    timeout: duration({ default: '10s' }),
    /** Largest WebSocket message accepted from the target, bytes. */
    max_frame_bytes: maxFrameBytes({ default: 1_048_576 }),
    close_timeout: duration({ default: CLOSE_TIMEOUT_DEFAULT }),
  },
  { default: {}, additionalProperties: false },
);

export const tlsSchema = Type.Object(
  {
    ca_file: Type.Optional(text()),
    cert_file: Type.Optional(text()),
    key_file: Type.Optional(text()),
    /** Turning verification off must be explicit; the daemon warns at start. */
    insecure_skip_verify: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

/** The keys of a probe entry that are not the probe type's options. */
const probeBaseSchema = Type.Object({
  type: Type.String({ maxLength: 64 }),
  /** Label value: unique within the target. Defaults to `type`. */
  name: Type.Optional(lowerName),
  interval: Type.Optional(duration()),
  /** A node-cron expression (6 fields, seconds first) instead of an interval. */
  schedule: Type.Optional(text(256)),
  timeout: Type.Optional(duration()),
  // A duration, or a mapping of `run`/step names to durations: checked in build/.
  degraded_after: Type.Optional(
    Type.Unsafe<string | Record<string, unknown>>({
      type: ['string', 'object'],
      'x-message': 'must be a duration or a mapping of run or step names to durations',
    }),
  ),
});

/** Keys of a probe entry that are not the probe type's options. */
export const PROBE_BASE_KEYS: readonly string[] = Object.keys(probeBaseSchema.properties);

/** A probe entry: the base keys, and besides them the probe type's options, checked with its own schema. */
export type RawProbeEntry = Static<typeof probeBaseSchema> & { [option: string]: unknown };
const probeEntrySchema = Type.Unsafe<RawProbeEntry>(probeBaseSchema);

export const targetSchema = Type.Object(
  {
    name: labelValue,
    url: text(),
    /** Name of the credential in `credentials` used for positive probes. */
    credential: Type.Optional(Type.String({ maxLength: 64 })),
    /** Method → least role that may call it, merged over the documented matrix. */
    methods: Type.Optional(
      mapOf(role, { maxProperties: 256, propertyNames: { pattern: LOWER_NAME, 'x-message': LOWER_NAME_HINT } }),
    ),
    /** Methods with side effects: never called with credentials that could succeed. */
    side_effect_methods: Type.Optional(Type.Array(lowerName, { maxItems: 256, uniqueItems: true })),
    tls: Type.Optional(tlsSchema),
    interval: Type.Optional(duration()),
    timeout: Type.Optional(duration()),
    max_frame_bytes: Type.Optional(maxFrameBytes()),
    close_timeout: Type.Optional(duration()),
    /** An OpenRPC document every answer is checked against (the target's own, or the top-level one). */
    contract: Type.Optional(contractSchema),
    probes: Type.Optional(Type.Array(probeEntrySchema, { minItems: 1, maxItems: 64 })),
  },
  { additionalProperties: false },
);

// This replica's part of the targets; index < total is checked in build/.
const shardSchema = Type.Object(
  { index: int(0, MAX_SHARDS - 1), total: int(1, MAX_SHARDS) },
  { additionalProperties: false },
);

export const rootSchema = Type.Object(
  {
    server: serverSchema,
    log: logSchema,
    history: historySchema,
    defaults: defaultsSchema,
    contract: Type.Optional(contractSchema),
    // Loaded before the rest is validated (the scripts' types validate their probes): see read.ts.
    probe_scripts_dir: Type.Optional(text()),
    // Each credential is checked against its kind's schema in build/.
    credentials: mapOf(jsonObject(), {
      minProperties: 1,
      maxProperties: 64,
      propertyNames: { pattern: CREDENTIAL_NAME, 'x-message': 'must be 1 to 64 letters, digits, "_", "." or "-"' },
    }),
    targets: Type.Array(targetSchema, { minItems: 1, maxItems: 5000 }),
    /** The `location` label on every series (where this camprobe probes from). */
    location: Type.Optional(labelValue),
    shard: Type.Optional(shardSchema),
  },
  { additionalProperties: false },
);

export const jwtCredentialSchema = Type.Object(
  {
    /** The service's HS256 signing secret. */
    jwt_secret: secretRef,
    user_id: text(256, { default: 'camprobe' }),
    /** Role of the tokens minted for positive probes. */
    role: enumOf(ROLES, { default: 'viewer' }),
    /** Lifetime of minted tokens. */
    ttl: duration({ default: TTL_DEFAULT }),
  },
  { additionalProperties: false },
);

export const tokenCredentialSchema = Type.Object(
  {
    /** A pre-issued JWT or an API key: both are passed as `auth_token`. */
    token: secretRef,
    /** The role the token carries, as the service is expected to report it. */
    role,
  },
  { additionalProperties: false },
);

/** A credential's kind is the key that holds its secret; each kind has its own schema. */
export const CREDENTIAL_SCHEMAS = { jwt_secret: jwtCredentialSchema, token: tokenCredentialSchema } as const;
export type CredentialKind = keyof typeof CREDENTIAL_SCHEMAS;

export type Role = Static<typeof role>;
export type LogLevel = Static<typeof logSchema>['level'];
/** core/secrets.ts declares SecretRef (core cannot import config); the schema's type must fit it. */
export type RawSecretRef = Fits<Static<typeof secretRef>, SecretRef>;
export type RawHttpAuth = Static<typeof httpAuthSchema>;
export type RawContract = Static<typeof contractSchema>;
export type RawServer = Static<typeof serverSchema>;
export type RawLog = Static<typeof logSchema>;
export type RawHistory = Static<typeof historySchema>;
export type RawDefaults = Static<typeof defaultsSchema>;
export type RawTls = Static<typeof tlsSchema>;
export type RawTarget = Static<typeof targetSchema>;
/** config/shard.ts declares Shard for `--shard` as well; the schema's type must fit it. */
export type RawShard = Fits<Static<typeof shardSchema>, Shard>;
export type RawConfig = Static<typeof rootSchema>;
export type RawJwtCredential = Static<typeof jwtCredentialSchema>;
export type RawTokenCredential = Static<typeof tokenCredentialSchema>;
