/**
 * The session probe against the simulator: one connection held across runs, heartbeats on
 * it, why it ended, reconnects, notifications, the expiry check, the unauthenticated
 * listener, and that nothing stays open once the probe is closed.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../src/config/types.js';
import type { RunRecord } from '../src/core/outcome.js';
import { BUILTIN_PROBES } from '../src/probes/registry.js';
import { createRunner, type PreparedProbe } from '../src/runner/create-runner.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../src/simulator/simulator.js';
import { configFor, SECRET, silentLogger } from './helpers/harness.js';

/** The session probe of `yaml` options, prepared like a daemon job: its connection is held across runs. */
function prepare(config: Config): PreparedProbe {
  const target = config.targets[0]!;
  const runner = createRunner({ credentials: config.credentials, probeTypes: BUILTIN_PROBES, logger: silentLogger, env: { CAMERA_SERVICE_JWT_SECRET: SECRET } });
  return runner.prepare(target, target.probes[0]!);
}

function sessionConfig(url: string, options = ''): Config {
  return configFor(url, `      - type: session\n        interval: 1s\n        timeout: 900ms\n${options}`);
}

async function run(p: PreparedProbe): Promise<RunRecord> {
  const r = await p.run();
  assert.ok(r, 'the run was stopped');
  return r;
}

/** Resolves once `pred` holds, checking on each simulator event loop turn (no fixed sleep). */
async function until<T>(what: string, pred: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = pred();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * A simulator per test and the probes held against it, all closed after each test of the
 * enclosing describe: `sim()` is the current simulator.
 */
function sessionFixture() {
  let current: Simulator | undefined;
  const open: PreparedProbe[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
    await current?.close();
  });
  return {
    async startSim(opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
      current = await startSimulator({ jwtSecret: SECRET, ...opts });
      return current;
    },
    held(config: Config): PreparedProbe {
      const p = prepare(config);
      open.push(p);
      return p;
    },
  };
}

describe('session probe', () => {
  const { startSim, held } = sessionFixture();
  let sim: Simulator;

  it('holds one connection across runs, heartbeats on it, and closes it with the probe', async () => {
    sim = await startSim();
    const p = held(sessionConfig(sim.url, '        expiry_check: off\n'));
    const runs: RunRecord[] = [];
    for (let i = 0; i < 4; i++) runs.push(await run(p));
    for (const r of runs) assert.equal(r.result, 'success', r.detail);
    assert.equal(sim.stats().connections, 1, 'one connection for four runs');
    assert.equal(sim.stats().openConnections, 1);
    assert.deepEqual(runs.map((r) => r.steps.map((s) => s.step).join(',')), ['connect,upgrade,authenticate,call', 'call', 'call', 'call']);
    const last = runs[3]!.session!;
    assert.equal(last.up, true);
    assert.ok(last.heartbeatMs! > 0 && last.connectedAtMs! <= Date.now());
    assert.equal(last.reconnects, 0);
    await p.close();
    await until('the held connection to close', () => sim.stats().openConnections === 0 || undefined);
  });

  it('a connection the service closes is counted, the run fails, and the next run reconnects', async () => {
    sim = await startSim();
    const p = held(sessionConfig(sim.url, '        expiry_check: off\n'));
    assert.equal((await run(p)).result, 'success');
    sim.setFaults({ closeOnRequest: 1011 });
    const broken = await run(p);
    assert.equal(broken.result, 'failure');
    assert.equal(broken.reason, 'closed');
    assert.match(broken.detail!, /1011/);
    sim.setFaults({});
    const back = await run(p);
    assert.equal(back.result, 'success', back.detail);
    assert.equal(back.session!.reconnects, 1);
    assert.equal(back.session!.disconnects.closed, 1);
    assert.match(back.session!.lastDisconnect!, /1011/);
  });

  it('counts notifications by method between runs', async () => {
    sim = await startSim({ notificationIntervalMs: 10 });
    const p = held(sessionConfig(sim.url, '        expiry_check: off\n'));
    let last = await run(p);
    // Each run reports what arrived since the connection opened; a few runs see some.
    for (let i = 0; i < 50 && last.session!.notifications.camera_status_update === 0; i++) last = await run(p);
    const s = last.session!;
    assert.ok(s.notifications.camera_status_update > 0, JSON.stringify(s.notifications));
    assert.equal(s.invalidNotifications, 0);
    assert.ok(s.lastNotificationAtMs! <= Date.now());
  });
});

