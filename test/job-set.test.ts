/** The daemon's jobs and run sinks, with a stand-in scheduler and runner: no sockets, no timers. */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { RunRecord } from '../src/core/outcome.js';
import { JobSet } from '../src/daemon/job-set.js';
import { desiredJobs } from '../src/daemon/reload-plan.js';
import { StatusBoard } from '../src/status/board.js';
import { daemonSink, fanOut, type RunEvents, type RunSink } from '../src/daemon/run-sink.js';
import { RunHistory } from '../src/metrics/history.js';
import { ProbeMetrics, type ProbeSeries } from '../src/metrics/metrics.js';
import type { ProbeDefinition } from '../src/probes/types.js';
import type { RunOptions, Runner } from '../src/runner/create-runner.js';
import type { Job } from '../src/scheduler/scheduler.js';
import { captureLogger, configFor } from './helpers/harness.js';

const config = configFor('ws://127.0.0.1:9/ws', '      - type: camera_list\n      - type: auth_flow\n        schedule: "*/10 * * * * *"\n        timeout: 5s\n');

function record(target: string, probe: string, over: Partial<RunRecord> = {}): RunRecord {
  const startedAtMs = Date.UTC(2026, 0, 5, 9);
  return { target, probe, type: 'camera_list', startedAt: new Date(startedAtMs).toISOString(), startedAtMs, durationMs: 12, result: 'success', reason: 'ok', steps: [], ...over };
}

/** A runner whose runs are `outcome` (undefined: stopped), remembering what each was asked. */
function fakeRunner(outcome: RunRecord | undefined) {
  const asked: RunOptions[] = [];
  const definition: ProbeDefinition = { type: 'camera_list', description: 'stand-in', optionsSchema: {}, values: { cameras_total: 'cameras' }, run: async () => undefined };
  const runner: Runner = {
    prepare: () => ({
      definition,
      run: async (opts = {}) => {
        asked.push(opts);
        return outcome;
      },
      close: async () => undefined,
    }),
    run: async () => outcome,
  };
  return { runner, asked };
}

/** A scheduler that keeps the jobs it is given, and a sink and metrics that keep what they get. */
function parts() {
  const scheduled = new Map<string, Job>();
  const removed: string[] = [];
  const recorded: RunRecord[] = [];
  const forgotten: string[] = [];
  const series: ProbeSeries[] = [];
  const jobs = new JobSet({
    scheduler: {
      add: (job) => void scheduled.set(`${job.target}/${job.probe}`, job),
      remove: async (target, probe) => {
        scheduled.delete(`${target}/${probe}`);
        removed.push(`${target}/${probe}`);
      },
    },
    sink: { record: (run) => void recorded.push(run), forget: (t, p) => void forgotten.push(`${t}/${p}`) },
    metrics: { addProbe: (s) => void series.push(s) },
  });
  return { jobs, scheduled, removed, recorded, forgotten, series };
}

