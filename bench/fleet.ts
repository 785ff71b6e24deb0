/**
 * The fleet scenario of `npm run bench` (issue 16): one camprobe with everything on for a
 * thousand targets, beside a one-target camprobe with the same probes, in the same run.
 *
 * Each target has the three default probes (auth_flow, camera_list, protected_rejection
 * with its access matrix at the default sweep) and a held `session`, all at one interval.
 * The fleet probes its own simulator process, so that simulator's counters are exactly
 * the fleet's connections and requests; the one-target camprobe and the bare client use
 * another. Figures:
 * - RSS and live heap added per target: (fleet − one target) / (targets − 1), RSS the
 *   median of samples over the window, live heap after a full GC at its end.
 * - CPU per run against a bare `ws` client doing the same connections and requests: the
 *   bare client measures, during the window, what a connection (connect, authenticate,
 *   close) and a request on an open connection cost it; the fleet's simulator counts how
 *   many of each the fleet made. Ratio = fleet CPU / (connections × a + other requests × b).
 *   The fleet's CPU is all of it: scrapes, gzip, logs, timers, GC.
 * - /metrics over HTTP as Prometheus asks (gzip) and without, on a kept-alive connection,
 *   timed until the body is read and decompressed.
 * - Event-loop lateness p99, start drift, skipped runs.
 */
import { mkdirSync } from 'node:fs';
import { request, Agent, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createGunzip } from 'node:zlib';
import { benchConfig, median, sleep, spread, startSimProcess, stopChild, Worker, type RunSummary, type Goal, type SimProcess, type Spread } from './lib.js';

export interface FleetSizes {
  targets: number;
  interval: string;
  intervalMs: number;
  warmupMs: number;
  cycles: number;
  scrapeEveryMs: number;
  backToBack: number;
}

/**
 * The full run's interval is 15 s, not the default 30 s, so the bounded per-probe state
 * (20 runs of history and timeline by default) is full before the window opens: the memory
 * measured is the steady state's, after 21 intervals of warm-up, not a young daemon's.
 */
export const FLEET = {
  full: { targets: 1000, interval: '15s', intervalMs: 15_000, warmupMs: 21 * 15_000, cycles: 8, scrapeEveryMs: 15_000, backToBack: 10 },
  smoke: { targets: 10, interval: '2s', intervalMs: 2000, warmupMs: 3000, cycles: 2, scrapeEveryMs: 1000, backToBack: 2 },
} satisfies Record<string, FleetSizes>;

const PROBES = ['auth_flow', 'camera_list', 'protected_rejection', 'session'];

/** What the caller lends: how to start a daemon worker, and the rounding it uses. */
export interface FleetDeps {
  startDaemon: (config: string, execArgv?: string[]) => Promise<{ worker: Worker; address: string }>;
  execArgv: string[];
  sim: SimProcess;
  /** Where to write heap snapshots of both daemons at the end of the window, if anywhere. */
  snapshotDir?: string | undefined;
}