describe('session probe against the simulator\'s session faults', () => {
  const { startSim, held } = sessionFixture();
  let sim: Simulator;

  /**
   * Runs `p` as a scheduler would, one run every `gapMs`, until `pred` holds on a run or
   * `withinMs` passes. What these tests wait for is time itself (a token's exp, a silent
   * connection's bound), so the runs are spaced in time rather than back to back.
   */
  async function runUntil(p: PreparedProbe, pred: (r: RunRecord) => boolean, withinMs = 8000, gapMs = 50): Promise<RunRecord> {
    const deadline = Date.now() + withinMs;
    let last: RunRecord | undefined;
    while (Date.now() < deadline) {
      last = await run(p);
      if (pred(last)) return last;
      await new Promise((r) => setTimeout(r, gapMs));
    }
    throw new Error(`condition not reached within ${withinMs} ms; last run: ${JSON.stringify({ reason: last?.reason, detail: last?.detail, session: last?.session })}`);
  }

  it('server pings are seen; with them stopped and no answers the connection is declared dead and replaced', async () => {
    sim = await startSim({ pingIntervalMs: 20 });
    const p = held(sessionConfig(sim.url, '        expiry_check: off\n        dead_after: 300ms\n'));
    const seen = await runUntil(p, (r) => r.session!.lastServerPingAtMs !== undefined);
    assert.equal(seen.result, 'success');
    sim.setFaults({ noServerPings: true, silent: true });
    const dead = await runUntil(p, (r) => r.session!.disconnects.silent + r.session!.disconnects.heartbeat_failed > 0);
    assert.equal(dead.result, 'failure');
    sim.setFaults({});
    const back = await runUntil(p, (r) => r.result === 'success');
    assert.ok(back.session!.reconnects >= 1);
  });

  it('connections dropped after a while: counted as closed, reconnected', async () => {
    sim = await startSim();
    sim.setFaults({ dropAfterMs: 50 });
    const p = held(sessionConfig(sim.url, '        expiry_check: off\n'));
    const r = await runUntil(p, (x) => x.session!.disconnects.closed > 0 && x.session!.reconnects > 0);
    assert.ok(r.session!.disconnects.closed >= 1);
  });

  it('malformed notifications are counted with a sample; stalled ones stop the count', async () => {
    sim = await startSim();
    const p = held(sessionConfig(sim.url, '        expiry_check: off\n'));
    await run(p);
    sim.setFaults({ malformedNotifications: true });
    sim.notify('camera_status_update', { device: 'camera0', status: 'CONNECTED' });
    const bad = await runUntil(p, (r) => r.session!.invalidNotifications > 0);
    assert.equal(bad.result, 'success', 'malformed notifications are counted, not a failed run');
    assert.match(bad.session!.invalidSamples[0]!, /^camera_status_update: /);
    sim.setFaults({ stallNotifications: true });
    const before = bad.session!.notifications.camera_status_update;
    sim.notify('camera_status_update', { device: 'camera0', status: 'CONNECTED' });
    const after = await run(p);
    assert.equal(after.session!.notifications.camera_status_update, before);
  });

  it('a session over a real 1 s-expiry token is refused after expiry and re-authenticates', async () => {
    sim = await startSim();
    const p = held(sessionConfig(sim.url, '        expiry_check: 1s\n        expiry_ttl: 1s\n        clock_skew: 200ms\n'));
    const r = await runUntil(p, (x) => Object.values(x.session!.expiryChecks).some((n) => n > 0));
    assert.equal(r.session!.expiryChecks.enforced, 1, r.session!.lastExpiryCheck);
    assert.equal(r.result, 'success', r.detail);
    assert.match(r.session!.lastExpiryCheck!, /^enforced: refused after expiry \(-32001\) and restored by a fresh authenticate$/);
  });

  it('expiry ignored by the service: security_violation until a check finds it enforced again', async () => {
    sim = await startSim();
    sim.setFaults({ ignoreTokenExpiry: true });
    const p = held(sessionConfig(sim.url, '        expiry_check: 1s\n        expiry_ttl: 1s\n        clock_skew: 200ms\n'));
    const bad = await runUntil(p, (x) => x.session!.expiryChecks.not_enforced > 0);
    assert.equal(bad.result, 'failure');
    assert.equal(bad.reason, 'security_violation');
    assert.match(bad.detail!, /answered ping after its token expired/);
    sim.setFaults({});
    const good = await runUntil(p, (x) => x.session!.expiryChecks.enforced > 0);
    assert.equal(good.result, 'success', good.detail);
  });

  it('notifications pushed to a connection that never authenticated: security_violation', async () => {
    sim = await startSim();
    const p = held(sessionConfig(sim.url, '        expiry_check: off\n        listen_unauthenticated: true\n'));
    await run(p);
    sim.notify('camera_status_update', { device: 'camera0', status: 'CONNECTED' });
    const healthy = await run(p);
    assert.equal(healthy.result, 'success', 'a correct service notifies only authenticated sessions');
    assert.equal(healthy.session!.unauthenticatedNotifications, 0);
    sim.setFaults({ notifyUnauthenticated: true });
    sim.notify('camera_status_update', { device: 'camera0', status: 'CONNECTED' });
    const leak = await runUntil(p, (x) => x.session!.unauthenticatedNotifications > 0);
    assert.equal(leak.reason, 'security_violation');
    assert.match(leak.detail!, /unauthenticated connection received camera_status_update/);
  });
});

