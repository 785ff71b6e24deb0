import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ProbeMetrics } from '../src/metrics/metrics.js';
import { RunHistory } from '../src/metrics/history.js';
import { REASONS } from '../src/core/outcome.js';
import type { RunRecord } from '../src/core/outcome.js';
import { parseProm, select, value } from './helpers/prom-text.js';
import type { Sample } from './helpers/prom-text.js';

const T0 = 1_700_000_000_000;

function run(over: Partial<RunRecord> = {}): RunRecord {
  const startedAtMs = over.startedAtMs ?? T0;
  return {
    target: 't1',
    probe: 'p1',
    type: 'connect',
    startedAt: new Date(startedAtMs).toISOString(),
    startedAtMs,
    durationMs: 40,
    result: 'success',
    reason: 'ok',
    steps: [],
    ...over,
  };
}

function fail(over: Partial<RunRecord> = {}): RunRecord {
  return run({ result: 'failure', reason: 'timeout', ...over });
}

function metrics(location?: string): ProbeMetrics {
  return new ProbeMetrics({ version: '1.2.3', commit: 'abc123', collectDefault: false, ...(location && { location }) });
}

async function scrape(m: ProbeMetrics, accept?: string): Promise<Sample[]> {
  return parseProm((await m.render(accept)).body);
}

/** Series of one (target, probe), as sorted `name{k=v,...}` strings without target/probe. */
function seriesOf(samples: Sample[], target: string, probe: string): string[] {
  return samples
    .filter((s) => s.labels['target'] === target && s.labels['probe'] === probe)
    .map((s) => {
      const rest = Object.entries(s.labels)
        .filter(([k]) => k !== 'target' && k !== 'probe')
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      return `${s.name}{${rest}}`;
    })
    .sort();
}

const pair = { target: 't1', probe: 'p1' };

