import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  ConfigFileError,
  PACKAGED_CONFIG_PATH,
  defaultConfigPaths,
  parseConfig,
  type ParseOptions,
} from '../src/config/load.js';
import { parseDuration } from '../src/core/duration.js';
import { loadConfig } from '../src/probes/load-config.js';
import { resolveSecret } from '../src/core/secrets.js';
import { DOCUMENTED_METHOD_ROLES, DOCUMENTED_SIDE_EFFECT_METHODS } from '../src/config/methods.js';
import type { CredentialConfig, TargetConfig } from '../src/config/types.js';
import type { AnyProbeDefinition, ProbeDefinition } from '../src/probes/types.js';
import { BUILTIN_PROBES } from '../src/probes/registry.js';

// Compiled to dist/test: the sources sit two levels up.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/config');

function fakeProbe(type: string, optionsSchema: Record<string, unknown>, validate?: ProbeDefinition['validate']): ProbeDefinition {
  return { type, description: type, optionsSchema, ...(validate ? { validate } : {}), run: async () => {} };
}

/** Small stand-ins for the built-in probes, so these tests pin the loader, not the probes. */
const seen: Array<{ target: TargetConfig; credential: CredentialConfig | undefined }> = [];
const PROBE_TYPES: ReadonlyMap<string, AnyProbeDefinition> = new Map([
  ['auth_flow', fakeProbe('auth_flow', { type: 'object', additionalProperties: false, properties: { expect_role: { enum: ['viewer', 'operator', 'admin', 'any'] } } })],
  ['camera_list', fakeProbe('camera_list', { type: 'object', additionalProperties: false, properties: { min_cameras: { type: 'integer', minimum: 0, maximum: 100000, default: 0 } } })],
  [
    'protected_rejection',
    fakeProbe(
      'protected_rejection',
      {
        type: 'object',
        additionalProperties: false,
        properties: {
          cases: { type: 'array', items: { enum: ['none', 'forged', 'expired'] }, uniqueItems: true, default: ['none', 'forged'] },
          method: { type: 'string', default: 'get_server_info' },
        },
      },
      (options, target, credential) => {
        seen.push({ target, credential });
        const method = options.method as string;
        return method in target.methods ? [] : [['method', `"${method}" is not in the target's method matrix`]];
      },
    ),
  ],
]);

const SECRET = 'canary-7f3a9c-never-print-me';
const ENV: Record<string, string> = {
  CAMERA_SERVICE_JWT_SECRET: SECRET,
  VIEWER_TOKEN: SECRET,
  EMPTY: '',
  FIXTURES,
};

const opts = (env: Record<string, string | undefined> = ENV, probeTypes = PROBE_TYPES): ParseOptions => ({ source: 'test.yaml', env, probeTypes });

function problemsOf(text: string, options: ParseOptions = opts()): string[] {
  try {
    parseConfig(text, options);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'CAMPROBE_ERR_CONFIG');
    return err.problems;
  }
  assert.fail('expected the configuration to be refused');
}

const MINIMAL = `
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - name: local
    url: ws://localhost:8002/ws
`;

const invalidDir = join(FIXTURES, 'invalid');
for (const file of readdirSync(invalidDir).filter((f) => f.endsWith('.yaml')).sort()) {
  test(`invalid config ${file}`, () => {
    const text = readFileSync(join(invalidDir, file), 'utf8');
    const expected = [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]!);
    assert.ok(expected.length > 0, `${file} has no "# expect:" line`);
    // Exactly the expected problems: anything more would be noise for the user.
    assert.deepEqual([...problemsOf(text)].sort(), [...expected].sort());
  });
}

test('too many targets', () => {
  const targets = Array.from({ length: 5001 }, (_, i) => `  - { name: t${i}, url: "ws://h${i}:8002/ws" }`).join('\n');
  const text = `credentials:\n  s:\n    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }\ntargets:\n${targets}\n`;
  assert.ok(problemsOf(text).includes('targets: must have from 1 to 5000 entries'));
});

