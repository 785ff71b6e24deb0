/** Degraded runs end to end: the daemon records them in /api/runs and exports them on /metrics. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startDaemon, type Daemon } from '../src/daemon.js';
import type { RunRecord } from '../src/core/outcome.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { parseProm, value } from './helpers/prom-text.js';
import { configYaml, SECRET, silentLogger } from './helpers/harness.js';

let sim: Simulator;
let daemon: Daemon;
let dir: string;
before(async () => {
  sim = await startSimulator({ jwtSecret: SECRET, faults: { methodLatencyMs: { ping: 150 } } });
  dir = mkdtempSync(join(tmpdir(), 'camprobe-degraded-'));
  const configPath = join(dir, 'camprobe.yaml');
  const probes = `      - type: auth_flow
        degraded_after: { call: 100ms }
      - type: http
        name: ready
        port: ${sim.port}
`;
  writeFileSync(configPath, configYaml(sim.url, probes, 'server: { host: 127.0.0.1, port: 0 }\ndefaults: { interval: 1s, timeout: 800ms }'));
  daemon = await startDaemon({ configPath, logger: silentLogger, env: { CAMERA_SERVICE_JWT_SECRET: SECRET } });
});
after(async () => {
  await daemon.stop();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a slow ping: success, degraded in /api/runs and on /metrics; the http probe is typed in camprobe_probe_info', async () => {
  const run = await new Promise<RunRecord>((resolve) => {
    const listener = (r: RunRecord) => {
      if (r.probe !== 'auth_flow') return;
      daemon.events.off('run', listener);
      resolve(r);
    };
    daemon.events.on('run', listener);
  });
  assert.equal(run.result, 'success', run.detail);
  assert.equal(run.degraded, true);

  const runs = ((await (await fetch(`${daemon.address}/api/runs?probe=auth_flow&limit=1`)).json()) as { runs: RunRecord[] }).runs;
  assert.equal(runs[0]!.degraded, true);
  assert.match(runs[0]!.detail!, /^step call took [\d.]+ ms, over degraded_after\.call 100 ms$/);

  const samples = parseProm(await (await fetch(`${daemon.address}/metrics`)).text());
  const pair = { target: 'sim', probe: 'auth_flow' };
  assert.equal(value(samples, 'camprobe_probe_success', pair), 1);
  assert.equal(value(samples, 'camprobe_probe_degraded', pair), 1);
  assert.ok(value(samples, 'camprobe_probe_degraded_runs_total', pair)! >= 1);
  assert.equal(value(samples, 'camprobe_probe_info', { ...pair, type: 'auth_flow' }), 1);
  assert.equal(value(samples, 'camprobe_probe_info', { target: 'sim', probe: 'ready', type: 'http' }), 1);
});
