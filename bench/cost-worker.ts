/**
 * A worker process that runs one kind of check over and over on request and reports the
 * CPU time it spent (process.cpuUsage: this process only, the server runs elsewhere).
 *
 *   node dist/bench/cost-worker.js <mode> <url>
 *
 * Modes:
 * - camprobe: the camera_list probe exactly as the daemon runs it (createRunner's prepared
 *   probe, then the daemon's run sink: metrics, history, the run event), config parsed by
 *   the real loader.
 * - bare: a minimal `ws` client doing the same sequence: connect, authenticate with a
 *   JWT, get_camera_list, close. Both reuse a token for half its 5 min lifetime.
 * - bare-connect: the bare client's connect, authenticate, close (no call): what a
 *   connection costs it (the fleet scenario's cost model, bench/fleet.ts).
 * - bare-call: one get_camera_list on a connection the bare client keeps open and
 *   authenticated: what one more request costs it.
 * - http-probe: the registered `http` probe type through the same runner.
 * - fetch: a minimal GET with Node's fetch, the code path an http probe would most likely use.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import pino from 'pino';
import WebSocket from 'ws';
import { parseConfig } from '../src/config/load.js';
import { daemonSink } from '../src/daemon/run-sink.js';
import { RunHistory } from '../src/metrics/history.js';
import { ProbeMetrics } from '../src/metrics/metrics.js';
import { BUILTIN_PROBES } from '../src/probes/registry.js';
import { createRunner } from '../src/runner/create-runner.js';
import { StatusBoard } from '../src/status/board.js';
import { BENCH_SECRET, benchConfig, serve, sleep } from './lib.js';

type Check = () => Promise<{ ok: boolean; callMs?: number }>;

const [mode = '', url = '', probeYaml = ''] = process.argv.slice(2);

async function camprobeCheck(probeType: string): Promise<Check> {
  const text = benchConfig({ urls: [url], count: 1, probes: [], extraProbeYaml: probeYaml || `      - type: ${probeType}` });
  const config = parseConfig(text, { source: 'bench', env: { CAMERA_SERVICE_JWT_SECRET: BENCH_SECRET }, probeTypes: BUILTIN_PROBES });
  const target = config.targets[0]!;
  const probe = target.probes[0]!;
  // The daemon's default level: a successful run logs nothing.
  const logger = pino({ level: 'info' }, pino.destination('/dev/null'));
  const runner = createRunner({ credentials: config.credentials, probeTypes: BUILTIN_PROBES, logger, env: { CAMERA_SERVICE_JWT_SECRET: BENCH_SECRET } });
  const prepared = runner.prepare(target, probe);
  // Default process metrics are a fixed cost of the daemon, not a cost per run.
  const metrics = new ProbeMetrics({ version: 'bench', commit: 'bench', collectDefault: false });
  metrics.addProbe({ target: target.name, probe: probe.name, values: prepared.definition.values ?? {} });
  const status = new StatusBoard({ runs: config.history.runs });
  const sink = daemonSink({ metrics, history: new RunHistory(config.history), status, events: new EventEmitter(), logger });
  return async () => {
    const run = await prepared.run();
    if (!run) return { ok: false };
    sink.record(run);
    const call = run.steps.find((s) => s.step === 'call');
    return call ? { ok: run.result === 'success', callMs: call.durationMs } : { ok: run.result === 'success' };
  };
}

function bareCheck(kind: 'run' | 'connect' | 'call'): Check {
  const key = new TextEncoder().encode(BENCH_SECRET);
  // The same token policy as camprobe: a 5 min token, renewed at half its lifetime.
  let token = '';
  let renewAt = 0;
  return async () => {
    const now = Math.floor(Date.now() / 1000);
    if (now >= renewAt) {
      token = await new SignJWT({ user_id: 'camprobe', role: 'viewer' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(key);
      renewAt = now + 150;
    }
    let c: BareConnection;
    try {
      if (kind === 'call') {
        held ??= await bareConnection(token);
        const r = await held.list();
        if (!r.ok) held = undefined;
        return r;
      }
      c = await bareConnection(token);
    } catch {
      return { ok: false };
    }
    try {
      return kind === 'connect' ? { ok: c.authenticated } : await c.list();
    } finally {
      await c.close();
    }
  };
}

/** An open ws connection of the bare client, authenticated with `token`. */
interface BareConnection {
  authenticated: boolean;
  list: () => Promise<{ ok: boolean; callMs?: number }>;
  close: () => Promise<void>;
}

let nextId = 1;
let held: BareConnection | undefined;

async function bareConnection(token: string): Promise<BareConnection> {
  const ws = new WebSocket(url, { maxPayload: 1 << 20 });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.on('error', () => undefined);
  const request = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => {
      const id = nextId++;
      const onMessage = (data: WebSocket.RawData) => {
        const msg = JSON.parse(data.toString());
        if (msg.id !== id) return;
        ws.off('message', onMessage);
        ws.off('close', onClose);
        resolve(msg);
      };
      const onClose = () => reject(new Error('closed'));
      ws.on('message', onMessage);
      ws.once('close', onClose);
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }));
    });
  const close = async () => {
    ws.close(1000);
    await closed;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const auth = await request('authenticate', { auth_token: token });
    return {
      authenticated: auth.result?.authenticated === true,
      close,
      list: async () => {
        try {
          const t0 = performance.now();
          const list = await request('get_camera_list');
          const callMs = performance.now() - t0;
          return { ok: Array.isArray(list.result?.cameras) && list.result.total === list.result.cameras.length, callMs };
        } catch {
          return { ok: false };
        }
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

function fetchCheck(): Check {
  return async () => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return { ok: res.status >= 200 && res.status < 300 };
    } catch {
      return { ok: false };
    }
  };
}

async function makeCheck(): Promise<Check> {
  switch (mode) {
    case 'camprobe':
      return camprobeCheck('camera_list');
    case 'http-probe':
      return camprobeCheck('http');
    case 'bare':
      return bareCheck('run');
    case 'bare-connect':
      return bareCheck('connect');
    case 'bare-call':
      return bareCheck('call');
    case 'fetch':
      return fetchCheck();
    default:
      throw new Error(`unknown mode "${mode}"`);
  }
}

const check = await makeCheck();

serve(async (msg: { op: string; runs?: number; durationMs?: number; gapMs?: number }) => {
  if (msg.op === 'batch') {
    // Sequential runs; CPU of this process only.
    let failures = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < (msg.runs ?? 1); i++) if (!(await check()).ok) failures++;
    const cpu = process.cpuUsage(cpu0);
    return { cpuUs: cpu.user + cpu.system, wallMs: performance.now() - t0, failures };
  }
  if (msg.op === 'calls') {
    // The get_camera_list round trip as this client sees it, one run every gapMs.
    const callMs: number[] = [];
    let failures = 0;
    const end = performance.now() + (msg.durationMs ?? 1000);
    while (performance.now() < end) {
      const r = await check();
      if (r.ok && r.callMs !== undefined) callMs.push(r.callMs);
      else failures++;
      await sleep(msg.gapMs ?? 100);
    }
    return { callMs, failures };
  }
  throw new Error(`unknown op ${msg.op}`);
});
process.send!({ ready: true });