test('problems come in document order and all at once', () => {
  const problems = problemsOf(`
log: { level: loud }
credentials:
  service:
    jwt_secret: { env: CAMPROBE_TEST_UNSET }
server: { port: -1 }
targets:
  - name: local
    url: http://localhost
    probes:
      - { type: nope }
`);
  assert.deepEqual(problems, [
    'log.level: must be one of fatal, error, warn, info, debug, trace, silent',
    'credentials.service.jwt_secret: environment variable CAMPROBE_TEST_UNSET is not set',
    'server.port: must be an integer from 0 to 65535',
    'targets[0].url: must start with ws:// or wss://',
    'targets[0].probes[0].type: unknown probe type "nope" (known: auth_flow, camera_list, protected_rejection)',
  ]);
});

test('ConfigError message names the source and lists problems', () => {
  try {
    parseConfig('server: { port: x }\n' + MINIMAL, opts());
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, 'invalid configuration in test.yaml:\n  - server.port: must be an integer from 0 to 65535');
  }
});

test('defaults are applied to a minimal config', () => {
  const config = parseConfig(MINIMAL, opts());
  assert.deepEqual(config.server, { host: '127.0.0.1', port: 9464, request_timeout_ms: 10_000 });
  assert.deepEqual(config.log, { level: 'info' });
  assert.deepEqual(config.history, { runs: 5, failures: 20 });
  assert.deepEqual(config.credentials, {
    service: {
      name: 'service',
      kind: 'jwt_secret',
      secret: { env: 'CAMERA_SERVICE_JWT_SECRET' },
      user_id: 'camprobe',
      role: 'viewer',
      ttl_ms: 300_000,
    },
  });
  const [target] = config.targets;
  assert.ok(target);
  assert.equal(target.credential, 'service', 'the only credential is used when none is named');
  assert.deepEqual(target.methods, DOCUMENTED_METHOD_ROLES);
  assert.deepEqual(target.side_effect_methods, DOCUMENTED_SIDE_EFFECT_METHODS);
  assert.deepEqual(target.tls, { insecure_skip_verify: false });
  assert.deepEqual(target.client, { max_frame_bytes: 1_048_576, close_timeout_ms: 1000 });
  assert.deepEqual(target.probes, [
    { name: 'auth_flow', type: 'auth_flow', interval_ms: 30_000, timeout_ms: 10_000, options: {} },
    { name: 'camera_list', type: 'camera_list', interval_ms: 30_000, timeout_ms: 10_000, options: { min_cameras: 0 } },
    {
      name: 'protected_rejection',
      type: 'protected_rejection',
      interval_ms: 30_000,
      timeout_ms: 10_000,
      options: { cases: ['none', 'forged'], method: 'get_server_info' },
    },
  ]);
});

test('overrides: methods merge, side effects replace, target and probe levels win', () => {
  const config = parseConfig(
    `
defaults: { interval: 1m, timeout: 20s, max_frame_bytes: 2048, close_timeout: 500ms }
credentials:
  a: { jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }, role: operator, ttl: 1m30s }
  b: { token: { env: VIEWER_TOKEN }, role: viewer }
targets:
  - name: cam-a
    url: wss://cams.example.com/ws
    credential: b
    methods: { get_recording_info: admin, custom_call: operator }
    side_effect_methods: [take_snapshot]
    tls: { ca_file: "\${FIXTURES}/tls/ca.pem", cert_file: "\${FIXTURES}/tls/client.pem", key_file: "\${FIXTURES}/tls/client.key" }
    interval: 30s
    close_timeout: 2s
    probes:
      - { type: auth_flow, name: auth_viewer, expect_role: viewer }
      - { type: auth_flow, name: auth_fast, interval: 5s, timeout: 2s }
      - { type: protected_rejection, method: custom_call }
`,
    opts(),
  );
  assert.deepEqual(config.credentials.b, { name: 'b', kind: 'token', token: { env: 'VIEWER_TOKEN' }, role: 'viewer' });
  assert.equal(config.credentials.a?.kind === 'jwt_secret' && config.credentials.a.ttl_ms, 90_000);
  const target = config.targets[0]!;
  assert.equal(target.methods.get_recording_info, 'admin');
  assert.equal(target.methods.custom_call, 'operator');
  assert.equal(target.methods.get_camera_list, 'viewer');
  assert.deepEqual(target.side_effect_methods, ['take_snapshot']);
  assert.equal(target.tls.ca_file, join(FIXTURES, 'tls/ca.pem'));
  assert.equal(target.tls.insecure_skip_verify, false);
  assert.deepEqual(target.client, { max_frame_bytes: 2048, close_timeout_ms: 2000 });
  assert.deepEqual(
    target.probes.map((p) => [p.name, p.interval_ms, p.timeout_ms, p.options]),
    [
      ['auth_viewer', 30_000, 20_000, { expect_role: 'viewer' }],
      ['auth_fast', 5000, 2000, {}],
      ['protected_rejection', 30_000, 20_000, { cases: ['none', 'forged'], method: 'custom_call' }],
    ],
  );
  // The probe's cross-field check saw the target and its credential.
  const last = seen.at(-1)!;
  assert.equal(last.target.name, 'cam-a');
  assert.equal(last.credential?.name, 'b');
});

