/**
 * Soak: the real daemon, in this process, against the simulator in a child process, at an
 * aggressive pace (many targets, 1 s schedules) with the simulator's faults rotating.
 * Samples RSS, heap (after a full GC) and active handles, and judges growth after warm-up.
 *
 *   npm run soak -- [--duration 12m] [--targets 50] [--rotate 10s] [--json FILE]
 *
 * Exit 0 when heap and handles grew less than 5% from the end of warm-up to the end, 1
 * otherwise, 2 on bad arguments.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseDuration } from '../src/core/duration.js';
import { startDaemon } from '../src/daemon.js';
import type { SimulatorFaults } from '../src/simulator/simulator.js';
import type { RunRecord } from '../src/core/outcome.js';

/** The faults cycled through, one per rotation; `{}` between them lets probes recover. */
const ROTATION: SimulatorFaults[] = [
  {},
  { latencyMs: 150 },
  { rateLimited: true },
  {},
  { notJson: true },
  { exposeProtected: true },
  {},
  { closeOnRequest: 1011 },
  { silent: true },
  {},
  { refuseValidCredentials: true },
  { duplicateResponse: true },
  { notificationFlood: 200 },
  { upgradeStatus: 503 },
];
const GROWTH_LIMIT = 0.05;

interface Sample {
  at_s: number;
  runs: number;
  rss_mb: number;
  heap_mb: number;
  handles: number;
}

function usage(message: string): never {
  process.stderr.write(`soak: ${message}\nusage: npm run soak -- [--duration 12m] [--targets 50] [--rotate 10s] [--json FILE]\n`);
  process.exit(2);
}

function argMs(name: string, text: string): number {
  try {
    return parseDuration(text);
  } catch {
    return usage(`--${name} must be a duration such as 30s or 10m, got "${text}"`);
  }
}

async function startSimulatorProcess(secret: string, extra: string[] = []): Promise<{ child: ChildProcess; url: string; control: string }> {
  const cli = join(dirname(fileURLToPath(import.meta.url)), '../src/simulator/cli.js');
  const child = spawn(process.execPath, [cli, '--port', '0', '--max-connections', '100000', ...extra], {
    env: { ...process.env, CAMERA_SERVICE_JWT_SECRET: secret },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    const m = out.match(/listening on (\S+) \(http (\S+)\)/);
    if (m) {
      child.stdout!.resume();
      return { child, url: m[1]!, control: `${m[2]}/control/faults` };
    }
  }
  throw new Error(`simulator exited before listening: ${out}`);
}

function sample(startMs: number, runs: number): Sample {
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  return {
    at_s: Math.round((Date.now() - startMs) / 1000),
    runs,
    rss_mb: round(mem.rss / 2 ** 20),
    heap_mb: round(mem.heapUsed / 2 ** 20),
    handles: process.getActiveResourcesInfo().length,
  };
}

/** Per field, the median of the samples (at_s and runs: of the middle one). */
function medianSample(list: Sample[]): Sample {
  const median = (f: (s: Sample) => number) => {
    const v = list.map(f).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)]!;
  };
  const mid = list[Math.floor(list.length / 2)]!;
  return { at_s: mid.at_s, runs: mid.runs, rss_mb: median((s) => s.rss_mb), heap_mb: median((s) => s.heap_mb), handles: median((s) => s.handles) };
}

