import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDaemon, type Daemon } from '../src/daemon.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { captureLogger, nextRun, SECRET, until, watchOutput } from './helpers/harness.js';
import { parseProm, select, value } from './helpers/prom-text.js';

const CLI = join(process.cwd(), 'dist/src/cli.js');

/** A config with one target per name, each running auth_flow and camera_list. */
function configText(url: string, targets: string[], opts: { timeout?: string; extra?: string } = {}): string {
  return `server: { host: 127.0.0.1, port: 0 }
log: { level: debug }
defaults: { interval: 1s, timeout: ${opts.timeout ?? '800ms'} }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
${opts.extra ?? ''}
targets:
${targets.map((t) => `  - name: ${t}\n    url: ${url}\n    probes: [{ type: auth_flow }, { type: camera_list }]\n`).join('')}`;
}

async function scrape(daemon: Daemon) {
  return parseProm(await (await fetch(`${daemon.address}/metrics`)).text());
}

const targetsIn = (samples: ReturnType<typeof parseProm>) =>
  new Set(select(samples, 'camprobe_probe_success').map((s) => s.labels.target));

describe('reloading the configuration', () => {
  let sim: Simulator;
  let daemon: Daemon;
  let path: string;
  let lines: string[];

  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
    path = join(mkdtempSync(join(tmpdir(), 'camprobe-reload-')), 'camprobe.yaml');
    writeFileSync(path, configText(sim.url, ['alpha', 'beta']));
    const captured = captureLogger();
    lines = captured.lines;
    daemon = await startDaemon({ configPath: path, logger: captured.logger, env: { CAMERA_SERVICE_JWT_SECRET: SECRET } });
    await Promise.all([
      nextRun(daemon, 'camera_list', (r) => r.target === 'alpha'),
      nextRun(daemon, 'camera_list', (r) => r.target === 'beta'),
    ]);
  });
  after(async () => {
    await daemon.stop();
    await sim.close();
  });

  it('removes dropped targets with their series and history, keeps unchanged ones, starts new ones', async () => {
    const before = await scrape(daemon);
    const betaRuns = value(before, 'camprobe_probe_runs_total', { target: 'beta', probe: 'camera_list', result: 'success', reason: 'ok' })!;
    const loadedAt = value(before, 'camprobe_config_last_reload_success_timestamp_seconds')!;
    assert.ok(betaRuns >= 1);

    writeFileSync(path, configText(sim.url, ['beta', 'gamma']));
    const result = await daemon.reload();
    assert.deepEqual(result, {
      ok: true,
      added: ['gamma/auth_flow', 'gamma/camera_list'],
      changed: [],
      removed: ['alpha/auth_flow', 'alpha/camera_list'],
      unchanged: 2,
    });
    await nextRun(daemon, 'camera_list', (r) => r.target === 'gamma');

    const now = await scrape(daemon);
    assert.deepEqual(targetsIn(now), new Set(['beta', 'gamma']));
    assert.equal(select(now, 'camprobe_probe_runs_total', { target: 'alpha' }).length, 0, 'no series of alpha left');
    // beta's counters continue: its series were never recreated.
    assert.ok(value(now, 'camprobe_probe_runs_total', { target: 'beta', probe: 'camera_list', result: 'success', reason: 'ok' })! >= betaRuns);
    assert.equal(daemon.history.list({ target: 'alpha' }).length, 0);
    assert.ok(daemon.history.list({ target: 'beta' }).length >= betaRuns);
    assert.equal(value(now, 'camprobe_config_last_reload_successful'), 1);
    assert.ok(value(now, 'camprobe_config_last_reload_success_timestamp_seconds')! >= loadedAt);
    assert.deepEqual(daemon.config.targets.map((t) => t.name), ['beta', 'gamma']);
  });

  it('restarts a probe whose settings changed, keeping its series', async () => {
    const before = value(await scrape(daemon), 'camprobe_probe_runs_total', { target: 'beta', probe: 'auth_flow', result: 'success', reason: 'ok' })!;
    writeFileSync(path, configText(sim.url, ['beta', 'gamma'], { timeout: '900ms' }));
    const result = await daemon.reload();
    assert.ok(result.ok);
    assert.deepEqual(result.changed.sort(), ['beta/auth_flow', 'beta/camera_list', 'gamma/auth_flow', 'gamma/camera_list']);
    const run = await nextRun(daemon, 'auth_flow', (r) => r.target === 'beta');
    assert.equal(run.result, 'success');
    assert.equal(daemon.config.targets[0]!.probes[0]!.timeout_ms, 900);
    const after = value(await scrape(daemon), 'camprobe_probe_runs_total', { target: 'beta', probe: 'auth_flow', result: 'success', reason: 'ok' })!;
    assert.ok(after > before, `${after} > ${before}`);
  });

  it('refuses an invalid file with a log line naming the problem, and keeps running the old one', async () => {
    const loadedAt = value(await scrape(daemon), 'camprobe_config_last_reload_success_timestamp_seconds')!;
    writeFileSync(path, configText(sim.url, ['beta', 'gamma']).replace('interval: 1s', 'interval: 7 seconds'));
    const result = await daemon.reload();
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.error : '', /defaults\.interval: must be a duration like/);
    const line = lines.find((l) => l.includes('configuration reload refused'));
    assert.ok(line, 'a log line says the reload was refused');
    assert.match(JSON.parse(line).error, /defaults\.interval/);

    // Still probing both targets with the old configuration.
    await Promise.all([
      nextRun(daemon, 'camera_list', (r) => r.target === 'beta'),
      nextRun(daemon, 'camera_list', (r) => r.target === 'gamma'),
    ]);
    const now = await scrape(daemon);
    assert.equal(value(now, 'camprobe_config_last_reload_successful'), 0);
    assert.equal(value(now, 'camprobe_config_last_reload_success_timestamp_seconds'), loadedAt);
    assert.equal(daemon.config.targets[0]!.probes[0]!.interval_ms, 1000);

    writeFileSync(path, configText(sim.url, ['beta', 'gamma'], { timeout: '900ms' }));
    const fixed = await daemon.reload();
    assert.ok(fixed.ok);
    assert.equal(fixed.unchanged, 4);
    assert.equal(value(await scrape(daemon), 'camprobe_config_last_reload_successful'), 1);
  });

  it('reloads asked for together run one after the other, and end on the last file', async () => {
    writeFileSync(path, configText(sim.url, ['beta']));
    const first = daemon.reload();
    const second = daemon.reload();
    const [a, b] = await Promise.all([first, second]);
    assert.ok(a.ok && b.ok);
    assert.equal(a.removed.length, 2);
    assert.equal(b.removed.length, 0, 'the second found nothing left to do');
    assert.deepEqual(targetsIn(await scrape(daemon)), new Set(['beta']));
  });
});

