/**
 * What the status page costs the daemon: 1,000 targets × 3 probes (auth_flow,
 * camera_list, protected_rejection with the access report of the documented method table),
 * each with a full timeline, on the real StatusBoard behind the real HTTP server.
 *
 *   npm run bench:status              # prints a table and the JSON of every figure
 *   npm run bench:status -- --smoke   # tiny sizes: checks the harness works (test/bench.test.ts)
 *
 * Measured: taking in one run (the run sink's share), `/api/status` over HTTP on loopback
 * (time to the last byte, as the page's fetch sees it) when nothing changed between two
 * requests and when a run arrived in between (a daemon at 200 runs a second), the 304
 * answer to a page whose copy is current, and the body's size.
 */
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { DOCUMENTED_METHOD_ROLES } from '../src/config/methods.js';
import type { AccessReport, RunRecord } from '../src/core/outcome.js';
import { buildHttpServer } from '../src/http/server.js';
import { RunHistory } from '../src/metrics/history.js';
import { ProbeMetrics } from '../src/metrics/metrics.js';
import { StatusBoard } from '../src/status/board.js';
import { spread, targetName } from './lib.js';

const SMOKE = process.argv.includes('--smoke') || process.env['BENCH_SMOKE'] === '1';
const TARGETS = SMOKE ? 20 : 1000;
const RUNS = 20; // history.runs' default: the timeline's length
const REQUESTS = SMOKE ? 5 : 50;
const PROBES = ['auth_flow', 'camera_list', 'protected_rejection'] as const;

const ACCESS: AccessReport = {
  cells: 172,
  uncovered: 22,
  uncoveredWhy: [{ why: 'acts on every file or setting: no harmless parameters exist (allow_side_effects: true to check it)', cells: 22 }],
  checked: 3,
  sweep: { periodMs: 600_000, runs: 20, run: 7, lastCompletedAtMs: Date.now() - 300_000, lastCheckedCells: 172 },
  methods: Object.fromEntries(Object.keys(DOCUMENTED_METHOD_ROLES).map((m) => [m, 'refused'])),
  findings: [],
};

/** A run as the runner records it; one in fifty fails with a typical detail. */
function record(target: string, probe: (typeof PROBES)[number], i: number): RunRecord {
  const startedAtMs = Date.now() - (RUNS - i) * 15_000;
  const fails = (i * 7 + target.length) % 50 === 0;
  const run: RunRecord = {
    target,
    probe,
    type: probe,
    startedAt: new Date(startedAtMs).toISOString(),
    startedAtMs,
    scheduledAtMs: startedAtMs,
    durationMs: 4.2 + (i % 5),
    result: fails ? 'failure' : 'success',
    reason: fails ? 'timeout' : 'ok',
    steps: ['connect', 'upgrade', 'authenticate', 'call'].map((step, k) => ({ step: step as 'connect', startMs: k * 1.1, durationMs: 1.05, ok: true })),
  };
  if (fails) Object.assign(run, { step: 'call', detail: 'no answer to get_camera_list within 10s (the run timed out); the connection was closed' });
  if (probe === 'camera_list' && !fails) run.values = { cameras: 2, connected: 1 };
  if (probe === 'protected_rejection') run.access = ACCESS;
  return run;
}

