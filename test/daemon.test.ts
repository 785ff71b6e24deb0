import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDaemon, type Daemon } from '../src/daemon.js';
import type { RunRecord } from '../src/core/outcome.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { parseProm, value } from './helpers/prom-text.js';
import { captureLogger, nextRun, SECRET } from './helpers/harness.js';

const PROBES = ['auth_flow', 'camera_list', 'protected_rejection'];
const CLI = join(process.cwd(), 'dist/src/cli.js');

function writeConfig(url: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-daemon-'));
  const path = join(dir, 'camprobe.yaml');
  writeFileSync(
    path,
    `server: { host: 127.0.0.1, port: 0 }
log: { level: debug }
defaults: { interval: 1s, timeout: 800ms }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - name: sim
    url: ${url}
    # The access matrix whole in every run (sweep = interval): a fixed regression clears at the next run.
    probes: [{ type: auth_flow }, { type: camera_list }, { type: protected_rejection, sweep: 1s }]
`,
  );
  return path;
}

async function scrape(daemon: Daemon) {
  const res = await fetch(`${daemon.address}/metrics`);
  assert.equal(res.status, 200);
  return parseProm(await res.text());
}


describe('daemon end to end with the simulator', () => {
  let sim: Simulator;
  let daemon: Daemon;
  let logLines: string[] = [];
  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
    const captured = captureLogger();
    const logger = captured.logger;
    logLines = captured.lines;
    daemon = await startDaemon({
      configPath: writeConfig(sim.url),
      logger,
      env: { CAMERA_SERVICE_JWT_SECRET: SECRET },
    });
  });
  after(async () => {
    await daemon.stop();
    await sim.close();
  });

  it('every probe reports success 1, with the camera gauges', async () => {
    await Promise.all(PROBES.map((p) => nextRun(daemon, p, (r) => r.result === 'success')));
    const samples = await scrape(daemon);
    for (const probe of PROBES) {
      assert.equal(value(samples, 'camprobe_probe_success', { target: 'sim', probe }), 1, probe);
      assert.ok(value(samples, 'camprobe_probe_runs_total', { target: 'sim', probe, result: 'success', reason: 'ok' })! >= 1);
      assert.ok(value(samples, 'camprobe_probe_last_success_timestamp_seconds', { target: 'sim', probe })! > Date.now() / 1000 - 60);
    }
    assert.equal(value(samples, 'camprobe_cameras', { target: 'sim' }), 2);
    assert.equal(value(samples, 'camprobe_cameras_connected', { target: 'sim' }), 1);
    assert.equal(value(samples, 'camprobe_build_info', {}), 1);
  });

  it('promtool check metrics reports nothing on the output of /metrics', async () => {
    const text = await (await fetch(`${daemon.address}/metrics`)).text();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal((r.stdout + r.stderr).trim(), '');
  });

  it('an injected security regression turns protected_rejection to 0 with security_violation, and back when removed', async () => {
    sim.setFaults({ exposeProtected: true });
    // Each scheduled run checks its share of the access matrix: the share a run lands on
    // may be cells that now answer the method's own error (rejection_unconfirmed) before the
    // sweep reaches one that answers a result. Every failure must be one of the two.
    const failures: RunRecord[] = [];
    const bad = await nextRun(daemon, 'protected_rejection', (r) => {
      if (r.result === 'failure') failures.push(r);
      return r.reason === 'security_violation';
    });
    assert.deepEqual([...new Set(failures.map((r) => r.reason))].filter((r) => r !== 'rejection_unconfirmed'), ['security_violation']);
    assert.equal(bad.reason, 'security_violation');
    let samples = await scrape(daemon);
    assert.equal(value(samples, 'camprobe_probe_success', { target: 'sim', probe: 'protected_rejection' }), 0);
    assert.ok(
      value(samples, 'camprobe_probe_runs_total', { probe: 'protected_rejection', result: 'failure', reason: 'security_violation' })! >= 1,
    );
    sim.setFaults({});
    await nextRun(daemon, 'protected_rejection', (r) => r.result === 'success');
    samples = await scrape(daemon);
    assert.equal(value(samples, 'camprobe_probe_success', { target: 'sim', probe: 'protected_rejection' }), 1);
  });

  for (const [fault, probe, reason] of [
    [{ refuseValidCredentials: true }, 'auth_flow', 'auth_rejected'],
    [{ malformedCameraList: true }, 'camera_list', 'invalid_result'],
    [{ methodLatencyMs: { get_camera_list: 1500 } }, 'camera_list', 'timeout'],
  ] as const) {
    it(`fault ${JSON.stringify(fault)} turns ${probe} to 0 with ${reason}, and back`, async () => {
      sim.setFaults(fault);
      const bad = await nextRun(daemon, probe, (r) => r.result === 'failure');
      assert.equal(bad.reason, reason, bad.detail);
      const line = logLines.find((l) => l.includes('probe run failed') && l.includes(`"probe":"${probe}"`) && l.includes(reason));
      assert.ok(line, 'one log line for the failed run, with its reason');
      assert.ok(['target', 'probe', 'step', 'reason', 'detail'].every((k) => k in JSON.parse(line)));
      sim.setFaults({});
      await nextRun(daemon, probe, (r) => r.result === 'success');
    });
  }

  it('/api/runs shows recent runs with steps, and never a secret', async () => {
    const res = await fetch(`${daemon.address}/api/runs?target=sim&limit=50`);
    const body = await res.text();
    const runs = (JSON.parse(body) as { runs: RunRecord[] }).runs;
    assert.ok(runs.length > 0);
    assert.ok(runs[0]!.steps.length > 0);
    assert.ok(!body.includes(SECRET));
    assert.ok(!/eyJ[A-Za-z0-9_-]+\./.test(body));
    assert.ok(!logLines.join('').includes(SECRET));
  });

  it('with the simulator gone, every probe fails with connect_refused while /metrics and /readyz keep serving', async () => {
    const url = sim.url;
    await sim.close();
    // A run in flight when the service goes away ends `closed`; the runs after it cannot connect.
    const runs = await Promise.all(PROBES.map((p) => nextRun(daemon, p, (r) => r.result === 'failure' && r.reason !== 'closed')));
    for (const run of runs) assert.equal(run.reason, 'connect_refused', `${run.probe}: ${run.detail}`);
    const samples = await scrape(daemon);
    for (const probe of PROBES) assert.equal(value(samples, 'camprobe_probe_success', { target: 'sim', probe }), 0);
    assert.equal((await fetch(`${daemon.address}/readyz`)).status, 200);
    // Bring a simulator back on the same port for the remaining hooks.
    const port = Number(new URL(url).port);
    sim = await startSimulator({ jwtSecret: SECRET, port });
  });
});

