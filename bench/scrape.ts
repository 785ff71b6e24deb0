/**
 * What a scrape of `/metrics` costs at 1,000 targets with every probe on: auth_flow,
 * camera_list, protected_rejection (with the access report of the documented method
 * table) and a held `session` per target, each fed realistic run records.
 *
 *   npm run bench:scrape                        # 1,000 targets; prints a table and the JSON
 *   npm run bench:scrape -- --targets 200       # another size
 *   npm run bench:scrape -- --smoke             # tiny sizes: checks the harness works (test/bench.test.ts)
 *
 * The real ProbeMetrics behind the real HTTP server runs in its own process (a worker);
 * this process is the scraper, as Prometheus is its own process. Measured side by side,
 * in rounds whose order rotates: the render in the server's process (no HTTP), and a GET
 * of /metrics over loopback without and with `Accept-Encoding: gzip`, from the request
 * sent to the body fully read (and decompressed, for gzip). Also: bytes both ways, series
 * per target, and that the gzip body decompresses to the plain body.
 */
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createGunzip } from 'node:zlib';
import pino from 'pino';
import { DOCUMENTED_METHOD_ROLES } from '../src/config/methods.js';
import type { AccessReport, RunRecord, SessionReport, StepName } from '../src/core/outcome.js';
import { ChunkStream, GZIP_LEVEL, sendStream } from '../src/http/compression.js';
import { buildHttpServer } from '../src/http/server.js';
import { RunHistory } from '../src/metrics/history.js';
import { ProbeMetrics } from '../src/metrics/metrics.js';
import { Worker, serve, spread, stopAll, targetName, type Spread } from './lib.js';

const SMOKE = process.argv.includes('--smoke') || process.env['BENCH_SMOKE'] === '1';
const TARGETS = Number(argValue('--targets') ?? (SMOKE ? 20 : 1000));
const ROUNDS = Number(argValue('--rounds') ?? (SMOKE ? 3 : 20));
const WARMUP = SMOKE ? 1 : 3;
/** Other gzip levels measured beside the route's own (GZIP_LEVEL). */
const LEVELS = (argValue('--levels') ?? '').split(',').filter((l) => l !== '').map(Number);
const RUNS_PER_PROBE = 5;
const PROBES = ['auth_flow', 'camera_list', 'protected_rejection', 'session'] as const;
type ProbeName = (typeof PROBES)[number];
const NOW = Date.now();

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The steps each probe records (the runner's connect and upgrade, then the probe's own). */
const STEPS: Record<ProbeName, StepName[]> = {
  auth_flow: ['connect', 'upgrade', 'authenticate', 'call'],
  camera_list: ['connect', 'upgrade', 'authenticate', 'call'],
  protected_rejection: ['connect', 'upgrade', 'authenticate', 'control', 'reject', 'reject'],
  session: ['call', 'control'],
};

/** The documented table, swept: one method exposed now and then, so the sparse families show too. */
function access(i: number, t: number): AccessReport {
  const methods = Object.keys(DOCUMENTED_METHOD_ROLES);
  return {
    cells: 170,
    uncovered: 26,
    uncoveredWhy: [{ why: 'acts on every file or setting: no harmless parameters exist (allow_side_effects: true to check it)', cells: 26 }],
    checked: 9,
    sweep: { periodMs: 600_000, runs: 20, run: i, lastCompletedAtMs: NOW - 300_000 - t, lastCheckedCells: 170 },
    methods: Object.fromEntries(methods.map((m, k) => [m, t % 97 === 0 && k === 3 ? 'unconfirmed' : 'refused'])),
    findings: [],
  };
}

/** The held session after its i-th run, as session-state.ts reports it. */
function session(i: number, t: number): SessionReport {
  return {
    up: true,
    connectedAtMs: NOW - 3_600_000 - t * 17,
    disconnects: { closed: t % 3, heartbeat_failed: 0, silent: t % 5 === 0 ? 1 : 0, error: 0 },
    reconnects: t % 3,
    heartbeatMs: 1.2 + ((i * 7 + t) % 13) / 10,
    heartbeatFailures: t % 11 === 0 ? 1 : 0,
    lastServerPingAtMs: NOW - 12_345 - t,
    notifications: { camera_status_update: 40 + i + (t % 9), recording_status_update: 3 + (t % 4), other: 0 },
    lastNotificationAtMs: NOW - 2_000 - t,
    invalidNotifications: 0,
    invalidSamples: [],
    expiryChecks: { enforced: 2 + (t % 2), not_enforced: 0, inconclusive: t % 7 === 0 ? 1 : 0 },
    lastExpiryCheck: 'enforced: refused after exp, restored by a fresh token',
    unauthenticatedNotifications: 0,
  };
}

