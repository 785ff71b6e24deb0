/**
 * `npm run bench:matrix`: what the access matrix costs camprobe. The simulator runs in its
 * own process; this process runs protected_rejection over the documented table, the whole
 * matrix per run (exhaustive, unpaced), and reads its own CPU time per cell checked, beside
 * the cost of a run of the old single-method check (`method: get_server_info`). Then it
 * counts the series one target's access report adds to /metrics.
 *
 * `--smoke` runs a few repetitions only (the test suite checks the harness works).
 */
import { parseConfig } from '../src/config/load.js';
import { ProbeMetrics } from '../src/metrics/metrics.js';
import { BUILTIN_PROBES } from '../src/probes/registry.js';
import { createRunner } from '../src/runner/create-runner.js';
import pino from 'pino';
import { BENCH_ENV, BENCH_SECRET, spread, startSimProcess, stopAll } from './lib.js';

const smoke = process.argv.includes('--smoke');
const REPS = smoke ? 2 : 15;
const WARMUP = smoke ? 1 : 3;

function config(url: string, probe: string) {
  return parseConfig(
    `credentials: { service: { jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET } } }
targets:
  - name: bench
    url: ${url}
    probes: [${probe}]
`,
    { source: 'bench', env: { CAMERA_SERVICE_JWT_SECRET: BENCH_SECRET }, probeTypes: BUILTIN_PROBES },
  );
}

/** CPU µs of this process per unit of work, for `reps` runs after `warmup` discarded ones. */
async function cpuPer(run: () => Promise<number>): Promise<{ perUnitUs: number[]; units: number }> {
  const perUnitUs: number[] = [];
  let units = 0;
  for (let i = 0; i < WARMUP + REPS; i++) {
    const before = process.cpuUsage();
    const n = await run();
    const used = process.cpuUsage(before);
    if (i >= WARMUP) {
      perUnitUs.push((used.user + used.system) / n);
      units = n;
    }
  }
  return { perUnitUs, units };
}

async function main(): Promise<void> {
  const sim = await startSimProcess();
  try {
    const logger = pino({ level: 'silent' });
    const runnerFor = (probe: string) => {
      const cfg = config(sim.wsUrl, probe);
      const target = cfg.targets[0]!;
      const runner = createRunner({ credentials: cfg.credentials, probeTypes: BUILTIN_PROBES, logger, env: BENCH_ENV });
      return { target, probe: target.probes[0]!, runner };
    };

    const matrix = runnerFor('{ type: protected_rejection, once_requests_per_minute: 60000 }');
    const cells = await cpuPer(async () => {
      const run = await matrix.runner.run(matrix.target, matrix.probe, { exhaustive: true });
      if (!run || run.result !== 'success') throw new Error(`matrix run failed: ${run?.detail ?? 'stopped'}`);
      return run.access!.checked;
    });
    const single = runnerFor('{ type: protected_rejection, method: get_server_info, once_requests_per_minute: 60000 }');
    const old = await cpuPer(async () => {
      const run = await single.runner.run(single.target, single.probe, { exhaustive: true });
      if (!run || run.result !== 'success') throw new Error(`single-method run failed: ${run?.detail ?? 'stopped'}`);
      return run.access!.checked;
    });

    // Series one target's access report adds, from a real run's record.
    const run = await matrix.runner.run(matrix.target, matrix.probe, { exhaustive: true });
    const metrics = new ProbeMetrics({ version: 'bench', commit: 'bench', collectDefault: false });
    metrics.addProbe({ target: 'bench', probe: 'protected_rejection', type: 'protected_rejection', values: {} });
    const count = async () => (await metrics.render()).body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
    const { access, ...withoutAccess } = run!;
    metrics.recordRun(withoutAccess);
    const without = await count();
    metrics.recordRun(run!);
    const withAccess = await count();

    const c = spread(cells.perUnitUs);
    const o = spread(old.perUnitUs);
    console.log(`# access matrix, ${REPS} runs after ${WARMUP} warm-up, simulator in its own process${smoke ? ' (smoke)' : ''}`);
    console.log(`cells per run: ${cells.units} (uncovered: ${access?.uncovered ?? '?'})`);
    console.log(`CPU per cell checked: p50 ${c.p50} µs (min ${c.min}, p99 ${c.p99}, IQR ${c.iqr}, n ${c.n})`);
    console.log(`CPU per cell, single-method check (${old.units} cells a run): p50 ${o.p50} µs (min ${o.min}, IQR ${o.iqr})`);
    console.log(`series the access report adds to one target: ${withAccess - without} (${without} -> ${withAccess})`);
  } finally {
    await stopAll();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