async function main(): Promise<void> {
  const board = new StatusBoard({ runs: RUNS });
  const targets = Array.from({ length: TARGETS }, (_, i) => targetName(i));
  const runs = targets.flatMap((t) => PROBES.flatMap((p) => Array.from({ length: RUNS }, (_, i) => record(t, p, i))));
  const t0 = performance.now();
  for (const r of runs) board.record(r);
  const recordUs = ((performance.now() - t0) * 1000) / runs.length;

  const http = buildHttpServer({
    metrics: new ProbeMetrics({ version: 'bench', commit: 'bench', collectDefault: false }),
    history: new RunHistory({ runs: RUNS, failures: RUNS }),
    isReady: () => ({ ready: true }),
    logger: pino({ level: 'silent' }),
    status: board,
  });
  await http.listen({ host: '127.0.0.1', port: 0 });
  const { port } = http.server.address() as { port: number };
  const url = `http://127.0.0.1:${port}/api/status`;
  // fetch asks for gzip unless told otherwise: plain unless a caller asks (and fetch decompresses).
  const get = async (headers: Record<string, string> = {}) => {
    const start = performance.now();
    const res = await fetch(url, { headers: { 'accept-encoding': 'identity', ...headers } });
    const body = await res.arrayBuffer();
    const wire = Number(res.headers.get('content-length') ?? body.byteLength);
    return { ms: performance.now() - start, bytes: body.byteLength, wire, status: res.status, etag: res.headers.get('etag') ?? '' };
  };
  try {
    for (let i = 0; i < 5; i++) await get();
    const unchanged: number[] = [];
    const changed: number[] = [];
    const gzipped: number[] = [];
    let gzipBytes = 0;
    const notModified: number[] = [];
    let bytes = 0;
    let i = 0;
    for (let n = 0; n < REQUESTS; n++) {
      const same = await get();
      unchanged.push(same.ms);
      bytes = same.bytes;
      const cached = await get({ 'if-none-match': same.etag });
      if (cached.status !== 304) throw new Error(`expected 304, got ${cached.status}`);
      notModified.push(cached.ms);
      board.record(record(targets[i++ % targets.length]!, 'auth_flow', RUNS));
      changed.push((await get()).ms);
      board.record(record(targets[i++ % targets.length]!, 'auth_flow', RUNS));
      const gz = await get({ 'accept-encoding': 'gzip' });
      gzipped.push(gz.ms);
      gzipBytes = gz.wire;
    }
    const inProcess: number[] = [];
    for (let n = 0; n < REQUESTS; n++) {
      board.record(record(targets[n % targets.length]!, 'camera_list', RUNS));
      const start = performance.now();
      board.snapshot();
      inProcess.push(performance.now() - start);
    }
    const heap = process.memoryUsage().heapUsed;
    const result = {
      smoke: SMOKE,
      node: process.version,
      probes: targets.length * PROBES.length,
      timelineRuns: RUNS,
      recordUsPerRun: Math.round(recordUs * 100) / 100,
      bytes,
      bytesPerProbe: Math.round(bytes / (targets.length * PROBES.length)),
      gzipBytes,
      httpMs: { unchanged: spread(unchanged), afterARun: spread(changed), afterARunGzip: spread(gzipped), notModified: spread(notModified) },
      snapshotInProcessMs: spread(inProcess),
      heapUsedMB: Math.round(heap / 1e5) / 10,
    };
    const r = (s: { p50: number; p99: number }) => `p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms`;
    process.stdout.write(
      [
        `| ${result.probes} probes, ${RUNS}-run timelines | |`,
        '| --- | --- |',
        `| taking in one run (run sink) | ${result.recordUsPerRun} µs |`,
        `| GET /api/status, nothing changed since the last | ${r(result.httpMs.unchanged)} |`,
        `| GET /api/status, a run arrived since the last | ${r(result.httpMs.afterARun)} |`,
        `| the same with Accept-Encoding: gzip (decompressed) | ${r(result.httpMs.afterARunGzip)}, ${(gzipBytes / 1024).toFixed(0)} KiB on the wire |`,
        `| GET /api/status with a current validator (304) | ${r(result.httpMs.notModified)} |`,
        `| snapshot in process, after a run | ${r(result.snapshotInProcessMs)} |`,
        `| body | ${(bytes / 1024).toFixed(0)} KiB (${result.bytesPerProbe} bytes per probe) |`,
        '',
        JSON.stringify(result),
        '',
      ].join('\n'),
    );
  } finally {
    await http.close();
  }
}

await main();