describe('JobSet', () => {
  it('adding a job creates its series and schedules it as configured', () => {
    const { jobs, scheduled, series } = parts();
    const { runner } = fakeRunner(undefined);
    for (const job of desiredJobs(config, config.targets)) jobs.add(job, runner);
    assert.deepEqual(series.map((s) => [s.target, s.probe, s.type, s.values]), [
      ['sim', 'camera_list', 'camera_list', { cameras_total: 'cameras' }],
      ['sim', 'auth_flow', 'auth_flow', { cameras_total: 'cameras' }],
    ]);
    assert.deepEqual([...scheduled.values()].map((j) => [j.probe, j.intervalMs, j.schedule]), [
      ['camera_list', 30_000, undefined],
      ['auth_flow', 10_000, '*/10 * * * * *'],
    ]);
    assert.deepEqual(jobs.list().map((j) => [j.target, j.probe, j.type]), [['sim', 'camera_list', 'camera_list'], ['sim', 'auth_flow', 'auth_flow']]);
    assert.equal(jobs.size, 2);
  });

  it("a scheduled run goes to the sink with the scheduler's signal and instant; a stopped one does not", async () => {
    const run = record('sim', 'camera_list');
    for (const [outcome, expected] of [[run, [run]], [undefined, []]] as const) {
      const { jobs, scheduled, recorded } = parts();
      const { runner, asked } = fakeRunner(outcome);
      jobs.add(desiredJobs(config, config.targets)[0]!, runner);
      const signal = new AbortController().signal;
      await scheduled.get('sim/camera_list')!.run(signal, 1234);
      assert.deepEqual(asked, [{ stopSignal: signal, scheduledAtMs: 1234 }]);
      assert.deepEqual(recorded, expected);
    }
  });

  it('removing a job unschedules it; only a forgotten one loses its series and history', async () => {
    const { jobs, scheduled, removed, forgotten } = parts();
    const { runner } = fakeRunner(undefined);
    for (const job of desiredJobs(config, config.targets)) jobs.add(job, runner);
    await jobs.remove('sim', 'camera_list', { forget: false });
    await jobs.remove('sim', 'auth_flow', { forget: true });
    assert.deepEqual(removed, ['sim/camera_list', 'sim/auth_flow']);
    assert.deepEqual(forgotten, ['sim/auth_flow']);
    assert.deepEqual([scheduled.size, jobs.size], [0, 0]);
  });

  it('a job whose probe type or credential is missing is refused before anything is scheduled', () => {
    const { jobs, scheduled, series } = parts();
    const refusing: Runner = {
      prepare: () => {
        throw new Error('target sim: probe type camera_list is not registered');
      },
      run: async () => undefined,
    };
    assert.throws(() => jobs.add(desiredJobs(config, config.targets)[0]!, refusing), /not registered/);
    assert.deepEqual([scheduled.size, series.length, jobs.size], [0, 0, 0]);
  });
});

describe('run sinks', () => {
  it('fanOut hands each run and each forget to every sink, in order', () => {
    const seen: string[] = [];
    const sink = (name: string): RunSink => ({ record: (r) => void seen.push(`${name} ${r.probe}`), forget: (t, p) => void seen.push(`${name} -${t}/${p}`) });
    const all = fanOut([sink('a'), sink('b')]);
    all.record(record('sim', 'p'));
    all.forget('sim', 'p');
    assert.deepEqual(seen, ['a p', 'b p', 'a -sim/p', 'b -sim/p']);
  });

  it("the daemon's sink: a run listener finds the run in metrics, history and the status board; forget drops all three", async () => {
    const metrics = new ProbeMetrics({ version: 'test', commit: 'test', collectDefault: false });
    const history = new RunHistory({ runs: 5, failures: 5 });
    const events: RunEvents = new EventEmitter();
    metrics.addProbe({ target: 'sim', probe: 'camera_list', type: 'camera_list' });
    const { logger, lines } = captureLogger();
    const status = new StatusBoard({ runs: 5 });
    const sink = daemonSink({ metrics, history, status, events, logger });
    const successes = async () => /camprobe_probe_runs_total\{[^}]*target="sim"[^}]*result="success"[^}]*\} (\d+)/.exec((await metrics.render()).body)?.[1];
    const seenByListener: Array<{ inHistory: number; onBoard: number }> = [];
    events.on('run', () => seenByListener.push({ inHistory: history.list({ target: 'sim' }).length, onBoard: status.get('sim', 'camera_list')?.timeline.length ?? 0 }));

    sink.record(record('sim', 'camera_list'));
    assert.deepEqual(seenByListener, [{ inHistory: 1, onBoard: 1 }]);
    assert.match(lines.join(''), /"probe":"camera_list".*"msg":"probe up"/, 'the state log is a sink too');
    assert.equal(await successes(), '1');
    sink.forget('sim', 'camera_list');
    assert.equal(history.list({ target: 'sim' }).length, 0);
    assert.equal(status.get('sim', 'camera_list'), undefined);
    assert.equal(await successes(), undefined, 'no series left');
  });
});
