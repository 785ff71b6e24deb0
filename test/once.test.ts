/**
 * `camprobe once`: the real CLI as a child process against the simulator on port 0, and
 * the reporters on their own.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { prettyReport } from '../src/report/pretty.js';
import { junitReport, xml } from '../src/report/junit.js';
import { summarize, useColour } from '../src/report/index.js';
import type { RunRecord } from '../src/core/outcome.js';
import { SECRET } from './helpers/harness.js';

const CLI = join(process.cwd(), 'dist/src/cli.js');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? '', CAMERA_SERVICE_JWT_SECRET: SECRET, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Well-formedness checked by libxml2's xmllint, not by our own reading of XML. */
function assertWellFormedXml(text: string): void {
  const r = spawnSync('xmllint', ['--noout', '-'], { input: text, encoding: 'utf8' });
  assert.equal(r.error, undefined, 'xmllint must be installed (libxml2-utils)');
  assert.equal(r.status, 0, `xmllint: ${r.stderr}`);
}

describe('camprobe once (CLI)', () => {
  let sim: Simulator;
  let dir: string;
  let configPath: string;
  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
    dir = mkdtempSync(join(tmpdir(), 'camprobe-once-'));
    configPath = join(dir, 'camprobe.yaml');
    writeFileSync(
      configPath,
      `credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - name: sim
    url: ${sim.url}
    probes:
      - type: auth_flow
        degraded_after: { call: 100ms }
      - type: camera_list
      - type: protected_rejection
        once_requests_per_minute: 60000   # the simulator has no rate limit; the default paces at 50
  - name: other
    url: ${sim.url}
    probes:
      - type: auth_flow
`,
    );
  });
  after(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => sim.setFaults({}));

  it('all pass: exit 0, a plain table on a pipe with every probe and its step timings', async () => {
    const r = await cli(['once', '--config', configPath]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.doesNotMatch(r.stdout, /\u001b\[/, 'no colour when piped');
    assert.match(r.stdout, /^RESULT\s+TARGET\s+PROBE\s+TYPE\s+DURATION$/m);
    for (const [target, probe] of [['sim', 'auth_flow'], ['sim', 'camera_list'], ['sim', 'protected_rejection'], ['other', 'auth_flow']]) {
      assert.match(r.stdout, new RegExp(`^PASS\\s+${target}\\s+${probe}\\s`, 'm'));
    }
    assert.match(r.stdout, /connect [\d.]+ ms · upgrade [\d.]+ ms · authenticate [\d.]+ ms · call [\d.]+ ms/);
    assert.match(r.stdout, /4 runs, 4 passed \(0 degraded\), 0 failed/);
  });

  it('a security regression: exit 1, reason and detail in the table; --target/--probe select', async () => {
    sim.setFaults({ exposeProtected: true });
    const r = await cli(['once', '-c', configPath, '--target', 'sim', '--probe', 'protected_rejection', '--probe', 'auth_flow']);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, /^FAIL\s+sim\s+protected_rejection\s/m);
    assert.match(r.stdout, /security_violation at reject: exposed: \d+ methods: .*get_camera_list to no credential, forged token per call, expired token per call and \d+ more \(a result\)/);
    assert.match(r.stdout, /^PASS\s+sim\s+auth_flow\s/m);
    assert.doesNotMatch(r.stdout, /^\w+\s+(sim\s+camera_list|other)\s/m);
  });

  it('json: the summary and the run records; degraded runs pass and say why', async () => {
    sim.setFaults({ methodLatencyMs: { ping: 150 } });
    const r = await cli(['once', '-c', configPath, '--target', 'sim', '--probe', 'auth_flow', '--reporter', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { summary: Record<string, number>; runs: RunRecord[] };
    assert.deepEqual({ ...report.summary, durationMs: 0 }, { total: 1, passed: 1, failed: 0, degraded: 1, durationMs: 0 });
    const [run] = report.runs;
    assert.equal(run!.result, 'success');
    assert.equal(run!.degraded, true);
    assert.match(run!.detail!, /step call took [\d.]+ ms, over degraded_after\.call 100 ms/);
    assert.deepEqual(run!.steps.map((s) => s.step), ['connect', 'upgrade', 'authenticate', 'call']);
  });

  it('junit to --output: well-formed XML, one testcase per target and probe, failures carry reason and detail', async () => {
    sim.setFaults({ malformedCameraList: true });
    const out = join(dir, 'report.xml');
    const r = await cli(['once', '-c', configPath, '--reporter', 'junit', '--output', out]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^FAIL\s+sim\s+camera_list/m, 'the pretty table still goes to stdout');
    const text = readFileSync(out, 'utf8');
    assertWellFormedXml(text);
    assert.match(text, /<testsuites name="camprobe" tests="4" failures="1" errors="0"/);
    assert.match(text, /<testsuite name="sim" tests="3" failures="1"/);
    assert.match(text, /<testsuite name="other" tests="1" failures="0"/);
    const cases = [...text.matchAll(/<testcase classname="([^"]+)" name="([^"]+)"/g)].map((m) => `${m[1]}/${m[2]}`);
    assert.deepEqual(cases, ['sim/auth_flow', 'sim/camera_list', 'sim/protected_rejection', 'other/auth_flow']);
    assert.match(
      text,
      /<failure type="invalid_result" message="invalid_result at call: get_camera_list: &quot;total&quot; is 3 but the list has 2 cameras">/,
    );
  });

  it('usage and configuration errors exit 2 with a message naming the problem', async () => {
    const unknownTarget = await cli(['once', '-c', configPath, '--target', 'nope']);
    assert.equal(unknownTarget.code, 2);
    assert.equal(unknownTarget.stderr, 'camprobe: unknown target "nope" (configured: sim, other)\n');
    assert.equal(unknownTarget.stdout, '');

    const unknownProbe = await cli(['once', '-c', configPath, '--target', 'other', '--probe', 'camera_list']);
    assert.equal(unknownProbe.code, 2);
    assert.equal(unknownProbe.stderr, 'camprobe: unknown probe "camera_list" in target other (configured: auth_flow)\n');

    const typo = await cli(['once', '-c', configPath, '--target', 'sin', '--probe', 'auth_flw']);
    assert.equal(typo.code, 2);
    assert.equal(typo.stderr, 'camprobe: unknown target "sin": did you mean "sim"? (configured: sim, other)\n');

    const reporter = await cli(['once', '-c', configPath, '--reporter', 'tap']);
    assert.equal(reporter.code, 2);
    assert.equal(reporter.stderr, 'camprobe: --reporter must be one of pretty, json, junit; see camprobe --help\n');

    const notOnce = await cli(['check-config', '-c', configPath, '--probe', 'auth_flow']);
    assert.equal(notOnce.code, 2);
    assert.match(notOnce.stderr, /--probe is an option of "camprobe once"/);

    const noSecret = await cli(['once', '-c', configPath], { CAMERA_SERVICE_JWT_SECRET: '' });
    assert.equal(noSecret.code, 2);
    assert.match(noSecret.stderr, /credentials\.service\.jwt_secret: environment variable CAMERA_SERVICE_JWT_SECRET is empty/);

    const badOutput = await cli(['once', '-c', configPath, '--probe', 'auth_flow', '-o', join(dir, 'missing', 'r.xml')]);
    assert.equal(badOutput.code, 2);
    assert.match(badOutput.stderr, /cannot write --output .*: ENOENT/);
  });
});

describe('reporters', () => {
  const base = {
    type: 'auth_flow',
    startedAt: '2026-01-01T00:00:00.000Z',
    startedAtMs: 1_767_225_600_000,
    durationMs: 12.5,
    steps: [{ step: 'connect' as const, startMs: 0, durationMs: 1.25, ok: true }],
  };
  const runs: RunRecord[] = [
    { ...base, target: 'a<&>"\'', probe: 'p1', result: 'success', reason: 'ok' },
    {
      ...base,
      target: 'a<&>"\'',
      probe: 'p2',
      result: 'failure',
      reason: 'rpc_error',
      step: 'call',
      detail: 'ping: error -32603 <b>"boom" & \'more\'\u0000\u001b[31m\nsecond line',
    },
    { ...base, target: 't2', probe: 'p3', result: 'success', reason: 'ok', degraded: true, detail: 'the run took 12.5 ms, over degraded_after 10 ms' },
  ];
  const summary = summarize(runs, 20);

  it('junit escapes markup, quotes and control characters (xmllint agrees) and keeps the text', () => {
    const text = junitReport(runs, summary);
    assertWellFormedXml(text);
    assert.match(text, /classname="a&lt;&amp;&gt;&quot;&apos;"/);
    assert.match(text, /ping: error -32603 &lt;b&gt;&quot;boom&quot; &amp; &apos;more&apos;\uFFFD\uFFFD\[31m&#10;second line/);
    assert.match(text, /<system-out>type: auth_flow&#10;degraded: the run took 12.5 ms, over degraded_after 10 ms&#10;steps: connect 1.3 ms<\/system-out>/);
    assert.equal(xml('\uD83D\uDE00'), '\uD83D\uDE00', 'astral characters are valid XML');
  });

  it('pretty: colour only when asked, aligned columns either way', () => {
    const plain = prettyReport(runs, summary, { colour: false });
    assert.doesNotMatch(plain, /[\u0000\u001b]/, 'no colour, and no control characters from the service');
    assert.match(plain, /^DEGRADED {2}t2 {6}p3 {5}auth_flow {2}12.5 ms$/m);
    assert.match(plain, /^FAIL {6}a<&>"' {2}p2 {5}auth_flow {2}12.5 ms$/m);
    assert.match(plain, /^ {10}rpc_error at call: ping: error -32603 <b>"boom" & 'more'\uFFFD\uFFFD\[31m second line$/m);
    assert.match(plain, /^ {10}degraded: the run took 12.5 ms/m);
    const coloured = prettyReport(runs, summary, { colour: true });
    assert.match(coloured, /\u001b\[31mFAIL {4}\u001b\[0m/);
    assert.match(coloured, /\u001b\[33mDEGRADED\u001b\[0m/);
    assert.equal(coloured.replace(/\u001b\[\d+m/g, ''), plain);
  });

  it('colour needs a TTY and no NO_COLOR', () => {
    assert.equal(useColour({ isTTY: true }, {}), true);
    assert.equal(useColour({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(useColour({ isTTY: false }, {}), false);
    assert.equal(useColour({}, {}), false);
  });
});
