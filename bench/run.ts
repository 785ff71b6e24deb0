/**
 * camprobe's benchmark harness (issue 6): `npm run bench` for the full run, `npm run bench
 * -- --smoke` (or BENCH_SMOKE=1) for a short run that only checks the harness works.
 *
 * Writes <out>/latest.json (machine-readable) and <out>/latest.md (a table); <out> is
 * bench/results unless --out says otherwise. `--only cost,daemon,footprint,peer,fleet`
 * picks parts; `--profile DIR` writes CPU and sampled-allocation profiles of camprobe's
 * processes; `--heap-snapshot DIR` heap snapshots of the fleet's two daemons at the end
 * of its window (open them in Chrome DevTools, Memory tab, and compare). Every server (simulator, blackbox_exporter)
 * and every measured client runs in its own process, so each CPU figure is one process's.
 * Side-by-side figures interleave their repetitions in the same run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { BUILTIN_PROBES } from '../src/probes/registry.js';
import { closedPort } from '../test/helpers/ws-server.js';
import {
  benchConfig,
  median,
  procCpuUs,
  sleep,
  spread,
  startSimProcess,
  stopAll,
  stopChild,
  targetName,
  track,
  Worker,
  type RunSummary,
  type Goal,
  type SimProcess,
  type Spread,
} from './lib.js';
import { benchFleet, FLEET, scrapeOnce } from './fleet.js';

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results' },
    only: { type: 'string' },
    profile: { type: 'string' },
    'heap-snapshot': { type: 'string' },
  },
});
const SMOKE = args.smoke || process.env.BENCH_SMOKE === '1';
const ONLY = new Set((args.only ?? 'cost,daemon,footprint,peer,fleet').split(','));

/** Sizes of each part; the smoke sizes only prove the harness still works. */
const P = SMOKE
  ? { costWarmup: 1, costReps: 3, costRuns: 5, targets: 10, interval: '1s', intervalMs: 1000, timeout: '800ms', cycles: 2, warmupMs: 1500, scrapes: 2, footprintWaitMs: 500, peerWarmup: 1, peerReps: 2, peerRuns: 5, delayMs: 20 }
  : { costWarmup: 3, costReps: 30, costRuns: 40, targets: 1000, interval: '15s', intervalMs: 15000, timeout: '5s', cycles: 4, warmupMs: 18000, scrapes: 10, footprintWaitMs: 40000, peerWarmup: 2, peerReps: 12, peerRuns: 100, delayMs: 20 };

const results: Record<string, unknown> = {};
const goals: Goal[] = [];

function machine() {
  const c = cpus();
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return {
    node: process.version,
    platform: `${process.platform} ${release()}`,
    cpuModel: c[0]?.model ?? 'unknown',
    cores: c.length,
    totalMemMB: Math.round(totalmem() / 2 ** 20),
    loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
    commit: git.status === 0 ? git.stdout.trim() : 'unknown',
  };
}

/** Runs `a` and `b` batches alternately (warm-up first, discarded); per-run CPU in µs. */
async function sideBySide(
  a: (runs: number) => Promise<{ cpuUs: number; failures: number }>,
  b: (runs: number) => Promise<{ cpuUs: number; failures: number }>,
  warmup: number,
  reps: number,
  runs: number,
) {
  for (let i = 0; i < warmup; i++) {
    await a(runs);
    await b(runs);
  }
  const perRunA: number[] = [];
  const perRunB: number[] = [];
  const ratios: number[] = [];
  let failures = 0;
  for (let i = 0; i < reps; i++) {
    // Alternate which goes first so neither always runs on a warmer machine.
    let ra;
    let rb;
    if (i % 2 === 0) {
      ra = await a(runs);
      rb = await b(runs);
    } else {
      rb = await b(runs);
      ra = await a(runs);
    }
    failures += ra.failures + rb.failures;
    perRunA.push(ra.cpuUs / runs);
    perRunB.push(rb.cpuUs / runs);
    ratios.push(ra.cpuUs / rb.cpuUs);
  }
  return { a: spread(perRunA), b: spread(perRunB), ratio: spread(ratios), failures, reps, runsPerRep: runs };
}