interface Scrape {
  ms: number;
  wireBytes: number;
  bytes: number;
  /** Whether the request asked for gzip, and whether the answer was gzipped. */
  asked: boolean;
  gzip: boolean;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** GET /metrics on a kept-alive connection; with gzip, the body is decompressed as it arrives. */
export function scrapeOnce(address: string, gzip: boolean): Promise<Scrape & { body: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${address}/metrics`, { agent, headers: { 'accept-encoding': gzip ? 'gzip' : 'identity' } }, (res: IncomingMessage) => {
      let wireBytes = 0;
      res.on('data', (d: Buffer) => (wireBytes += d.length));
      const encoded = res.headers['content-encoding'] === 'gzip';
      const body = encoded ? res.pipe(createGunzip()) : res;
      const chunks: Buffer[] = [];
      body.on('data', (d: Buffer) => chunks.push(d));
      body.on('error', reject);
      body.on('end', () => {
        const text = Buffer.concat(chunks);
        if (res.statusCode !== 200) return reject(new Error(`/metrics answered ${String(res.statusCode)}`));
        resolve({ ms: performance.now() - t0, wireBytes, bytes: text.length, asked: gzip, gzip: encoded, body: text.toString() });
      });
    });
    req.on('error', reject);
    // A scrape that stalls fails the benchmark with a reason instead of hanging it.
    req.setTimeout(30_000, () => req.destroy(new Error(`/metrics (${gzip ? 'gzip' : 'plain'}) did not finish within 30 s`)));
    req.end();
  });
}

function sumOf(body: string, metric: string): number {
  let sum = 0;
  for (const line of body.split('\n')) if (line.startsWith(`${metric}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function simStats(sim: SimProcess): Promise<{ connections: number; requests: number }> {
  return (await (await fetch(`${sim.httpUrl}/control/stats`)).json()) as { connections: number; requests: number };
}

type Batch = { cpuUs: number; failures: number };

/**
 * What a connection and a request cost the bare client, measured in batches until `until`
 * resolves (so at the same time as the fleet's window); µs CPU per operation.
 */
async function bareCosts(sim: SimProcess, until: Promise<unknown>): Promise<{ connectUs: Spread; callUs: Spread; failures: number }> {
  const connect = await Worker.start('cost-worker.js', ['bare-connect', sim.wsUrl]);
  const call = await Worker.start('cost-worker.js', ['bare-call', sim.wsUrl]);
  let done = false;
  void until.finally(() => (done = true));
  const connectUs: number[] = [];
  const callUs: number[] = [];
  let failures = 0;
  try {
    while (!done) {
      const c = await connect.ask<Batch>({ op: 'batch', runs: 20 });
      const r = await call.ask<Batch>({ op: 'batch', runs: 50 });
      connectUs.push(c.cpuUs / 20);
      callUs.push(r.cpuUs / 50);
      failures += c.failures + r.failures;
      // A few per cent of a core: the bare client must not starve the fleet it is compared with.
      await sleep(1000);
    }
  } finally {
    await Promise.all([connect.stop(), call.stop()]);
  }
  return { connectUs: spread(connectUs), callUs: spread(callUs), failures };
}

/** RSS (bytes) of each daemon every `everyMs` until `until` resolves. */
async function rssSamples(workers: Worker[], everyMs: number, until: Promise<unknown>): Promise<NodeJS.MemoryUsage[][]> {
  let done = false;
  void until.finally(() => (done = true));
  const out: NodeJS.MemoryUsage[][] = workers.map(() => []);
  while (!done) {
    for (const [i, w] of workers.entries()) out[i]!.push(await w.ask<NodeJS.MemoryUsage>({ op: 'memory' }));
    await sleep(everyMs);
  }
  return out;
}

/** Medians of memoryUsage samples, MB: the RSS and what V8 and native buffers account for. */
function usageMB(samples: NodeJS.MemoryUsage[]) {
  const mb = (key: keyof NodeJS.MemoryUsage) => round(median(samples.map((s) => s[key])) / 2 ** 20);
  return { rss: mb('rss'), heapTotal: mb('heapTotal'), heapUsed: mb('heapUsed'), external: mb('external'), arrayBuffers: mb('arrayBuffers') };
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Runs the scenario; returns its results and goals. */
export async function benchFleet(S: FleetSizes, deps: FleetDeps): Promise<{ result: Record<string, unknown>; goals: Goal[] }> {
  const fleetSim = await startSimProcess();
  const config = (count: number, urls: string[]) => benchConfig({ urls, count, interval: S.interval, timeout: S.intervalMs >= 15_000 ? '10s' : '1s', probes: PROBES });
  const [fleet, one] = await Promise.all([
    deps.startDaemon(config(S.targets, [fleetSim.wsUrl]), deps.execArgv),
    deps.startDaemon(config(1, [deps.sim.wsUrl]), deps.execArgv),
  ]);
  try {
    // Warm-up: every probe has run (first runs are spread over an interval), sessions are
    // held, every matrix has built its plan.
    await sleep(S.warmupMs);
    await fleet.worker.ask({ op: 'reset' });
    const skipped0 = sumOf((await scrapeOnce(fleet.address, false)).body, 'camprobe_probe_skipped_total');
    const sim0 = await simStats(fleetSim);

    const windowMs = S.cycles * S.intervalMs;
    const windowDone = sleep(windowMs);
    const bare = bareCosts(deps.sim, windowDone);
    const rss = rssSamples([fleet.worker, one.worker], Math.min(5000, S.intervalMs / 2), windowDone);
    // Prometheus-like: a scrape every scrapeEveryMs, gzip as Prometheus asks, then plain.
    const paced: Scrape[] = [];
    for (let t = S.scrapeEveryMs / 2, i = 0; t < windowMs; t += S.scrapeEveryMs, i++) {
      const started = performance.now();
      const { body: _body, ...s } = await scrapeOnce(fleet.address, i % 2 === 0);
      paced.push(s);
      await sleep(Math.max(0, S.scrapeEveryMs - (performance.now() - started)));
    }
    await windowDone;
    const { runs, busy } = await fleet.worker.ask<{ runs: RunSummary; busy: { cpuUs: number; eventLoopLateMs: { p99: number; max: number } } }>({ op: 'report' });
    const sim1 = await simStats(fleetSim);
    const [fleetUsage = [], oneUsage = []] = await rss;
    const fleetRss = fleetUsage.map((u) => u.rss);
    const oneRss = oneUsage.map((u) => u.rss);
    const spaces = await Promise.all([fleet.worker.ask<Record<string, number>>({ op: 'heap-spaces' }), one.worker.ask<Record<string, number>>({ op: 'heap-spaces' })]);
    const costs = await bare;
    const after = await scrapeOnce(fleet.address, false);
    const skipped = sumOf(after.body, 'camprobe_probe_skipped_total') - skipped0;

    // Back to back, alternating, for the spread of each.
    const b2b: Scrape[] = [];
    for (let i = 0; i < 2 * S.backToBack; i++) {
      const { body: _body, ...s } = await scrapeOnce(fleet.address, i % 2 === 0);
      b2b.push(s);
    }
    if (deps.snapshotDir !== undefined) {
      mkdirSync(deps.snapshotDir, { recursive: true });
      for (const [name, d] of [['fleet', fleet], ['one', one]] as const) {
        await d.worker.ask({ op: 'snapshot', path: join(deps.snapshotDir, `${name}-${S.targets}.heapsnapshot`) });
      }
    }
    const [fleetLive, oneLive] = await Promise.all([fleet.worker.ask<{ heapUsed: number }>({ op: 'live-heap' }), one.worker.ask<{ heapUsed: number }>({ op: 'live-heap' })]);

    const connections = sim1.connections - sim0.connections;
    const requests = sim1.requests - sim0.requests;
    const bareUs = connections * costs.connectUs.p50 + (requests - connections) * costs.callUs.p50;
    const ratio = busy.cpuUs / bareUs;
    const perTarget = (a: number, b: number) => round((a - b) / (S.targets - 1) / 1024);
    const rssKB = perTarget(median(fleetRss), median(oneRss));
    const liveKB = perTarget(fleetLive.heapUsed, oneLive.heapUsed);
    const drift = spread(runs.driftMs);
    const scrapes = [...paced, ...b2b];
    const ms = (gzip: boolean) => spread(scrapes.filter((s) => s.asked === gzip).map((s) => s.ms));
    const wire = (gzip: boolean) => scrapes.find((s) => s.asked === gzip)?.wireBytes ?? 0;
    const gzipped = scrapes.filter((s) => s.asked).every((s) => s.gzip);
    const failures = runs.failuresByProbeReason;
    const expected = S.targets * PROBES.length * S.cycles;

    const result = {
      targets: S.targets,
      probesPerTarget: PROBES,
      interval: S.interval,
      windowS: windowMs / 1000,
      runs: runs.count,
      runsExpected: expected,
      skipped,
      failuresByProbeReason: failures,
      memory: {
        rssMB: { fleet: round(median(fleetRss) / 2 ** 20), one: round(median(oneRss) / 2 ** 20), samples: fleetRss.length },
        liveHeapMB: { fleet: round(fleetLive.heapUsed / 2 ** 20), one: round(oneLive.heapUsed / 2 ** 20) },
        addedPerTargetKB: { rss: rssKB, liveHeap: liveKB },
        usageMB: { fleet: usageMB(fleetUsage), one: usageMB(oneUsage) },
        heapSpacesMB: { fleet: spaces[0], one: spaces[1] },
      },
      cpu: {
        fleetCpuS: round(busy.cpuUs / 1e6),
        fleetUsPerRun: round(busy.cpuUs / runs.count),
        connections,
        requests,
        bare: { connectUs: costs.connectUs, callUs: costs.callUs, failures: costs.failures },
        bareEquivalentUsPerRun: round(bareUs / runs.count),
        ratio: round(ratio),
      },
      eventLoop: busy,
      driftMs: drift,
      scrape: { gzipped, gzipMs: ms(true), plainMs: ms(false), gzipWireBytes: wire(true), plainBytes: wire(false), series: after.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length },
    };
    const g = ms(true);
    const p = ms(false);
    const goals: Goal[] = [
      { item: `F1. Fleet: RSS added per target (${PROBES.length} probes incl. a held session)`, figure: `${rssKB} KB (live heap ${liveKB} KB; ${result.memory.rssMB.fleet} MB at ${S.targets} vs ${result.memory.rssMB.one} MB at 1)`, goal: '≤ 80 KB with sessions', met: rssKB <= 80 },
      { item: `F2. Fleet: /metrics over HTTP, ${S.targets} targets`, figure: `${gzipped ? 'gzip' : 'gzip asked, answered plain:'} p50 ${g.p50} ms, p99 ${g.p99} ms (${Math.round(wire(true) / 1024)} KiB); plain p50 ${p.p50} ms, p99 ${p.p99} ms (${Math.round(wire(false) / 1024)} KiB)`, goal: '≤ 100 ms', met: g.p99 <= 100 && p.p99 <= 100 },
      { item: 'F3. Fleet: CPU per run vs bare ws client, same connections and requests', figure: `${round(ratio)}× (${result.cpu.fleetUsPerRun} µs vs ${result.cpu.bareEquivalentUsPerRun} µs per run; ${connections} connections, ${requests} requests)`, goal: '≤ 1.15×', met: ratio <= 1.15 },
      { item: 'F4. Fleet: event-loop lateness p99', figure: `${round(busy.eventLoopLateMs.p99)} ms (max ${round(busy.eventLoopLateMs.max)} ms)`, goal: '≤ 20 ms', met: busy.eventLoopLateMs.p99 <= 20 },
      { item: 'F5. Fleet: start drift, skipped runs', figure: `drift p99 ${drift.p99} ms, max ${drift.max} ms; ${skipped} skipped; ${runs.count}/${expected} runs`, goal: '0 skipped', met: skipped === 0 },
    ];
    return { result, goals };
  } finally {
    await Promise.all([fleet.worker.ask({ op: 'stop' }).catch(() => undefined), one.worker.ask({ op: 'stop' }).catch(() => undefined)]);
    await Promise.all([fleet.worker.stop(), one.worker.stop(), stopChild(fleetSim.child)]);
    agent.destroy();
  }
}