describe('session probe in the daemon', () => {
  it('a reload keeps an unchanged session open, a changed one reconnects, stop closes it', async (t) => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { startDaemon } = await import('../src/daemon.js');
    const { configYaml, nextRun } = await import('./helpers/harness.js');
    const sim = await startSimulator({ jwtSecret: SECRET });
    t.after(() => sim.close());
    const path = join(mkdtempSync(join(tmpdir(), 'camprobe-session-')), 'camprobe.yaml');
    const write = (deadAfter: string) =>
      writeFileSync(path, configYaml(sim.url, `      - { type: session, interval: 1s, timeout: 900ms, expiry_check: 'off', dead_after: ${deadAfter} }\n`, 'server: { host: 127.0.0.1, port: 0 }'));
    write('1m');
    const daemon = await startDaemon({ configPath: path, logger: silentLogger, env: { CAMERA_SERVICE_JWT_SECRET: SECRET } });
    let stopped = false;
    t.after(() => (stopped ? undefined : daemon.stop()));
    await nextRun(daemon, 'session', (r) => r.result === 'success');
    assert.equal(sim.stats().connections, 1);

    // Unchanged: the same connection goes on.
    assert.equal((await daemon.reload()).ok, true);
    await nextRun(daemon, 'session', (r) => r.result === 'success');
    assert.equal(sim.stats().connections, 1, 'a reload with the probe unchanged opened a new connection');

    // Changed: the old connection is closed, a new one opened.
    write('2m');
    assert.equal((await daemon.reload()).ok, true);
    await nextRun(daemon, 'session', (r) => r.result === 'success' && r.session!.connectedAtMs !== undefined);
    assert.equal(sim.stats().connections, 2);
    await until('the old session to close', () => (sim.stats().openConnections === 1 ? true : undefined));

    await daemon.stop();
    stopped = true;
    await until('every session to close at stop', () => (sim.stats().openConnections === 0 ? true : undefined));
  });
});