test('interpolation: defaults, escapes and coercion', () => {
  const config = parseConfig(
    `
server: { host: "\${HOST:-0.0.0.0}", port: "\${PORT}" }
log: { level: "\${LEVEL:-info}" }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
    user_id: "cost$$5 \${USER_SUFFIX}-$\${NOT_A_VAR}"
targets:
  - name: local
    url: "\${URL:-wss://localhost:8002/ws}"
    tls: { insecure_skip_verify: "\${SKIP:-true}" }
`,
    opts({ ...ENV, PORT: '9100', LEVEL: '', USER_SUFFIX: 'x' }),
  );
  assert.equal(config.server.host, '0.0.0.0');
  assert.equal(config.server.port, 9100);
  assert.equal(config.log.level, 'info', ':- also covers a variable set but empty');
  const credential = config.credentials.service;
  assert.equal(credential?.kind === 'jwt_secret' && credential.user_id, 'cost$5 x-${NOT_A_VAR}');
  assert.equal(config.targets[0]?.url, 'wss://localhost:8002/ws');
  assert.equal(config.targets[0]?.tls.insecure_skip_verify, true);
  assert.deepEqual(problemsOf(`server: { port: "\${NOPE}" }\n` + MINIMAL), ['server.port: environment variable NOPE is not set']);
});

test('YAML aliases and merge keys work; a self-referencing alias is refused', () => {
  const config = parseConfig(
    `
credentials:
  a: &shared { jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }, user_id: "x$\${Y}" }
  b: *shared
targets:
  - &base { name: a, url: "ws://a/ws", credential: a, interval: 1m, timeout: 5s }
  - { <<: *base, name: b }
`,
    opts(),
  );
  assert.deepEqual(config.targets.map((t) => [t.name, t.url, t.probes[0]?.interval_ms]), [['a', 'ws://a/ws', 60_000], ['b', 'ws://a/ws', 60_000]]);
  // A node shared through an alias is interpolated once: `$$` is not unescaped twice.
  const users = Object.values(config.credentials).map((c) => c.kind === 'jwt_secret' && c.user_id);
  assert.deepEqual(users, ['x${Y}', 'x${Y}']);
  assert.deepEqual(problemsOf('credentials: &c\n  service: { jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }, loop: *c }\ntargets: []\n').sort(), [
    'credentials.service.loop: is a YAML alias of a node that contains it',
    'targets: must have from 1 to 5000 entries',
  ]);
});

test('the result is deeply frozen', () => {
  const config = parseConfig(MINIMAL, opts());
  for (const value of [config, config.server, config.credentials, config.credentials.service, config.targets, config.targets[0], config.targets[0]?.methods, config.targets[0]?.probes[2]?.options]) {
    assert.ok(Object.isFrozen(value));
  }
  assert.throws(() => {
    (config.targets[0]!.probes as unknown[]).push({});
  }, TypeError);
});

test('a schedule derives the interval from its shortest gap', () => {
  const config = parseConfig(
    `
credentials: { service: { jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET } } }
targets:
  - name: local
    url: ws://localhost:8002/ws
    probes:
      - { type: auth_flow, schedule: "0,45 * * * * *", timeout: 5s }
      - { type: camera_list, schedule: "*/30 * * * * *" }
      - { type: protected_rejection, schedule: "0 0 9 * * 1-5", timeout: 1m }
`,
    opts(),
  );
  assert.deepEqual(
    config.targets[0]!.probes.map((p) => [p.schedule, p.interval_ms]),
    [
      ['0,45 * * * * *', 15_000],
      ['*/30 * * * * *', 30_000],
      ['0 0 9 * * 1-5', 86_400_000],
    ],
  );
});

