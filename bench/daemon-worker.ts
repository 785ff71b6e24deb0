/**
 * A worker process running the real daemon (startDaemon) on a config file, recording what
 * the harness needs of each run: start drift, step durations and outcomes.
 *
 *   node dist/bench/daemon-worker.js <config.yaml>
 */
import { performance } from 'node:perf_hooks';
import { startDaemon } from '../src/daemon.js';
import { createLogger } from '../src/logger.js';
import type { RunRecord } from '../src/probes/types.js';
import { serve } from './lib.js';

const [configPath = ''] = process.argv.slice(2);

const daemon = await startDaemon({ configPath, logger: createLogger('info') });

let runs: RunRecord[] = [];
daemon.events.on('run', (run) => {
  runs.push(run);
});

serve(async (msg: { op: string; times?: number }) => {
  switch (msg.op) {
    case 'address':
      return { address: daemon.address };
    case 'reset':
      runs = [];
      return {};
    case 'report': {
      const out = runs.map((r) => ({
        probe: r.probe,
        result: r.result,
        reason: r.reason,
        driftMs: r.scheduledAtMs === undefined ? null : r.startedAtMs - r.scheduledAtMs,
        callMs: r.steps.find((s) => s.step === 'call')?.durationMs ?? null,
      }));
      runs = [];
      return { runs: out };
    }
    case 'memory':
      return process.memoryUsage();
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