describe('camprobe command', () => {
  it('--version and --help', () => {
    const v = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^camprobe \d+\.\d+\.\d+ \(commit \S+, node v\d+/);
    const h = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    assert.equal(h.status, 0);
    assert.match(h.stdout, /check-config/);
  });

  it('check-config: exit 0 on a valid file, 2 with the field named on an invalid one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'camprobe-cli-'));
    const good = writeConfig('ws://127.0.0.1:8002/ws');
    const ok = spawnSync(process.execPath, [CLI, 'check-config', '--config', good], {
      encoding: 'utf8',
      env: { ...process.env, CAMERA_SERVICE_JWT_SECRET: SECRET },
    });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /: OK, 1 target, 3 probes\n/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'server: { port: 70000 }\ncredentials: {}\ntargets: []\n');
    const r = spawnSync(process.execPath, [CLI, 'check-config', '-c', bad], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /server\.port: must be an integer from 0 to 65535/);
  });

  it('an unknown command or option: exit 2 with usage', () => {
    const r = spawnSync(process.execPath, [CLI, 'frobnicate'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command/);
  });

  it('the demo starts green and SIGTERM stops it cleanly with exit 0', async () => {
    const child = spawn(process.execPath, [CLI, 'demo', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CAMPROBE_LOG_LEVEL: 'debug' },
    });
    let out = '';
    const started = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += String(d);
        // The first successful run of each probe is logged at debug.
        const ok = PROBES.every((p) => out.includes(`"probe":"${p}"`) && out.includes('probe run succeeded'));
        if (ok && PROBES.every((p) => new RegExp(`"probe":"${p}"[^\\n]*probe run succeeded`).test(out))) resolve();
      });
      child.once('exit', (code) => reject(new Error(`demo exited early (${code}): ${out}`)));
    });
    await started;
    const t0 = Date.now();
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 5000, 'stopped within 5 s');
    assert.match(out, /camprobe stopped/);
  });
});