describe('ProbeMetrics', () => {
  test('addProbe pre-creates the start-up series at 0, and only those', async () => {
    const m = metrics();
    m.addProbe({ target: 't1', probe: 'p1', type: 'connect' });
    const samples = await scrape(m);
    const runBuckets = ['0.01', '0.025', '0.05', '0.1', '0.25', '1', '2.5', '10', '+Inf'];
    const expected = [
      'camprobe_probe_success{}',
      'camprobe_probe_skipped_total{}',
      'camprobe_probe_degraded{}',
      'camprobe_probe_degraded_runs_total{}',
      'camprobe_probe_info{type=connect}',
      'camprobe_probe_duration_seconds_sum{}',
      'camprobe_probe_duration_seconds_count{}',
      ...runBuckets.map((le) => `camprobe_probe_duration_seconds_bucket{le=${le}}`),
      ...REASONS.map((r) => `camprobe_probe_runs_total{result=${r === 'ok' ? 'success' : 'failure'},reason=${r}}`),
    ].sort();
    assert.deepEqual(seriesOf(samples, 't1', 'p1'), expected);
    assert.equal(expected.length, 33);
    for (const s of samples.filter((x) => x.labels['target'] === 't1' && x.name !== 'camprobe_probe_info')) assert.equal(s.value, 0, `${s.name}`);
    assert.equal(value(samples, 'camprobe_probe_info', { ...pair, type: 'connect' }), 1);
    assert.equal(select(samples, 'camprobe_probe_last_run_timestamp_seconds').length, 0);
    assert.equal(select(samples, 'camprobe_probe_last_success_timestamp_seconds').length, 0);
    assert.equal(select(samples, 'camprobe_probe_step_duration_seconds_count').length, 0);
    assert.equal(select(samples, 'camprobe_probe_step_last_duration_seconds').length, 0);

    m.addProbe({ target: 't1', probe: 'p1', type: 'connect' });
    assert.deepEqual(seriesOf(await scrape(m), 't1', 'p1'), expected, 'idempotent');
  });

  test('a 40 ms success and a 60 ms failure update gauges, counters, histograms and timestamps', async () => {
    const m = metrics();
    m.addProbe(pair);
    m.recordRun(
      run({
        durationMs: 40,
        steps: [
          { step: 'connect', startMs: 0, durationMs: 3, ok: true },
          { step: 'call', startMs: 3, durationMs: 30, ok: true },
        ],
      }),
    );
    let s = await scrape(m);
    assert.equal(value(s, 'camprobe_probe_success', pair), 1);
    assert.equal(value(s, 'camprobe_probe_runs_total', { ...pair, result: 'success', reason: 'ok' }), 1);
    assert.equal(value(s, 'camprobe_probe_duration_seconds_bucket', { ...pair, le: '0.025' }), 0);
    assert.equal(value(s, 'camprobe_probe_duration_seconds_bucket', { ...pair, le: '0.05' }), 1);
    assert.equal(value(s, 'camprobe_probe_duration_seconds_sum', pair), 0.04);
    assert.equal(value(s, 'camprobe_probe_last_run_timestamp_seconds', pair), (T0 + 40) / 1000);
    assert.equal(value(s, 'camprobe_probe_last_success_timestamp_seconds', pair), (T0 + 40) / 1000);
    // Only `call` has a histogram; every step has its last duration.
    assert.equal(select(s, 'camprobe_probe_step_duration_seconds_count', { step: 'connect' }).length, 0);
    assert.equal(value(s, 'camprobe_probe_step_last_duration_seconds', { ...pair, step: 'connect' }), 0.003);
    assert.equal(value(s, 'camprobe_probe_step_last_duration_seconds', { ...pair, step: 'call' }), 0.03);
    assert.equal(value(s, 'camprobe_probe_step_duration_seconds_bucket', { ...pair, step: 'call', le: '0.025' }), 0);
    assert.equal(value(s, 'camprobe_probe_step_duration_seconds_bucket', { ...pair, step: 'call', le: '0.05' }), 1);
    assert.equal(select(s, 'camprobe_probe_step_duration_seconds_count', { step: 'tls' }).length, 0);
    assert.equal(select(s, 'camprobe_probe_step_last_duration_seconds', { step: 'tls' }).length, 0);

    m.recordRun(
      fail({
        startedAtMs: T0 + 1000,
        durationMs: 60,
        reason: 'timeout',
        step: 'call',
        // A step run twice: its last duration is the slower one.
        steps: [
          { step: 'connect', startMs: 0, durationMs: 7, ok: true },
          { step: 'connect', startMs: 7, durationMs: 2, ok: true },
        ],
      }),
    );
    s = await scrape(m);
    assert.equal(value(s, 'camprobe_probe_success', pair), 0);
    assert.equal(value(s, 'camprobe_probe_runs_total', { ...pair, result: 'failure', reason: 'timeout' }), 1);
    assert.equal(value(s, 'camprobe_probe_runs_total', { ...pair, result: 'success', reason: 'ok' }), 1);
    assert.equal(value(s, 'camprobe_probe_duration_seconds_bucket', { ...pair, le: '0.05' }), 1, '60 ms is above 0.05');
    assert.equal(value(s, 'camprobe_probe_duration_seconds_bucket', { ...pair, le: '0.1' }), 2);
    assert.equal(value(s, 'camprobe_probe_step_last_duration_seconds', { ...pair, step: 'connect' }), 0.007);
    assert.equal(value(s, 'camprobe_probe_step_last_duration_seconds', { ...pair, step: 'call' }), 0.03, 'kept from the run that had it');
    assert.equal(value(s, 'camprobe_probe_step_duration_seconds_count', { ...pair, step: 'call' }), 1);
    assert.equal(value(s, 'camprobe_probe_duration_seconds_count', pair), 2);
    assert.equal(value(s, 'camprobe_probe_last_run_timestamp_seconds', pair), (T0 + 1060) / 1000);
    assert.equal(value(s, 'camprobe_probe_last_success_timestamp_seconds', pair), (T0 + 40) / 1000, 'unchanged by a failure');
  });

  test('value gauges: declared values are set per target, others ignored, removed with their last probe', async () => {
    const m = metrics();
    m.addProbe({ target: 't1', probe: 'list', values: { cameras: 'Cameras listed.', cameras_connected: 'Cameras online.' } });
    m.addProbe({ target: 't1', probe: 'other', values: { cameras: 'Cameras listed.' } });
    let s = await scrape(m);
    assert.equal(select(s, 'camprobe_cameras').length, 0, 'no value before a run reports one');

    m.recordRun(run({ probe: 'list', values: { cameras: 3, cameras_connected: 2, undeclared: 7 } }));
    s = await scrape(m);
    assert.equal(value(s, 'camprobe_cameras', { target: 't1' }), 3);
    assert.equal(value(s, 'camprobe_cameras_connected', { target: 't1' }), 2);
    assert.equal(select(s, 'camprobe_undeclared').length, 0);
    assert.deepEqual(select(s, 'camprobe_cameras')[0]?.labels, { target: 't1' });

    m.removeProbe('t1', 'list');
    s = await scrape(m);
    assert.equal(value(s, 'camprobe_cameras', { target: 't1' }), 3, 'still declared by t1/other');
    assert.equal(select(s, 'camprobe_cameras_connected').length, 0);
    m.removeProbe('t1', 'other');
    assert.equal(select(await scrape(m), 'camprobe_cameras').length, 0);

    assert.throws(() => m.addProbe({ target: 't1', probe: 'x', values: { probe_success: 'clash' } }), RangeError);
    assert.throws(() => m.addProbe({ target: 't1', probe: 'x', values: { 'Bad-Name': 'no' } }), RangeError);
  });

  test('removeProbe removes every series of the pair and later runs of it are ignored', async () => {
    const m = metrics();
    m.addProbe({ ...pair, type: 'connect' });
    m.addProbe({ target: 't2', probe: 'p1' });
    const all = run({ steps: [{ step: 'dns', startMs: 0, durationMs: 1, ok: true }] });
    m.recordRun(all);
    m.recordRun(run({ target: 't2' }));
    m.recordSkip('t1', 'p1');
    m.removeProbe('t1', 'p1');
    m.recordRun(all);
    m.recordSkip('t1', 'p1');
    const s = await scrape(m);
    assert.deepEqual(seriesOf(s, 't1', 'p1'), []);
    assert.equal(seriesOf(s, 't2', 'p1').length, 34, 't2 keeps its 32 start-up series (no type, no info) plus the 2 timestamps');
    m.removeProbe('t1', 'p1'); // idempotent
  });

  test('a degraded success sets the degraded gauge and counter; a failure or a plain success resets the gauge', async () => {
    const m = metrics();
    m.addProbe(pair);
    m.recordRun(run({ degraded: true, detail: 'step call took 80 ms, over degraded_after.call 50 ms' }));
    let s = await scrape(m);
    assert.equal(value(s, 'camprobe_probe_degraded', pair), 1);
    assert.equal(value(s, 'camprobe_probe_degraded_runs_total', pair), 1);
    assert.equal(value(s, 'camprobe_probe_success', pair), 1, 'degraded is still up');
    assert.equal(value(s, 'camprobe_probe_runs_total', { ...pair, result: 'success', reason: 'ok' }), 1);

    m.recordRun(fail({ startedAtMs: T0 + 1000 }));
    s = await scrape(m);
    assert.equal(value(s, 'camprobe_probe_degraded', pair), 0, 'a failure is a failure, not degraded');
    m.recordRun(run({ startedAtMs: T0 + 2000, degraded: true }));
    m.recordRun(run({ startedAtMs: T0 + 3000 }));
    s = await scrape(m);
    assert.equal(value(s, 'camprobe_probe_degraded', pair), 0);
    assert.equal(value(s, 'camprobe_probe_degraded_runs_total', pair), 2);
  });

  test('recordSkip counts skipped runs', async () => {
    const m = metrics();
    m.addProbe(pair);
    m.recordSkip('t1', 'p1');
    m.recordSkip('t1', 'p1');
    assert.equal(value(await scrape(m), 'camprobe_probe_skipped_total', pair), 2);
  });

  test('location is a label on every series', async () => {
    const m = metrics('eu-west');
    m.addProbe(pair);
    m.recordRun(run());
    const s = await scrape(m);
    assert.ok(s.length > 30);
    for (const x of s) assert.equal(x.labels['location'], 'eu-west', x.name);
    for (const x of await scrape(m, 'application/openmetrics-text')) assert.equal(x.labels['location'], 'eu-west', x.name);
  });

  test('build_info and label bounds', async () => {
    const m = metrics();
    assert.equal(value(await scrape(m), 'camprobe_build_info', { version: '1.2.3', commit: 'abc123', nodejs: process.version }), 1);
    assert.throws(() => m.addProbe({ target: 'x'.repeat(65), probe: 'p' }), RangeError);
    assert.throws(() => m.addProbe({ target: 't', probe: 'y'.repeat(65) }), RangeError);
    m.addProbe({ target: 'x'.repeat(64), probe: 'p' });
  });

  test('content negotiation: OpenMetrics when asked, without renaming counters for later Prometheus scrapes', async () => {
    const m = metrics();
    m.addProbe(pair);
    m.recordRun(run());

    const om = await m.render('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1');
    assert.equal(om.contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.ok(om.body.endsWith('# EOF\n'));
    assert.match(om.body, /^# TYPE camprobe_probe_runs counter$/m);
    assert.match(om.body, /^camprobe_probe_runs_total\{target="t1",probe="p1",result="success",reason="ok"\} 1$/m);
    assert.doesNotMatch(om.body, /\n\n/, 'OpenMetrics has no blank lines');

    // Twice: prom-client's own OpenMetrics rendering renamed shared counters in place.
    await m.render('application/openmetrics-text');
    for (const accept of [undefined, 'text/plain', 'application/openmetrics-text;q=0', '*/*']) {
      const prom = await m.render(accept);
      assert.equal(prom.contentType, 'text/plain; version=0.0.4; charset=utf-8', String(accept));
      assert.match(prom.body, /^# TYPE camprobe_probe_runs_total counter$/m);
      assert.equal(value(parseProm(prom.body), 'camprobe_probe_runs_total', { ...pair, result: 'success', reason: 'ok' }), 1);
    }
  });

  test('default process and Node.js metrics keep their standard names in both formats', async () => {
    const m = new ProbeMetrics({ version: '1', commit: 'c' });
    assert.ok(select(await scrape(m), 'process_cpu_seconds_total').length === 1);
    const om = (await m.render('application/openmetrics-text')).body;
    assert.match(om, /^process_cpu_seconds_total(\{.*\})? /m);
    assert.match(om, /^nodejs_eventloop_lag_seconds(\{.*\})? /m);
  });

  test('promtool check metrics finds nothing to report in camprobe metrics', async () => {
    const m = new ProbeMetrics({ version: '1.0.0', commit: 'deadbeef', location: 'lab', collectDefault: false });
    const shapes = [
      { probe: 'connect' },
      { probe: 'auth_flow' },
      { probe: 'list_cameras', values: { cameras: 'Cameras listed.', cameras_connected: 'Cameras connected.' } },
    ];
    for (const target of ['alpha', 'beta', 'gamma']) {
      for (const shape of shapes) m.addProbe({ target, ...shape });
    }
    let t = T0;
    for (const reason of REASONS) {
      m.recordRun(
        run({
          target: 'alpha',
          probe: 'list_cameras',
          startedAtMs: (t += 1000),
          result: reason === 'ok' ? 'success' : 'failure',
          reason,
          steps: [
            { step: 'connect', startMs: 0, durationMs: 2, ok: true },
            { step: 'call', startMs: 2, durationMs: 9, ok: reason === 'ok' },
          ],
          values: { cameras: 4, cameras_connected: 3 },
        }),
      );
    }
    m.recordRun(run({ target: 'beta', probe: 'auth_flow' }));
    m.recordSkip('gamma', 'connect');

    const { body } = await m.render();
    const out = await promtool(body);
    assert.deepEqual(out, { code: 0, output: '' });
    // Also parseable by our own reader, every series unique.
    const samples = parseProm(body);
    assert.equal(new Set(samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`)).size, samples.length);
  });
});

test('promtool check metrics reports nothing on the whole /metrics output, default metrics included', async () => {
  const m = new ProbeMetrics({ version: '1.0.0', commit: 'deadbeef' });
  m.addProbe(pair);
  m.recordRun(run());
  const body = (await m.render()).body;
  assert.match(body, /^nodejs_active_resources\{type=/m, 'the counts stay, by type, under the gauge names');
  const { code, output } = await promtool(body);
  assert.equal(output.trim(), '');
  assert.equal(code, 0);
});

function promtool(input: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}

describe('RunHistory', () => {
  test('stays bounded per (target, probe)', () => {
    const h = new RunHistory({ runs: 20, failures: 10 });
    for (let i = 0; i < 10_000; i++) {
      h.add(i % 3 === 0 ? fail({ startedAtMs: T0 + i }) : run({ startedAtMs: T0 + i }));
      h.add(run({ probe: 'p2', startedAtMs: T0 + i }));
    }
    // The last 20 runs, plus the 3 of the last 10 failures that are older than those.
    assert.equal(h.list({ target: 't1', probe: 'p1', limit: 1000 }).length, 23);
    assert.equal(h.list({ target: 't1', probe: 'p1', failedOnly: true, limit: 1000 }).length, 10);
    assert.equal(h.list({ probe: 'p2', limit: 1000 }).length, 20);
    assert.equal(h.list({ limit: 1000 }).length, 30, 'limit is capped at runs + failures');
    for (let i = 0; i < 10_000; i++) h.add(fail({ probe: 'p3', startedAtMs: T0 + i }));
    assert.equal(h.list({ probe: 'p3', limit: 1000 }).length, 20, 'the kept failures are among the recent runs');
  });

  test('failures outlive a burst of successes; newest first', () => {
    const h = new RunHistory({ runs: 5, failures: 3 });
    for (let i = 0; i < 4; i++) h.add(fail({ startedAtMs: T0 + i, reason: 'connect_refused' }));
    for (let i = 10; i < 30; i++) h.add(run({ startedAtMs: T0 + i }));
    const all = h.list();
    assert.equal(all.length, 8);
    assert.deepEqual(
      all.map((r) => r.startedAtMs - T0),
      [29, 28, 27, 26, 25, 3, 2, 1],
    );
    assert.deepEqual(
      h.list({ failedOnly: true }).map((r) => r.startedAtMs - T0),
      [3, 2, 1],
    );
  });

  test('a failure in both rings is listed once', () => {
    const h = new RunHistory({ runs: 5, failures: 5 });
    h.add(run({ startedAtMs: T0 }));
    h.add(fail({ startedAtMs: T0 + 1 }));
    assert.equal(h.list().length, 2);
    assert.equal(h.list({ failedOnly: true }).length, 1);
  });

  test('filters, limit, latest and remove', () => {
    const h = new RunHistory({ runs: 10, failures: 5 });
    h.add(run({ target: 'b', probe: 'x', startedAtMs: T0 + 1 }));
    h.add(run({ target: 'a', probe: 'x', startedAtMs: T0 + 2 }));
    h.add(fail({ target: 'a', probe: 'y', startedAtMs: T0 + 3 }));
    h.add(run({ target: 'a', probe: 'x', startedAtMs: T0 + 4 }));
    // Same start: the one added later comes first.
    h.add(run({ target: 'a', probe: 'y', startedAtMs: T0 + 3, detail: 'second' }));

    assert.deepEqual(h.list({ target: 'a' }).map((r) => `${r.probe}${r.startedAtMs - T0}`), ['x4', 'y3', 'y3', 'x2']);
    assert.equal(h.list({ target: 'a' })[1]?.detail, 'second');
    assert.deepEqual(h.list({ probe: 'x' }).map((r) => r.target), ['a', 'a', 'b']);
    assert.deepEqual(h.list({ target: 'a', probe: 'y', failedOnly: true }).map((r) => r.reason), ['timeout']);
    assert.equal(h.list({ limit: 2 }).length, 2);
    assert.deepEqual(h.list({ target: 'nope' }), []);

    assert.deepEqual(h.latest().map((r) => `${r.target}/${r.probe}@${r.startedAtMs - T0}`), ['a/x@4', 'a/y@3', 'b/x@1']);
    assert.equal(h.latest()[1]?.detail, 'second');

    h.remove('a', 'x');
    assert.deepEqual(h.latest().map((r) => `${r.target}/${r.probe}`), ['a/y', 'b/x']);
    assert.equal(h.list({ probe: 'x' }).length, 1);
  });

  test('rejects invalid sizes', () => {
    assert.throws(() => new RunHistory({ runs: -1, failures: 0 }), RangeError);
    assert.throws(() => new RunHistory({ runs: 1.5, failures: 0 }), RangeError);
  });
});