const round = (n: number) => Math.round(n * 100) / 100;
const growth = (from: number, to: number) => (to - from) / from;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '12m' },
      targets: { type: 'string', default: '50' },
      rotate: { type: 'string', default: '10s' },
      json: { type: 'string' },
    },
  });
  const durationMs = argMs('duration', values.duration!);
  const rotateMs = argMs('rotate', values.rotate!);
  const targets = Number(values.targets);
  if (!Number.isInteger(targets) || targets < 1 || targets > 5000) usage('--targets must be an integer from 1 to 5000');
  if (!(globalThis as { gc?: unknown }).gc) process.stderr.write('soak: run with node --expose-gc (npm run soak does) for stable heap figures\n');

  const secret = randomBytes(32).toString('base64url');
  const sim = await startSimulatorProcess(secret, ['--ping-interval-ms', '1000']);
  // A second service that never misbehaves, pinging every second: the held session on it
  // must survive the whole soak (no reconnect), whatever the first one does.
  const calm = await startSimulatorProcess(secret, ['--ping-interval-ms', '1000']);
  const typesBefore = process.getActiveResourcesInfo();
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-soak-'));
  const configPath = join(dir, 'camprobe.yaml');
  // Every target also holds a session (reconnecting through the faults), expiry checked each minute.
  const probes = '[{ type: auth_flow }, { type: camera_list }, { type: protected_rejection }, { type: session, expiry_check: 1m, expiry_ttl: 2s }]';
  const list = [
    ...Array.from({ length: targets }, (_, i) => `  - { name: soak-${i}, url: "${sim.url}", probes: ${probes} }`),
    `  - { name: held, url: "${calm.url}", probes: [{ type: session, expiry_check: 1m, expiry_ttl: 2s }] }`,
  ].join('\n');
  writeFileSync(
    configPath,
    `server: { host: 127.0.0.1, port: 0 }\nlog: { level: error }\ndefaults: { interval: 1s, timeout: 800ms }\n` +
      `credentials:\n  service:\n    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }\ntargets:\n${list}\n`,
  );
  const daemon = await startDaemon({
    configPath,
    logger: pino({ level: 'error' }),
    env: { CAMERA_SERVICE_JWT_SECRET: secret },
  });

  let runs = 0;
  const reasons = new Map<string, number>();
  let held: RunRecord | undefined;
  daemon.events.on('run', (run) => {
    runs++;
    if (run.target === 'held') held = run;
    reasons.set(run.reason, (reasons.get(run.reason) ?? 0) + 1);
  });
  let skipped = 0;
  const startMs = Date.now();
  const cpuStart = process.cpuUsage();
  const samples: Sample[] = [sample(startMs, 0)];
  let rotation = 0;
  const rotate = setInterval(() => {
    // Sample at the end of each healthy period, just before the next fault: runs are then
    // short and few are in flight, so handles and heap compare like with like.
    if (Object.keys(ROTATION[rotation % ROTATION.length]!).length === 0) {
      const s = sample(startMs, runs);
      samples.push(s);
      process.stderr.write(`  ${s.at_s}s runs=${s.runs} rss=${s.rss_mb}MB heap=${s.heap_mb}MB handles=${s.handles}\n`);
    }
    rotation++;
    void fetch(sim.control, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ROTATION[rotation % ROTATION.length]),
    }).catch((err: unknown) => process.stderr.write(`soak: cannot set faults: ${String(err)}\n`));
  }, rotateMs);

  await new Promise((r) => setTimeout(r, durationMs));
  clearInterval(rotate);
  const scrape = await (await fetch(`${daemon.address}/metrics`)).text();
  for (const m of scrape.matchAll(/^camprobe_probe_skipped_total\{[^}]*\} (\d+)/gm)) skipped += Number(m[1]);
  const elapsedS = (Date.now() - startMs) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  await daemon.stop();
  calm.child.kill();
  // Once stopped, nothing of the daemon may remain: compare with before it started
  // (closed sockets are released over the next turns of the event loop).
  let leftover = Infinity;
  for (let i = 0; i < 200 && leftover > 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
    leftover = process.getActiveResourcesInfo().length - typesBefore.length;
  }
  if (leftover > 0) process.stderr.write(`soak: active resources before start: ${JSON.stringify(typesBefore)}, after stop: ${JSON.stringify(process.getActiveResourcesInfo())}\n`);
  sim.child.kill('SIGTERM');
  await once(sim.child, 'exit');

  // Warm-up: the first fifth of the run (JIT, pools, histograms filling). Handles and heap
  // swing with the runs in flight at the sampling instant, so each end is the median of a
  // window of samples rather than one sample.
  const afterWarm = samples.filter((s) => s.at_s >= elapsedS / 5);
  if (afterWarm.length < 6) usage('too short to judge: give --duration at least 14 rotations (--rotate) long');
  const window = Math.max(3, Math.floor(afterWarm.length / 10));
  const warm = medianSample(afterWarm.slice(0, window));
  const end = medianSample(afterWarm.slice(-window));
  const result = {
    machine: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
    settings: { duration_s: Math.round(elapsedS), targets, probes: targets * 4 + 1, interval_s: 1, timeout_ms: 800, rotate_s: rotateMs / 1000, faults: ROTATION },
    runs,
    runs_per_second: round(runs / elapsedS),
    skipped,
    reasons: Object.fromEntries([...reasons].sort((a, b) => b[1] - a[1])),
    cpu_seconds: round((cpu.user + cpu.system) / 1e6),
    start: samples[0],
    after_warmup: warm,
    end,
    handles_left_after_stop: leftover,
    held_session: held?.session
      ? { up: held.session.up, reconnects: held.session.reconnects, disconnects: held.session.disconnects, connected_s: held.session.connectedAtMs ? Math.round((Date.now() - held.session.connectedAtMs) / 1000) : 0, last_server_ping_age_s: held.session.lastServerPingAtMs ? Math.round((Date.now() - held.session.lastServerPingAtMs) / 1000) : null, expiry_checks: held.session.expiryChecks }
      : null,
    growth_after_warmup: {
      heap: round(growth(warm.heap_mb, end.heap_mb) * 100) / 100,
      handles: round(growth(warm.handles, end.handles) * 100) / 100,
      rss: round(growth(warm.rss_mb, end.rss_mb) * 100) / 100,
    },
    samples,
  };
  const survived = result.held_session !== null && result.held_session.reconnects === 0 && result.held_session.up;
  const flat = result.growth_after_warmup.heap < GROWTH_LIMIT && result.growth_after_warmup.handles < GROWTH_LIMIT && leftover <= 0 && survived;
  process.stdout.write(
    `\nsoak: ${runs} runs in ${Math.round(elapsedS)} s (${result.runs_per_second}/s), ${targets} targets x 4 probes (a held session each) + 1 held session on a calm service, every 1 s, faults rotating every ${rotateMs / 1000} s\n` +
      `  reasons: ${Object.entries(result.reasons).map(([k, v]) => `${k}=${v}`).join(' ')}\n` +
      `  skipped runs: ${skipped}; camprobe CPU: ${result.cpu_seconds} s\n` +
      `                 start    after warm-up (~${warm.at_s}s)   end (~${end.at_s}s, medians of ${window} samples)\n` +
      `  RSS MB        ${String(samples[0]!.rss_mb).padEnd(8)} ${String(warm.rss_mb).padEnd(24)} ${end.rss_mb}\n` +
      `  heap MB       ${String(samples[0]!.heap_mb).padEnd(8)} ${String(warm.heap_mb).padEnd(24)} ${end.heap_mb}\n` +
      `  handles       ${String(samples[0]!.handles).padEnd(8)} ${String(warm.handles).padEnd(24)} ${end.handles}\n` +
      `  held session on a calm service: ${JSON.stringify(result.held_session)}${survived ? '' : ' (DID NOT SURVIVE)'}\n` +
      `  growth after warm-up: heap ${(result.growth_after_warmup.heap * 100).toFixed(1)}%, handles ${(result.growth_after_warmup.handles * 100).toFixed(1)}% (limit ${GROWTH_LIMIT * 100}%); handles left after stop: ${leftover}: ${flat ? 'FLAT' : 'GROWING'}\n`,
  );
  if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  return flat ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