test('any interval from 1s to 24h is accepted, and the timeout must still be shorter', () => {
  const config = parseConfig(
    `
defaults: { interval: 7s, timeout: 5s }
credentials: { service: { jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET } } }
targets:
  - name: local
    url: ws://localhost:8002/ws
    probes:
      - { type: auth_flow }
      - { type: camera_list, interval: 45s, timeout: 44s }
      - { type: protected_rejection, interval: 1m30s }
`,
    opts(),
  );
  assert.deepEqual(
    config.targets[0]!.probes.map((p) => [p.name, p.interval_ms, p.timeout_ms]),
    [
      ['auth_flow', 7000, 5000],
      ['camera_list', 45_000, 44_000],
      ['protected_rejection', 90_000, 5000],
    ],
  );
  assert.deepEqual(
    problemsOf(`
defaults: { interval: 7s, timeout: 7s }
credentials: { service: { jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET } } }
targets:
  - name: local
    url: ws://localhost:8002/ws
    probes:
      - { type: auth_flow }
      - { type: camera_list, interval: 45s, timeout: 50s }
`),
    [
      'targets[0].probes[0].timeout: 7s must be shorter than the interval (7s); the timeout comes from defaults.timeout, the interval comes from defaults.interval',
      'targets[0].probes[1].timeout: 50s must be shorter than the interval (45s)',
    ],
  );
});

test('the shipped config and examples parse with the built-in probes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-config-'));
  const keyFile = join(dir, 'viewer_key');
  writeFileSync(keyFile, `${SECRET}\n`);
  const env = {
    CAMERA_SERVICE_JWT_SECRET: SECRET,
    CAMERA_LAB_JWT_SECRET: SECRET,
    CAMERA_PROD_JWT_SECRET: SECRET,
    CAMPROBE_CA_FILE: join(FIXTURES, 'tls/ca.pem'),
    CAMPROBE_VIEWER_KEY_FILE: keyFile,
  };
  const config = await loadConfig(join(ROOT, PACKAGED_CONFIG_PATH), { env, probeTypes: BUILTIN_PROBES });
  assert.deepEqual(config.server, { host: '127.0.0.1', port: 9464, request_timeout_ms: 10_000 });
  assert.deepEqual(
    config.targets[0]!.probes.map((p) => [p.name, p.interval_ms, p.timeout_ms]),
    [
      ['auth_flow', 30_000, 10_000],
      ['camera_list', 30_000, 10_000],
      ['protected_rejection', 60_000, 10_000],
    ],
  );
  const examples = join(ROOT, 'config/examples');
  const files = readdirSync(examples).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 3);
  for (const file of files) {
    const parsed = await loadConfig(join(examples, file), { env, probeTypes: BUILTIN_PROBES });
    assert.ok(parsed.targets.length > 0, file);
  }
  // The default config with nothing set refuses to start, and says why.
  await assert.rejects(loadConfig(join(ROOT, PACKAGED_CONFIG_PATH), { env: {}, probeTypes: BUILTIN_PROBES }), {
    problems: ['credentials.service.jwt_secret: environment variable CAMERA_SERVICE_JWT_SECRET is not set'],
  });
});

test('a missing or unreadable file is not called invalid: it is named by its absolute path', async () => {
  await assert.rejects(loadConfig('/nonexistent/camprobe.yaml', { env: ENV, probeTypes: PROBE_TYPES }), (err: unknown) => {
    assert.ok(err instanceof ConfigFileError && err instanceof ConfigError);
    assert.equal(err.code, 'CAMPROBE_ERR_CONFIG_FILE');
    assert.equal(err.message, 'configuration file not found: /nonexistent/camprobe.yaml');
    assert.equal(err.fsCode, 'ENOENT');
    return true;
  });
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-config-'));
  await assert.rejects(loadConfig(dir, { env: ENV, probeTypes: PROBE_TYPES }), {
    message: `cannot read the configuration file (EISDIR: illegal operation on a directory): ${dir}`,
  });
  const relative = await loadConfig('missing.yaml', { env: ENV, probeTypes: PROBE_TYPES }).catch((err: unknown) => err);
  assert.ok(relative instanceof ConfigFileError);
  assert.equal(relative.path, join(process.cwd(), 'missing.yaml'));
});