/**
 * With --profile DIR, camprobe's processes write CPU and heap profiles there;
 * BENCH_NODE_FLAGS (space-separated) tries Node/V8 flags on them.
 */
function profileArgs(): string[] {
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
  return [...flags, ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`, '--heap-prof', `--heap-prof-dir=${args.profile}`] : [])];
}

type Batch = { cpuUs: number; wallMs: number; failures: number };
const batchOf = (w: Worker) => (runs: number) => w.ask<Batch>({ op: 'batch', runs });

/** 1. CPU per full run: camprobe's camera_list probe against a bare ws client. */
async function benchCost(sim: SimProcess): Promise<void> {
  const camprobe = await Worker.start('cost-worker.js', ['camprobe', sim.wsUrl], profileArgs());
  const bare = await Worker.start('cost-worker.js', ['bare', sim.wsUrl]);
  try {
    const r = await sideBySide(batchOf(camprobe), batchOf(bare), P.costWarmup, P.costReps, P.costRuns);
    results.cost = {
      unit: 'µs CPU per run (connect, authenticate, get_camera_list, close); both reuse a JWT for half its 5 min lifetime, so minting is not in the figure',
      camprobe: r.a,
      bare: r.b,
      ratio: r.ratio,
      failures: r.failures,
      repetitions: r.reps,
      runsPerRepetition: r.runsPerRep,
    };
    goals.push({ item: '1. CPU per run vs bare ws client', figure: `${r.ratio.p50}× (camprobe ${r.a.p50} µs, bare ${r.b.p50} µs)`, goal: '≤ 1.15×', met: r.ratio.p50 <= 1.15 });
  } finally {
    await Promise.all([camprobe.stop(), bare.stop()]);
  }
}

/** A plain (not gzipped) scrape, as item 4 has always measured it; the fleet measures both. */
async function scrape(address: string): Promise<{ ms: number; bytes: number; body: string }> {
  const { ms, bytes, body } = await scrapeOnce(address, false);
  return { ms, bytes, body };
}

function sumOf(body: string, metric: string): number {
  let sum = 0;
  for (const line of body.split('\n')) if (line.startsWith(`${metric}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

function seriesOf(body: string, target: string): number {
  return body.split('\n').filter((l) => !l.startsWith('#') && l.includes(`target="${target}"`)).length;
}

async function startDaemonWorker(config: string, execArgv: string[] = []): Promise<{ worker: Worker; address: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-bench-'));
  const path = join(dir, 'camprobe.yaml');
  writeFileSync(path, config);
  const worker = await Worker.start('daemon-worker.js', [path], ['--expose-gc', ...execArgv]);
  const { address } = await worker.ask<{ address: string }>({ op: 'address' });
  return { worker, address };
}

/** RSS samples a second apart; the heap figures (MB, medians) say how much of it is live. */
async function memorySamples(worker: Worker, n: number): Promise<{ rss: number[]; heapUsedMB: number; heapTotalMB: number; liveHeapMB: number }> {
  const samples: NodeJS.MemoryUsage[] = [];
  for (let i = 0; i < n; i++) {
    samples.push(await worker.ask<NodeJS.MemoryUsage>({ op: 'memory' }));
    if (i < n - 1) await sleep(1000);
  }
  const live = await worker.ask<{ heapUsed: number }>({ op: 'live-heap' });
  return {
    rss: samples.map((s) => s.rss),
    heapUsedMB: round(median(samples.map((s) => s.heapUsed)) / 2 ** 20),
    heapTotalMB: round(median(samples.map((s) => s.heapTotal)) / 2 ** 20),
    liveHeapMB: round(live.heapUsed / 2 ** 20),
  };
}

/** 2-4 and the 1,000-target half of 5: one daemon, N targets × 3 probes. */
/** Returns the median RSS (bytes) and the live heap (MB) at N targets. */
async function benchDaemon(): Promise<[number, number] | undefined> {
  // A simulator with the known delay on get_camera_list only.
  const sim = await startSimProcess({ methodLatencyMs: { get_camera_list: P.delayMs } });
  const { worker, address } = await startDaemonWorker(
    benchConfig({ urls: [sim.wsUrl], count: P.targets, interval: P.interval, timeout: P.timeout }),
    profileArgs(),
  );
  const floor = await Worker.start('cost-worker.js', ['bare', sim.wsUrl]);
  try {
    // Warm-up: the first runs (spread over 2 s) and one cron cycle.
    await sleep(P.warmupMs);
    await worker.ask({ op: 'reset' });
    const skippedBefore = sumOf((await scrape(address)).body, 'camprobe_probe_skipped_total');
    const simCpu0 = procCpuUs(sim.child.pid!, clockTicks());
    const window0 = performance.now();
    const windowMs = P.cycles * P.intervalMs;
    // The same delay as a bare client sees it, concurrently: the floor of this setup.
    const floorCalls = floor.ask<{ callMs: number[]; failures: number }>({ op: 'calls', durationMs: windowMs, gapMs: 50 });
    const scrapes: Array<{ ms: number; bytes: number }> = [];
    // Scrapes during the window at a Prometheus-like pace: one per interval.
    for (let c = 0; c < P.cycles; c++) {
      await sleep(P.intervalMs / 2);
      const s = await scrape(address);
      scrapes.push({ ms: s.ms, bytes: s.bytes });
      await sleep(P.intervalMs / 2);
    }
    const { runs, busy } = await worker.ask<{ runs: RunSummary; busy: Record<string, unknown> }>({ op: 'report' });
    const simCpuShare = (procCpuUs(sim.child.pid!, clockTicks()) - simCpu0) / 1000 / (performance.now() - window0);
    const after = await scrape(address);
    const skipped = sumOf(after.body, 'camprobe_probe_skipped_total') - skippedBefore;
    const { callMs: floorMs } = await floorCalls;

    // More scrapes back to back, for the render-cost spread.
    for (let i = 0; i < P.scrapes; i++) {
      const s = await scrape(address);
      scrapes.push({ ms: s.ms, bytes: s.bytes });
    }
    const inProcess = await worker.ask<{ ms: number[]; bytes: number }>({ op: 'render', times: P.scrapes });
    const memory = await memorySamples(worker, SMOKE ? 2 : 5);

    const drift = runs.driftMs;
    const callErr = runs.cameraListCallMs.map((ms) => ms - P.delayMs);
    const floorErr = floorMs.map((ms) => ms - P.delayMs);
    const byReason = runs.failuresByProbeReason;
    const failureCount = Object.values(byReason).reduce((a, b) => a + b, 0);
    const perTarget = seriesOf(after.body, targetName(0));
    const totalSeries = after.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
    const expectedRuns = P.targets * 3 * P.cycles;

    results.fidelity = {
      delayMs: P.delayMs,
      targets: P.targets,
      unit: 'ms, reported call step minus the simulated delay',
      camprobe: spread(callErr),
      bareClientSameTime: spread(floorErr),
    };
    results.schedule = {
      targets: P.targets,
      probesPerTarget: 3,
      interval: P.interval,
      cycles: P.cycles,
      runsRecorded: runs.count,
      runsExpected: expectedRuns,
      skipped,
      failures: failureCount,
      failuresByProbeReason: byReason,
      driftMs: spread(drift),
      // Context for the drift: was camprobe (or the simulator) short of CPU?
      daemon: busy,
      simulatorCpuShareOfOneCore: round(simCpuShare),
      loadavgAtEnd: loadavg().map(round),
    };
    results.scrape = {
      targets: P.targets,
      httpMs: spread(scrapes.map((s) => s.ms)),
      inProcessRenderMs: spread(inProcess.ms),
      bytes: inProcess.bytes,
      seriesPerTarget: perTarget,
      seriesTotal: totalSeries,
    };
    const fe = spread(callErr);
    const dr = spread(drift);
    const sh = spread(scrapes.map((s) => s.ms));
    goals.push(
      { item: `2. Step duration error, ${P.targets} targets`, figure: `p50 ${fe.p50} ms, p99 ${fe.p99} ms (bare client at the same time: p99 ${spread(floorErr).p99} ms)`, goal: 'p99 ≤ 1 ms', met: Math.abs(fe.p99) <= 1 },
      { item: `3. Start drift, ${P.targets}×3 probes every ${P.interval}`, figure: `p99 ${dr.p99} ms, max ${dr.max} ms, ${skipped} skipped, ${runs.count}/${expectedRuns} runs`, goal: 'p99 ≤ 20 ms, 0 skipped', met: dr.p99 <= 20 && skipped === 0 },
      { item: `4. /metrics with ${P.targets} targets`, figure: `p50 ${sh.p50} ms, p99 ${sh.p99} ms over HTTP, ${Math.round(inProcess.bytes / 1024)} KiB, ${perTarget} series per target`, goal: '≤ 100 ms, ≤ 150 series/target', met: sh.p99 <= 100 && perTarget <= 150 },
    );
    results.memoryAtTargets = { targets: P.targets, rssMB: round(median(memory.rss) / 2 ** 20), heapUsedMB: memory.heapUsedMB, heapTotalMB: memory.heapTotalMB, liveHeapMB: memory.liveHeapMB };
    return [median(memory.rss), memory.liveHeapMB];
  } finally {
    await worker.ask({ op: 'stop' }).catch(() => undefined);
    await Promise.all([worker.stop(), floor.stop(), stopChild(sim.child)]);
  }
}

/** 5. RSS with one target at the default schedule (30 s, three probes). */
async function benchFootprint(sim: SimProcess, atTargets: [number, number] | undefined): Promise<void> {
  const rss1000 = atTargets?.[0];
  const { worker, address } = await startDaemonWorker(benchConfig({ urls: [sim.wsUrl], count: 1 }), profileArgs());
  try {
    await sleep(P.footprintWaitMs);
    await scrape(address);
    const memory = await memorySamples(worker, SMOKE ? 2 : 5);
    const rss = memory.rss;
    const rss1 = median(rss);
    const perTargetKB = rss1000 === undefined ? undefined : (rss1000 - rss1) / (P.targets - 1) / 1024;
    const liveKB = atTargets === undefined ? undefined : round(((atTargets[1] - memory.liveHeapMB) * 1024) / (P.targets - 1));
    results.footprint = {
      rss1MB: round(rss1 / 2 ** 20),
      rss1Samples: rss.map((b) => round(b / 2 ** 20)),
      heapUsed1MB: memory.heapUsedMB,
      heapTotal1MB: memory.heapTotalMB,
      liveHeap1MB: memory.liveHeapMB,
      ...(liveKB !== undefined ? { liveHeapPerTargetKB: liveKB } : {}),
      ...(rss1000 !== undefined ? { [`rss${P.targets}MB`]: round(rss1000 / 2 ** 20), addedPerTargetKB: round(perTargetKB!) } : {}),
    };
    goals.push({ item: '5a. RSS, one target, default schedule', figure: `${round(rss1 / 2 ** 20)} MB`, goal: '≤ 80 MB', met: rss1 <= 80 * 2 ** 20 });
    if (perTargetKB !== undefined) {
      goals.push({ item: `5b. Added RSS per target at ${P.targets}`, figure: `${round(perTargetKB)} KB (live heap after a full GC: ${liveKB} KB)`, goal: '≤ 50 KB', met: perTargetKB <= 50 });
    }
  } finally {
    await worker.ask({ op: 'stop' }).catch(() => undefined);
    await worker.stop();
  }
}

function clockTicks(): number {
  return Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
}

const BLACKBOX = '/usr/bin/prometheus-blackbox-exporter';

async function startBlackbox(): Promise<{ pid: number; url: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-bench-bb-'));
  const config = join(dir, 'blackbox.yml');
  writeFileSync(config, 'modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n');
  const port = await closedPort();
  const child = track(
    spawn(BLACKBOX, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  // Ready when it logs that it listens.
  const lines = createInterface({ input: child.stderr! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (/Listening on/i.test(line)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`blackbox_exporter exited (${String(code)})`)));
  });
  lines.on('line', () => undefined);
  return { pid: child.pid!, url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

/** 6. blackbox_exporter against camprobe, CPU per HTTP health check of the same endpoint. */
async function benchPeer(sim: SimProcess): Promise<void> {
  const health = `${sim.httpUrl}/health/ready`;
  const hasHttpProbe = BUILTIN_PROBES.has('http');
  if (!existsSync(BLACKBOX)) {
    results.peer = { skipped: `blackbox_exporter not installed (${BLACKBOX}); apt-get install prometheus-blackbox-exporter` };
    goals.push({ item: '6. Peer: blackbox_exporter', figure: 'skipped: blackbox_exporter not installed', goal: 'side by side', met: null });
    return;
  }
  const ticks = clockTicks();
  const bb = await startBlackbox();
  const local = await Worker.start('cost-worker.js', ['fetch', health]);
  // camprobe's http probe checks the same endpoint: base URL and path. BENCH_HTTP_PROBE_YAML
  // replaces the entry (a YAML probe entry, indented 6, where {url} is the health endpoint).
  const { origin, pathname } = new URL(health);
  const probeYaml = (process.env.BENCH_HTTP_PROBE_YAML ?? `      - type: http\n        base_url: ${origin}\n        path: ${pathname}`).replaceAll('{url}', health);
  let probe: Worker | undefined;
  let probeSkipped = 'skipped: no http probe type';
  if (hasHttpProbe) {
    try {
      probe = await Worker.start('cost-worker.js', ['http-probe', sim.wsUrl, probeYaml], profileArgs());
    } catch (err) {
      probeSkipped = `skipped: the http probe did not start (${String(err).split('\n')[0]}); set BENCH_HTTP_PROBE_YAML`;
    }
  }
  try {
    const probeUrl = `${bb.url}/probe?module=http_2xx&target=${encodeURIComponent(health)}`;
    const blackbox = async (runs: number) => {
      const before = procCpuUs(bb.pid, ticks);
      let failures = 0;
      for (let i = 0; i < runs; i++) {
        const body = await (await fetch(probeUrl)).text();
        if (!/^probe_success 1$/m.test(body)) failures++;
      }
      return { cpuUs: procCpuUs(bb.pid, ticks) - before, failures };
    };
    const vsLocal = await sideBySide(batchOf(local), blackbox, P.peerWarmup, P.peerReps, P.peerRuns);
    const vsProbe = probe ? await sideBySide(batchOf(probe), blackbox, P.peerWarmup, P.peerReps, P.peerRuns) : undefined;
    results.peer = {
      endpoint: '/health/ready of the simulator',
      unit: `µs CPU per check; blackbox_exporter from /proc/<pid>/stat (${ticks} ticks/s, so batches of ${P.peerRuns}), including answering /probe`,
      httpProbe: vsProbe ? { camprobe: vsProbe.a, blackbox: vsProbe.b, ratio: vsProbe.ratio, failures: vsProbe.failures } : probeSkipped,
      localFetchCheck: { note: 'NOT camprobe\'s http probe: a bare fetch() GET, the likely code path', node: vsLocal.a, blackbox: vsLocal.b, ratio: vsLocal.ratio, failures: vsLocal.failures },
    };
    goals.push(
      vsProbe
        ? { item: '6. Peer: blackbox_exporter http_2xx', figure: `camprobe ${vsProbe.a.p50} µs vs blackbox ${vsProbe.b.p50} µs per check (${vsProbe.ratio.p50}×)`, goal: 'side by side', met: null }
        : { item: '6. Peer: blackbox_exporter http_2xx', figure: `${probeSkipped} (local fetch check ${vsLocal.a.p50} µs vs blackbox ${vsLocal.b.p50} µs, ${vsLocal.ratio.p50}×)`, goal: 'side by side', met: null },
    );
  } finally {
    await Promise.all([bb.stop(), local.stop(), probe?.stop()]);
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function fmt(s: Spread): string {
  return `${s.p50} (p99 ${s.p99}, min ${s.min}, max ${s.max}, IQR ${s.iqr}, n ${s.n})`;
}

function markdown(json: { machine: ReturnType<typeof machine>; smoke: boolean; startedAt: string; durationS: number }): string {
  const m = json.machine;
  const rows = goals.map((g) => `| ${g.item} | ${g.figure} | ${g.goal} | ${g.met === null ? '–' : g.met ? 'yes' : '**no**'} |`);
  const details: string[] = [];
  const cost = results.cost as { camprobe: Spread; bare: Spread; ratio: Spread } | undefined;
  if (cost) details.push(`- CPU per run, µs: camprobe ${fmt(cost.camprobe)}; bare ws ${fmt(cost.bare)}; ratio ${fmt(cost.ratio)}`);
  const fid = results.fidelity as { camprobe: Spread; bareClientSameTime: Spread } | undefined;
  if (fid) details.push(`- Step error, ms: camprobe ${fmt(fid.camprobe)}; bare client at the same time ${fmt(fid.bareClientSameTime)}`);
  const sch = results.schedule as { driftMs: Spread; daemon: unknown; simulatorCpuShareOfOneCore: number; loadavgAtEnd: number[] } | undefined;
  if (sch) {
    details.push(`- Start drift, ms: ${fmt(sch.driftMs)}`);
    details.push(`- During the window: daemon ${JSON.stringify(sch.daemon)}, simulator CPU ${sch.simulatorCpuShareOfOneCore} of a core, load average at end ${sch.loadavgAtEnd.join(' ')}`);
  }
  const scr = results.scrape as { httpMs: Spread; inProcessRenderMs: Spread; bytes: number; seriesTotal: number } | undefined;
  if (scr) details.push(`- /metrics, ms: over HTTP ${fmt(scr.httpMs)}; render in process ${fmt(scr.inProcessRenderMs)}; ${scr.bytes} bytes, ${scr.seriesTotal} series`);
  const fl = results.fleet as { cpu: { bare: { connectUs: Spread; callUs: Spread } }; driftMs: Spread; scrape: { gzipMs: Spread; plainMs: Spread; series: number }; eventLoop: unknown; failuresByProbeReason: unknown } | undefined;
  if (fl) {
    details.push(`- Fleet /metrics, ms: gzip ${fmt(fl.scrape.gzipMs)}; plain ${fmt(fl.scrape.plainMs)}; ${fl.scrape.series} series`);
    details.push(`- Fleet bare client, µs CPU: per connection ${fmt(fl.cpu.bare.connectUs)}; per request ${fmt(fl.cpu.bare.callUs)}`);
    details.push(`- Fleet start drift, ms: ${fmt(fl.driftMs)}; event loop ${JSON.stringify(fl.eventLoop)}; failed runs ${JSON.stringify(fl.failuresByProbeReason)}`);
  }
  return [
    `# camprobe benchmark${json.smoke ? ' (SMOKE: sizes too small to mean anything)' : ''}`,
    '',
    `${json.startedAt}, ${json.durationS} s, commit ${m.commit}. Node ${m.node}, ${m.platform}, ${m.cpuModel} × ${m.cores}, ${m.totalMemMB} MB RAM, load average at start ${m.loadavg.join(' ')}.`,
    '',
    '| Item | Measured (median of repetitions) | Goal | Met |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    ...details,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const m = machine();
  const sim = await startSimProcess();
  try {
    if (ONLY.has('cost')) await benchCost(sim);
    const atTargets = ONLY.has('daemon') ? await benchDaemon() : undefined;
    if (ONLY.has('footprint')) await benchFootprint(sim, atTargets);
    if (ONLY.has('peer')) await benchPeer(sim);
    if (ONLY.has('fleet')) {
      const fleet = await benchFleet(SMOKE ? FLEET.smoke : FLEET.full, { startDaemon: startDaemonWorker, execArgv: profileArgs(), sim, snapshotDir: args['heap-snapshot'] });
      results.fleet = fleet.result;
      goals.push(...fleet.goals);
    }
  } finally {
    await stopAll();
  }
  const json = {
    smoke: SMOKE,
    startedAt,
    durationS: Math.round((performance.now() - t0) / 1000),
    machine: { ...m, loadavgAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
    camprobeNodeFlags: process.env.BENCH_NODE_FLAGS ?? '',
    goals,
    results,
  };
  mkdirSync(args.out!, { recursive: true });
  writeFileSync(join(args.out!, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  const md = markdown(json);
  writeFileSync(join(args.out!, 'latest.md'), md);
  process.stdout.write(md);
}

// Ctrl-C stops every process the harness started, not only this one.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping its processes\n`);
    void stopAll().finally(() => process.exit(130));
  });
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  await stopAll();
  process.exitCode = 1;
});