/** The i-th run of a probe on target number t; one in forty fails with a timeout. */
function record(target: string, t: number, probe: ProbeName, i: number): RunRecord {
  const startedAtMs = NOW - (RUNS_PER_PROBE - i) * 15_000 + (t % 1000);
  const fails = (i * 7 + t) % 40 === 0;
  const run: RunRecord = {
    target,
    probe,
    type: probe,
    startedAt: new Date(startedAtMs).toISOString(),
    startedAtMs,
    scheduledAtMs: startedAtMs,
    durationMs: 3.1 + ((t * 13 + i * 7) % 97) / 7,
    result: fails ? 'failure' : 'success',
    reason: fails ? 'timeout' : 'ok',
    steps: STEPS[probe].map((step, k) => ({ step, startMs: k * 1.13, durationMs: 0.4 + ((t + k * 3 + i) % 29) / 9.7, ok: true })),
  };
  if (fails) Object.assign(run, { step: 'call', detail: 'no answer within 10s (the run timed out); the connection was closed' });
  if (probe === 'camera_list' && !fails) run.values = { cameras: 2 + (t % 3), cameras_connected: 1 + (t % 2) };
  if (probe === 'protected_rejection') run.access = access(i, t);
  if (probe === 'session') run.session = session(i, t);
  return run;
}

/** A ProbeMetrics with `targets` targets × the four probes, each after RUNS_PER_PROBE runs. */
export function benchMetrics(targets: number): ProbeMetrics {
  const metrics = new ProbeMetrics({ version: 'bench', commit: 'bench', collectDefault: false });
  for (let t = 0; t < targets; t++) {
    const target = targetName(t);
    for (const probe of PROBES) {
      const values = probe === 'camera_list' ? { cameras: 'Cameras listed.', cameras_connected: 'Cameras online.' } : undefined;
      metrics.addProbe({ target, probe, type: probe, ...(values && { values }) });
      for (let i = 0; i < RUNS_PER_PROBE; i++) metrics.recordRun(record(target, t, probe, i));
    }
  }
  return metrics;
}

/** The server's side: the metrics, the HTTP server, and the in-process render on request. */
async function server(): Promise<void> {
  const metrics = benchMetrics(TARGETS);
  const http = buildHttpServer({
    metrics,
    history: new RunHistory({ runs: 1, failures: 1 }),
    isReady: () => ({ ready: true }),
    logger: pino({ level: 'silent' }),
  });
  // `--levels 1,6`: the same route at other gzip levels, to compare them in one run.
  http.get<{ Params: { level: string } }>('/bench/metrics-gzip/:level', async (req, reply) => {
    const body = new ChunkStream();
    metrics.write(undefined, body.sink).then(() => body.finish(), (err: Error) => body.destroy(err));
    return sendStream(req, reply.type(metrics.contentType()), body, Number(req.params.level));
  });
  await http.listen({ host: '127.0.0.1', port: 0 });
  const { port } = http.server.address() as { port: number };
  serve(async (msg: { op: string; accept?: string }) => {
    if (msg.op === 'render') {
      // What the route does, without HTTP: every chunk of bytes written.
      const chunks: Buffer[] = [];
      const t0 = performance.now();
      await metrics.write(msg.accept, (chunk) => void chunks.push(chunk));
      const ms = performance.now() - t0;
      const body = Buffer.concat(chunks).toString();
      const perTarget = body.split('\n').filter((l) => l.includes('target="bench-0000"')).length;
      return { ms, bytes: Buffer.byteLength(body), seriesPerTarget: perTarget, series: body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length };
    }
    if (msg.op === 'port') return { port };
    if (msg.op === 'stop') await http.close();
    return {};
  });
  process.send!({ ready: true });
}

interface Scrape {
  ms: number;
  /** Bytes on the wire. */
  wire: number;
  body: Buffer;
  encoding: string | undefined;
  vary: string | undefined;
}