test('without --config: the system file, then the packaged one, found from anywhere', () => {
  assert.deepEqual(defaultConfigPaths(), ['/etc/camprobe/camprobe.yaml', join(ROOT, PACKAGED_CONFIG_PATH)]);
});

test('parseDuration', () => {
  const valid: Array<[string, number]> = [
    ['0s', 0],
    ['500ms', 500],
    ['15s', 15_000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['24h', 86_400_000],
  ];
  for (const [text, ms] of valid) assert.equal(parseDuration(text), ms, text);
  for (const text of ['', '15', 's', '1.5s', '-1s', '1s1m', '1 s', '15S', '1d', 'ms', '1m1m']) {
    assert.throws(() => parseDuration(text), /invalid duration .*use a number and a unit/, JSON.stringify(text));
  }
});

test('resolveSecret reads env and files, dropping one trailing newline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-secret-'));
  const file = join(dir, 'secret');
  writeFileSync(file, `${SECRET}\n\n`);
  assert.equal(resolveSecret({ file }), `${SECRET}\n`);
  writeFileSync(file, `${SECRET}\r\n`);
  assert.equal(resolveSecret({ file }), SECRET);
  assert.equal(resolveSecret({ env: 'VIEWER_TOKEN' }, ENV), SECRET);
  assert.throws(() => resolveSecret({ env: 'MISSING' }, ENV), { message: 'environment variable MISSING is not set' });
  writeFileSync(file, '\n');
  assert.throws(() => resolveSecret({ file }), { message: `secret file ${JSON.stringify(file)} is empty` });
});

test('a secret value never appears in an error message', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-canary-'));
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, SECRET);
  const env = { ...ENV, SECRET_FILE: secretFile, URL: `ws://probe:${SECRET}@localhost/ws` };
  const attempts = [
    // A literal secret, alone and next to other problems.
    `credentials:\n  service:\n    jwt_secret: ${SECRET}\ntargets: [{ name: a, url: "ws://a" }]\n`,
    `credentials:\n  service:\n    token: "${SECRET}"\n    role: viewer\ntargets: [{ name: a, url: "http://a" }]\n`,
    `credentials:\n  service:\n    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET, file: "${SECRET}" }\ntargets: []\n`,
    // Secrets from env and file, with problems elsewhere.
    `credentials:\n  s: { token: { file: "\${SECRET_FILE}" }, role: root }\ntargets: [{ name: a, url: "\${URL}", credential: x }]\n`,
    // A YAML syntax error on the secret's line.
    `credentials:\n  service:\n    jwt_secret: "${SECRET}\n  : [\n`,
    `credentials:\n  service:\n    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }\n    user_id: ${SECRET}\n    user_id: again\n`,
  ];
  for (const text of attempts) {
    try {
      parseConfig(text, opts(env));
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.ok(!err.message.includes(SECRET), err.message);
      assert.ok(!err.problems.join('\n').includes(SECRET));
    }
  }
});

test('a secret interpolated outside a secret field is never quoted back, and refused in names and URLs', () => {
  const secret = ENV.CAMERA_SERVICE_JWT_SECRET!;
  const problems = problemsOf(`
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - name: "t-\${CAMERA_SERVICE_JWT_SECRET}"
    url: "ws://camera:8002/ws?key=\${CAMERA_SERVICE_JWT_SECRET}"
    probes: [{ type: "\${CAMERA_SERVICE_JWT_SECRET}" }]
`);
  assert.deepEqual(problems, [
    'targets[0].name: contains the value of a secret (or a JWT): it would be exported in labels and logs',
    'targets[0].url: contains the value of a secret (or a JWT): it would be exported in labels and logs',
    'targets[0].probes[0].type: unknown probe type "[REDACTED]" (known: auth_flow, camera_list, protected_rejection)',
  ]);
  assert.ok(!problems.join('\n').includes(secret));
});
