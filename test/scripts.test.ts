/** Probe scripts: loaded from probe_scripts_dir, checked at start, isolated at run time. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../src/config/load.js';
import { loadConfigWithScripts } from '../src/probes/load-config.js';
import { BUILTIN_PROBES } from '../src/probes/registry.js';
import { createRunner } from '../src/runner/create-runner.js';
import { canImportTypeScript } from '../src/probes/scripts.js';
import type { RunRecord } from '../src/core/outcome.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { SECRET, silentLogger } from './helpers/harness.js';

const ENV = { CAMERA_SERVICE_JWT_SECRET: SECRET };

const GOOD = {
  'ok.mjs': `export default {
  type: 'always_ok', description: 'connects and passes',
  optionsSchema: { type: 'object', additionalProperties: false, properties: { n: { type: 'integer', default: 1 } } },
  async run(ctx) { await ctx.connect(); }
};`,
  'throws.mjs': `export default {
  type: 'throws', description: 'a bug',
  optionsSchema: { type: 'object', additionalProperties: false },
  async run(ctx) { await ctx.connect(); null.boom; }
};`,
  'hangs.js': `module.exports = {
  type: 'hangs', description: 'never settles and ignores its signal',
  optionsSchema: { type: 'object', additionalProperties: false },
  run: () => new Promise(() => {}),
};`,
  'fails.mjs': `export default {
  type: 'fails', description: 'an expected failure, and one with a made-up reason',
  optionsSchema: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string' } } },
  async run(ctx) { throw ctx.error(ctx.options.reason, 'it did not work'); }
};`,
  'README.md': 'not a script: ignored',
};

function writeDir(parent: string, name: string, files: Record<string, string>): string {
  const dir = join(parent, name);
  mkdirSync(dir);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

describe('probe scripts', () => {
  let sim: Simulator;
  let root: string;
  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
    root = mkdtempSync(join(tmpdir(), 'camprobe-scripts-'));
  });
  after(async () => {
    await sim.close();
    rmSync(root, { recursive: true, force: true });
  });

  function configFile(dir: string, probes: string): string {
    const path = join(root, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(path, `probe_scripts_dir: ${dir}\ncredentials:\n  service:\n    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }\ntargets:\n  - name: sim\n    url: ${sim.url}\n    probes:\n${probes}`);
    return path;
  }

  async function problems(dir: string, probes = '      - type: auth_flow\n'): Promise<string[]> {
    try {
      await loadConfigWithScripts(configFile(dir, probes), { env: ENV, probeTypes: BUILTIN_PROBES });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  }

  it('a script that throws or hangs fails only its own run; the others pass', async () => {
    const dir = writeDir(root, 'good', GOOD);
    const probes = `      - type: always_ok\n      - type: throws\n      - type: hangs\n        timeout: 300ms\n      - type: fails\n        reason: invalid_result\n      - type: fails\n        name: made_up\n        reason: sort_of_bad\n      - type: auth_flow\n`;
    const { config, probeTypes } = await loadConfigWithScripts(configFile(dir, probes), { env: ENV, probeTypes: BUILTIN_PROBES });
    assert.deepEqual([...probeTypes.keys()].filter((t) => !BUILTIN_PROBES.has(t)).sort(), ['always_ok', 'fails', 'hangs', 'throws']);
    const target = config.targets[0]!;
    assert.deepEqual(target.probes[0]!.options, { n: 1 }, 'defaults from the script schema');
    const runner = createRunner({ credentials: config.credentials, probeTypes, logger: silentLogger, env: ENV });
    const runs = new Map<string, RunRecord>();
    for (const probe of target.probes) {
      const run = await runner.run(target, probe);
      runs.set(probe.name, run!);
    }
    assert.equal(runs.get('always_ok')!.result, 'success');
    assert.equal(runs.get('auth_flow')!.result, 'success');
    assert.deepEqual([runs.get('throws')!.reason, runs.get('throws')!.detail], ['internal', "TypeError: Cannot read properties of null (reading 'boom')"]);
    assert.deepEqual([runs.get('hangs')!.reason, runs.get('hangs')!.detail], ['timeout', 'no result within the 300 ms timeout']);
    assert.deepEqual([runs.get('fails')!.reason, runs.get('fails')!.detail], ['invalid_result', 'it did not work']);
    assert.deepEqual([runs.get('made_up')!.reason, runs.get('made_up')!.detail], ['internal', 'unknown failure reason "sort_of_bad": it did not work']);
    assert.equal(sim.stats().openConnections, 0, 'the connections the scripts opened are closed');
  });

  it('scripts are checked at start: every problem, each naming its file', async () => {
    const dir = writeDir(root, 'bad', {
      'a-no-default.mjs': `export const probe = {};`,
      'b-syntax.mjs': `export default {`,
      'c-throws-at-import.mjs': `throw new Error('needs FOO');`,
      'd-builtin.mjs': GOOD['ok.mjs'].replace("'always_ok'", "'rpc'"),
      'e-open-schema.mjs': GOOD['ok.mjs'].replace('additionalProperties: false, ', ''),
      'f-bad-type.mjs': GOOD['ok.mjs'].replace("'always_ok'", "'Always OK'"),
      'g-ok.mjs': GOOD['ok.mjs'],
      'h-dup.mjs': GOOD['ok.mjs'],
      'i-no-run.mjs': `export default { type: 'x', description: 'x', optionsSchema: { type: 'object', additionalProperties: false } };`,
      'j-bad-schema.mjs': GOOD['ok.mjs'].replace("type: 'integer'", "type: 'int'"),
    });
    const at = `probe_scripts_dir ${JSON.stringify(dir)}`;
    const found = await problems(dir);
    assert.deepEqual(found.slice(0, 3), [
      `${at}: "a-no-default.mjs": must export a probe definition as default: export default { type, description, optionsSchema, run }`,
      `${at}: "b-syntax.mjs": cannot be loaded: SyntaxError: Unexpected end of input`,
      `${at}: "c-throws-at-import.mjs": cannot be loaded: Error: needs FOO`,
    ]);
    assert.deepEqual(found.slice(3), [
      `${at}: "d-builtin.mjs": type "rpc" is a built-in probe type; choose another name`,
      `${at}: "e-open-schema.mjs": optionsSchema must be a JSON Schema with type: "object" and additionalProperties: false (unknown options are refused)`,
      `${at}: "f-bad-type.mjs": type must be 1 to 64 lowercase letters, digits or "_", starting with a letter`,
      `${at}: "h-dup.mjs": type "always_ok" is already defined by "g-ok.mjs"`,
      `${at}: "i-no-run.mjs": run must be a function (ctx) => Promise<void>`,
      `${at}: "j-bad-schema.mjs": optionsSchema is not a valid schema: schema is invalid: data/properties/n/type must be equal to one of the allowed values, data/properties/n/type must be array, data/properties/n/type must match a schema in anyOf`,
    ]);
    assert.deepEqual(await problems(join(root, 'nope')), [`probe_scripts_dir ${JSON.stringify(join(root, 'nope'))}: cannot read the directory: ENOENT`]);
  });

  it('a scripted type validates its probes like a built-in one', async () => {
    const dir = writeDir(root, 'opts', { 'ok.mjs': GOOD['ok.mjs'] });
    assert.deepEqual(await problems(dir, '      - type: always_ok\n        n: many\n        m: 1\n'), [
      'targets[0].probes[0].n: must be an integer',
      'targets[0].probes[0]: unknown key "m" (allowed: type, name, interval, schedule, timeout, degraded_after, n)',
    ]);
  });

  it(`TypeScript scripts: ${canImportTypeScript() ? 'imported by this Node.js' : 'refused on this Node.js with a clear message'}`, async () => {
    const ts = `import type { ProbeDefinition } from 'camprobe';\nconst probe: ProbeDefinition = ${GOOD['ok.mjs'].replace('export default ', '').replace("'always_ok'", "'typed'")}\nexport default probe;\n`;
    const dir = writeDir(root, 'ts', { 'typed.ts': ts });
    const found = await problems(dir, '      - type: typed\n');
    if (canImportTypeScript()) assert.deepEqual(found, []);
    else {
      assert.deepEqual(found, [
        `probe_scripts_dir ${JSON.stringify(dir)}: "typed.ts": TypeScript needs Node.js 22.18 or later (type stripping); this is ${process.version}: compile it to .js, or run a newer Node.js`,
      ]);
    }
  });

  it('the shipped example script runs green through `camprobe once`', async () => {
    const config = join(process.cwd(), 'config/examples/probe-scripts.yaml');
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(process.cwd(), 'dist/src/cli.js'), 'once', '-c', config, '--probe', 'camera_status', '--reporter', 'json'],
        { env: { PATH: process.env.PATH ?? '', ...ENV, CAMERA_SERVICE_URL: sim.url }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
      );
    });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const [run] = (JSON.parse(result.stdout) as { runs: RunRecord[] }).runs;
    assert.equal(run!.type, 'camera_status');
    assert.deepEqual(run!.values, { cameras_checked: 2 });
    assert.deepEqual(run!.steps.map((s) => s.step), ['connect', 'upgrade', 'authenticate', 'call', 'call', 'call']);
  });
});
