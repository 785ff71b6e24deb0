/**
 * A worker process running the real daemon (startDaemon) on a config file, recording what
 * the harness needs of each run: start drift, step durations and outcomes.
 *
 *   node dist/bench/daemon-worker.js <config.yaml>
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { startDaemon } from '../src/daemon.js';
import { createLogger } from '../src/logger.js';
import type { RunRecord } from '../src/core/outcome.js';
import { serve, type RunSummary } from './lib.js';

const [configPath = ''] = process.argv.slice(2);

const daemon = await startDaemon({ configPath, logger: createLogger('info') });

/**
 * What the harness needs of each run since the last reset, kept as numbers and counts, not
 * as run records: 30,000 retained records would weigh tens of MB, and that memory would be
 * the harness's, not camprobe's.
 */
let runs = emptyRuns();
daemon.events.on('run', (run: RunRecord) => {
  runs.count++;
  if (run.scheduledAtMs !== undefined) runs.driftMs.push(run.startedAtMs - run.scheduledAtMs);
  if (run.result !== 'success') {
    const key = `${run.probe}:${run.reason}`;
    runs.failuresByProbeReason[key] = (runs.failuresByProbeReason[key] ?? 0) + 1;
  } else if (run.probe === 'camera_list') {
    const call = run.steps.find((s) => s.step === 'call');
    if (call) runs.cameraListCallMs.push(call.durationMs);
  }
});

function emptyRuns(): RunSummary {
  return { count: 0, driftMs: [], cameraListCallMs: [], failuresByProbeReason: {} };
}
// How busy the daemon was over the window: its CPU share and its event-loop delay. The
// histogram records the time between two ticks of a timer of this resolution, so a timer
// firing on time reads as the resolution itself: `lateMs` subtracts it.
const RESOLUTION_MS = 10;
const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
loop.enable();
let cpu0 = process.cpuUsage();
let t0 = performance.now();

serve(async (msg: { op: string; times?: number; path?: string }) => {
  switch (msg.op) {
    case 'address':
      return { address: daemon.address };
    case 'reset':
      runs = emptyRuns();
      loop.reset();
      cpu0 = process.cpuUsage();
      t0 = performance.now();
      return {};
    case 'report': {
      const out = runs;
      runs = emptyRuns();
      const cpu = process.cpuUsage(cpu0);
      const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
      const busy = {
        cpuUs: cpu.user + cpu.system,
        cpuShareOfOneCore: Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 1000) / 1000,
        eventLoopDelayMs: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max), resolution: RESOLUTION_MS },
        eventLoopLateMs: { p99: Math.max(0, ms(loop.percentile(99)) - RESOLUTION_MS), max: Math.max(0, ms(loop.max) - RESOLUTION_MS) },
      };
      return { runs: out, busy };
    }
    case 'memory':
      return process.memoryUsage();
    case 'live-heap': {
      // Heap still used after a full GC: what the daemon really keeps (the worker runs
      // with --expose-gc; asked for only after the RSS samples were taken).
      (globalThis as { gc?: () => void }).gc?.();
      return { heapUsed: process.memoryUsage().heapUsed };
    }
    case 'heap-spaces':
      // Where the RSS is: each V8 space's committed size (MB), beside memoryUsage's.
      return Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, Math.round((sp.physical_space_size / 2 ** 20) * 10) / 10]));
    case 'snapshot':
      // A heap snapshot for Chrome DevTools (where the memory goes); blocks the daemon a while.
      return { path: writeHeapSnapshot(msg.path) };
    case 'render': {
      // In-process render time, without HTTP.
      const ms: number[] = [];
      let bytes = 0;
      for (let i = 0; i < (msg.times ?? 1); i++) {
        const t0 = performance.now();
        const { body } = await daemon.metrics.render();
        ms.push(performance.now() - t0);
        bytes = Buffer.byteLength(body);
      }
      return { ms, bytes };
    }
    case 'stop':
      await daemon.stop();
      return {};
    default:
      throw new Error(`unknown op ${msg.op}`);
  }
});
process.send!({ ready: true });