describe('signals to the camprobe command', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
  });
  after(() => sim.close());

  it('SIGHUP reloads: a new target is probed, an invalid file is refused, the process keeps running', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'camprobe-hup-')), 'camprobe.yaml');
    writeFileSync(path, configText(sim.url, ['alpha']));
    const child = spawn(process.execPath, [CLI, 'run', '--config', path], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CAMERA_SERVICE_JWT_SECRET: SECRET, CAMPROBE_LOG_LEVEL: 'debug' },
    });
    const out = watchOutput(child);
    try {
      const [, address] = (await out.waitFor(/"address":"(http:[^"]+)"/)) as RegExpMatchArray;
      writeFileSync(path, configText(sim.url, ['alpha', 'beta']));
      let mark = out.text().length;
      child.kill('SIGHUP');
      await out.waitFor(/configuration reloaded/, mark);
      await out.waitFor(/"target":"beta","probe":"camera_list"[^\n]*probe run succeeded/, mark);
      const samples = parseProm(await (await fetch(`${address}/metrics`)).text());
      assert.deepEqual(targetsIn(samples), new Set(['alpha', 'beta']));

      writeFileSync(path, 'targets: [}\n');
      mark = out.text().length;
      child.kill('SIGHUP');
      const [line] = (await out.waitFor(/[^\n]*configuration reload refused[^\n]*/, mark)) as RegExpMatchArray;
      assert.match(line!, /YAML|yaml|line 1/);
      assert.equal((await fetch(`${address}/healthz`)).status, 200);
      assert.equal(child.exitCode, null, 'still running');
    } finally {
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0, out.text());
    }
  });

  it('a signal the moment the start line is written is acted on, not fatal: SIGHUP reloads, SIGTERM stops cleanly', async () => {
    // The start line is written before the daemon's own handlers are in place; a supervisor
    // reacting to it at once used to kill the process (SIGHUP's and SIGTERM's default action).
    for (const signal of ['SIGHUP', 'SIGTERM'] as const) {
      const path = join(mkdtempSync(join(tmpdir(), 'camprobe-early-')), 'camprobe.yaml');
      writeFileSync(path, configText(sim.url, ['alpha']));
      const child = spawn(process.execPath, [CLI, 'run', '--config', path], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CAMERA_SERVICE_JWT_SECRET: SECRET, CAMPROBE_LOG_LEVEL: 'debug' },
      });
      const out = watchOutput(child);
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      child.stdout!.on('data', (d: Buffer) => {
        if (/camprobe started/.test(d.toString())) child.kill(signal);
      });
      if (signal === 'SIGHUP') {
        await out.waitFor(/configuration reloaded/);
        assert.equal(child.exitCode, null, 'still running after the early SIGHUP');
        child.kill('SIGTERM');
      }
      const [code, bySignal] = await exited;
      assert.deepEqual([code, bySignal], [0, null], `${signal}: ${out.text()}`);
    }
  });

  it('SIGTERM with runs in flight: exits 0 promptly and leaves no connection open at the service', async () => {
    const slow = await startSimulator({ jwtSecret: SECRET, faults: { latencyMs: 20_000 } });
    const path = join(mkdtempSync(join(tmpdir(), 'camprobe-term-')), 'camprobe.yaml');
    writeFileSync(
      path,
      configText(slow.url, ['slow1', 'slow2', 'slow3']).replace('interval: 1s, timeout: 800ms', 'interval: 1m, timeout: 30s'),
    );
    const child = spawn(process.execPath, [CLI, 'run', '--config', path], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CAMERA_SERVICE_JWT_SECRET: SECRET, CAMPROBE_LOG_LEVEL: 'debug' },
    });
    const out = watchOutput(child);
    try {
      await out.waitFor(/camprobe started/);
      // Every run is now waiting on a 20 s answer: wait until all six are connected.
      await until('six open connections at the service', 10_000, async () => (slow.stats().openConnections >= 6 ? true : undefined), 10);
      const t0 = Date.now();
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      const tookMs = Date.now() - t0;
      assert.equal(code, 0, out.text());
      assert.ok(tookMs < 5000, `stopped in ${tookMs} ms`);
      assert.match(out.text(), /camprobe stopped/);
      // The daemon closed its sockets before exiting: the service sees them go.
      await until('every connection closed at the service', 10_000, async () => (slow.stats().openConnections === 0 ? true : undefined), 10);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await slow.close();
    }
  });
});