/** GET /metrics, timed from the request to the last byte of the (decompressed) body. */
function scrape(port: number, headers: Record<string, string>, path = '/metrics'): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const encoding = res.headers['content-encoding'];
      const chunks: Buffer[] = [];
      let wire = 0;
      res.on('data', (c: Buffer) => (wire += c.length));
      const body = encoding === 'gzip' ? res.pipe(createGunzip()) : res;
      body.on('data', (c: Buffer) => chunks.push(c));
      body.on('error', reject);
      body.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET /metrics: ${res.statusCode}`));
        resolve({ ms: performance.now() - t0, wire, body: Buffer.concat(chunks), encoding, vary: res.headers['vary'] });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** One comparable pair: the session gauge rounds Date.now() to seconds, so it may tick between two scrapes. */
const stable = (b: Buffer) => b.toString('latin1').replace(/^camprobe_session_connected_seconds\{.*$/gm, '');

interface Rendered {
  ms: number;
  bytes: number;
  seriesPerTarget: number;
  series: number;
}

/** Rounds of every kind of measurement, the order rotating each round; the last of each kept for checks. */
async function measure(worker: Worker, port: number) {
  const kinds = ['render', 'plain', 'gzip', ...LEVELS.map((l) => `gzip-${l}`)];
  const ms: Record<string, number[]> = Object.fromEntries(kinds.map((k) => [k, []]));
  const last: Record<string, Scrape> = {};
  let rendered: Rendered | undefined;
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(round + k) % kinds.length]!;
      let took: number;
      if (kind === 'render') {
        rendered = await worker.ask<Rendered>({ op: 'render' });
        took = rendered.ms;
      } else {
        const gzip = kind !== 'plain';
        const path = kind.startsWith('gzip-') ? `/bench/metrics-gzip/${kind.slice(5)}` : '/metrics';
        const s = await scrape(port, gzip ? { 'accept-encoding': 'gzip' } : {}, path);
        last[kind] = s;
        took = s.ms;
      }
      if (round >= WARMUP) ms[kind]!.push(took);
    }
  }
  return { ms, last, rendered: rendered! };
}

async function client(): Promise<void> {
  const worker = await Worker.start('scrape.js', ['--server', '--targets', String(TARGETS)]);
  const { port } = await worker.ask<{ port: number }>({ op: 'port' });
  try {
    const { ms, last, rendered: r } = await measure(worker, port);
    const p = last['plain']!;
    const g = last['gzip']!;
    // Check the gzip body against a plain one taken right after it.
    const again = await scrape(port, {});
    const result = {
      smoke: SMOKE,
      node: process.version,
      targets: TARGETS,
      probesPerTarget: PROBES.length,
      rounds: ROUNDS,
      series: r.series,
      seriesPerTarget: r.seriesPerTarget,
      renderInProcessMs: spread(ms['render']!),
      httpPlainMs: spread(ms['plain']!),
      httpGzipMs: spread(ms['gzip']!),
      gzipLevel: GZIP_LEVEL,
      otherLevels: Object.fromEntries(LEVELS.map((l) => [l, { ms: spread(ms[`gzip-${l}`]!), bytes: last[`gzip-${l}`]!.wire }])),
      bytes: { plain: p.wire, gzip: g.wire, gzipDecompressed: g.body.length, renderInProcess: r.bytes },
      gzip: { contentEncoding: g.encoding ?? null, vary: g.vary ?? null, plainContentEncoding: p.encoding ?? null, sameAsPlain: stable(g.body) === stable(again.body) },
    };
    const f = (s: Spread) => `p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms (min ${s.min.toFixed(1)}, IQR ${s.iqr.toFixed(1)})`;
    const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
    process.stdout.write(
      [
        `| ${TARGETS} targets × ${PROBES.length} probes: ${result.series} series, ${result.seriesPerTarget} per target | ${ROUNDS} rounds |`,
        '| --- | --- |',
        `| render in process (no HTTP) | ${f(result.renderInProcessMs)} |`,
        `| GET /metrics, no gzip | ${f(result.httpPlainMs)}, ${mb(result.bytes.plain)} |`,
        `| GET /metrics, Accept-Encoding: gzip (level ${GZIP_LEVEL}, decompressed) | ${f(result.httpGzipMs)}, ${mb(result.bytes.gzip)} (content-encoding: ${result.gzip.contentEncoding ?? 'none'}) |`,
        ...LEVELS.map((l) => `| the same at gzip level ${l} | ${f(result.otherLevels[l]!.ms)}, ${mb(result.otherLevels[l]!.bytes)} |`),
        '',
        JSON.stringify(result),
        '',
      ].join('\n'),
    );
  } finally {
    await worker.ask({ op: 'stop' }).catch(() => undefined);
    await stopAll();
  }
}

// Imported (a profile of the render, say), it only lends benchMetrics.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--server')) await server();
  else await client();
}
