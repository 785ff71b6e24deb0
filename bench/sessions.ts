/**
 * `npm run bench:sessions`: what a held session costs camprobe. The simulator runs in its
 * own process; this process (started with --expose-gc) holds N session probes open, each
 * with one authenticated connection, and reads RSS and the live heap after a full GC,
 * before and after, per session. `--sessions N` (default 1000), `--smoke` (50).
 */
import pino from 'pino';
import { parseConfig } from '../src/config/load.js';
import { BUILTIN_PROBES } from '../src/probes/registry.js';
import { createRunner, type PreparedProbe } from '../src/runner/create-runner.js';
import { BENCH_ENV, BENCH_SECRET, startSimProcess, stopAll } from './lib.js';

const smoke = process.argv.includes('--smoke');
const arg = process.argv.indexOf('--sessions');
const N = arg > 0 ? Number(process.argv[arg + 1]) : smoke ? 50 : 1000;

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc (npm run bench:sessions does)');
  g();
  g();
}

function memory(): { rss: number; heap: number } {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

async function main(): Promise<void> {
  const sim = await startSimProcess();
  const held: PreparedProbe[] = [];
  try {
    const targets = Array.from({ length: N }, (_, i) => `  - { name: t${i}, url: ${JSON.stringify(sim.wsUrl)}, probes: [{ type: session, interval: 1m, expiry_check: 'off' }] }`).join('\n');
    const config = parseConfig(`credentials: { service: { jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET } } }\ntargets:\n${targets}\n`, {
      source: 'bench',
      env: { CAMERA_SERVICE_JWT_SECRET: BENCH_SECRET },
      probeTypes: BUILTIN_PROBES,
    });
    const runner = createRunner({ credentials: config.credentials, probeTypes: BUILTIN_PROBES, logger: pino({ level: 'silent' }), env: BENCH_ENV });
    const prepared = config.targets.map((t) => runner.prepare(t, t.probes[0]!));
    // One warm-up session, so code paths and buffers both sides share are already there.
    held.push(prepared[0]!);
    await prepared[0]!.run();
    const before = memory();
    for (const p of prepared.slice(1)) {
      held.push(p);
      const run = await p.run();
      if (!run || run.result !== 'success') throw new Error(`session failed: ${run?.detail ?? 'stopped'}`);
    }
    // A second run each: the sessions are held and heartbeat, as they would in the daemon.
    for (const p of prepared.slice(1)) await p.run();
    const after = memory();
    const perKB = (bytes: number) => Math.round((bytes / (N - 1) / 1024) * 10) / 10;
    console.log(`# ${N} held sessions, simulator in its own process${smoke ? ' (smoke)' : ''}`);
    console.log(`RSS per held session: ${perKB(after.rss - before.rss)} KB (${Math.round(before.rss / 1048576)} -> ${Math.round(after.rss / 1048576)} MB)`);
    console.log(`live heap per held session: ${perKB(after.heap - before.heap)} KB`);
  } finally {
    await Promise.all(held.map((p) => p.close()));
    await stopAll();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
