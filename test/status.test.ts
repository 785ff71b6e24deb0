/** The status page's board: states, since-times, timelines and JSON, fed runs directly. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessReport, RunRecord } from '../src/core/outcome.js';
import { MAX_TIMELINE, StatusBoard, type StatusResponse } from '../src/status/board.js';

const T0 = 1_700_000_000_000;

function run(target: string, probe: string, i: number, over: Partial<RunRecord> = {}): RunRecord {
  return {
    target,
    probe,
    type: probe,
    startedAt: new Date(T0 + i * 1000).toISOString(),
    startedAtMs: T0 + i * 1000,
    durationMs: 10,
    result: 'success',
    reason: 'ok',
    steps: [{ step: 'connect', startMs: 0, durationMs: 2, ok: true }],
    ...over,
  };
}

const failed = (reason: RunRecord['reason'], detail = 'it broke') => ({ result: 'failure', reason, step: 'call', detail }) as const;

const ACCESS: AccessReport = {
  cells: 3,
  uncovered: 0,
  uncoveredWhy: [],
  checked: 3,
  sweep: { periodMs: 1000, runs: 1, run: 0, lastCompletedAtMs: T0, lastCheckedCells: 3 },
  methods: { get_server_info: 'exposed' },
  findings: [{ method: 'get_server_info', credential: 'forged token', usage: 'per_call', state: 'exposed', got: 'a result' }],
};

const parse = (board: StatusBoard, now = T0) => JSON.parse(board.snapshot(now).body) as StatusResponse;

describe('status board', () => {
  it('the state of each run: security for security_violation and rejection_unconfirmed, down, degraded, up', () => {
    const board = new StatusBoard({ runs: 5 });
    board.record(run('a', 'p1', 0));
    board.record(run('a', 'p2', 0, { degraded: true, detail: 'slow' }));
    board.record(run('a', 'p3', 0, failed('connect_refused')));
    board.record(run('a', 'p4', 0, failed('security_violation')));
    board.record(run('a', 'p5', 0, failed('rejection_unconfirmed')));
    const body = parse(board);
    assert.deepEqual(body.probes.map((p) => [p.probe, p.state, p.reason]), [
      ['p1', 'up', 'ok'],
      ['p2', 'degraded', 'ok'],
      ['p3', 'down', 'connect_refused'],
      ['p4', 'security', 'security_violation'],
      ['p5', 'security', 'rejection_unconfirmed'],
    ]);
    assert.deepEqual(body.counts, { security: 2, down: 1, degraded: 1, up: 1 });
  });

  it('since: the end of the first run in the current state; not moved by runs in the same state or another reason', () => {
    const board = new StatusBoard({ runs: 5 });
    board.record(run('a', 'p', 0));
    assert.deepEqual([board.get('a', 'p')?.sinceMs, board.get('a', 'p')?.sinceFirstRun], [T0 + 10, true]);
    board.record(run('a', 'p', 1));
    assert.equal(board.get('a', 'p')?.sinceMs, T0 + 10);
    board.record(run('a', 'p', 2, failed('timeout')));
    assert.deepEqual([board.get('a', 'p')?.sinceMs, board.get('a', 'p')?.sinceFirstRun], [T0 + 2010, undefined]);
    board.record(run('a', 'p', 3, failed('connect_refused')));
    assert.equal(board.get('a', 'p')?.sinceMs, T0 + 2010, 'still down');
    assert.equal(board.get('a', 'p')?.latest.reason, 'connect_refused');
    board.record(run('a', 'p', 4));
    assert.equal(board.get('a', 'p')?.sinceMs, T0 + 4010);
  });

  it('keeps a bounded timeline, the last failure, the last access report and fields it has no view for', () => {
    const board = new StatusBoard({ runs: 3 });
    board.record(run('a', 'p', 0, { ...failed('auth_rejected', 'refused'), access: ACCESS }));
    for (let i = 1; i <= 4; i++) board.record(run('a', 'p', i, { durationMs: i, future: { reused: true } } as unknown as Partial<RunRecord>));
    const p = board.get('a', 'p')!;
    assert.deepEqual(p.timeline, [[T0 + 2000, 2, 'up'], [T0 + 3000, 3, 'up'], [T0 + 4000, 4, 'up']]);
    assert.deepEqual(p.lastFailure, { startedAtMs: T0, durationMs: 10, result: 'failure', reason: 'auth_rejected', step: 'call', detail: 'refused' });
    assert.deepEqual([p.access, p.accessAtMs], [ACCESS, T0], 'the access report outlives runs that had none');
    assert.deepEqual(p.latest.extra, { future: { reused: true } });
    assert.equal('steps' in p.latest, false, 'steps come from /api/runs, on demand');
    assert.equal(new StatusBoard({ runs: 500 }).get('x', 'y'), undefined);
    const long = new StatusBoard({ runs: 500 });
    for (let i = 0; i < MAX_TIMELINE + 5; i++) long.record(run('a', 'p', i));
    assert.equal(long.get('a', 'p')?.timeline.length, MAX_TIMELINE);
  });

  it('answers in target then probe order; the validator changes with every run and forget', () => {
    const board = new StatusBoard({ runs: 5 });
    const empty = board.etag();
    for (const [t, p] of [['b', 'x'], ['a', 'z'], ['a', 'y']] as const) board.record(run(t, p, 0));
    const body = parse(board, T0 + 5);
    assert.equal(body.generatedAtMs, T0 + 5);
    assert.deepEqual(body.probes.map((p) => `${p.target}/${p.probe}`), ['a/y', 'a/z', 'b/x']);
    const before = board.etag();
    assert.notEqual(before, empty);
    assert.equal(board.snapshot().etag, before);
    board.forget('a', 'z');
    assert.notEqual(board.etag(), before);
    assert.deepEqual(parse(board).probes.map((p) => p.probe), ['y', 'x']);
    assert.deepEqual(parse(board).counts, { security: 0, down: 0, degraded: 0, up: 2 });
    board.forget('a', 'z');
    assert.notEqual(new StatusBoard({ runs: 5 }).etag(), empty, 'another process, another validator');
  });
});
