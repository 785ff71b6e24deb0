/**
 * The status page's server side: the board's states, since-times, timelines and JSON
 * (fed runs directly), and its routes (Fastify inject): content negotiation at `/`, the
 * files with their security headers, `/api/status` with its validator. The page in a
 * browser is test/status-page.test.ts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { AccessReport, RunRecord } from '../src/core/outcome.js';
import { buildHttpServer } from '../src/http/server.js';
import { RunHistory } from '../src/metrics/history.js';
import { ProbeMetrics } from '../src/metrics/metrics.js';
import { MAX_TIMELINE, StatusBoard, type StatusResponse } from '../src/status/board.js';
import { CONTENT_SECURITY_POLICY } from '../src/status/routes.js';

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
    // The JSON answered is made bar by bar: it must still say what the entry holds.
    assert.deepEqual(parse(board, T0).probes, [JSON.parse(JSON.stringify(p))]);
    assert.deepEqual(parse(long, T0).probes, [JSON.parse(JSON.stringify(long.get('a', 'p')))]);
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

describe('status routes', () => {
  function app() {
    const status = new StatusBoard({ runs: 5 });
    const deps = {
      metrics: new ProbeMetrics({ version: 't', commit: 't', collectDefault: false }),
      history: new RunHistory({ runs: 5, failures: 5 }),
      isReady: () => ({ ready: true }),
      logger: pino({ level: 'silent' }),
      status,
    };
    return { http: buildHttpServer(deps), status };
  }

  it('GET / is the page for a browser, with a strict CSP, and the route list for anyone else', async () => {
    const { http } = app();
    const page = await http.inject({ url: '/', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'self'; script-src 'self'; style-src 'self'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['vary'], 'accept');
    assert.match(page.body, /<script type="module" src="status\/app.js"><\/script>/);
    const text = await http.inject('/');
    assert.match(text.headers['content-type'] as string, /^text\/plain/);
    assert.match(text.body, /GET \/api\/status/);
    await http.close();
  });

  it('serves the page files it has and nothing else; a validator saves the transfer', async () => {
    const { http } = app();
    for (const [file, type] of [['app.js', 'text/javascript'], ['row.js', 'text/javascript'], ['status.css', 'text/css'], ['icon.svg', 'image/svg+xml']] as const) {
      const res = await http.inject(`/status/${file}`);
      assert.equal(res.statusCode, 200, file);
      assert.ok(String(res.headers['content-type']).startsWith(type), `${file}: ${res.headers['content-type']}`);
      const again = await http.inject({ url: `/status/${file}`, headers: { 'if-none-match': res.headers['etag'] as string } });
      assert.equal(again.statusCode, 304, file);
    }
    for (const file of ['index.html', 'nope.js', 'app.js.map', '..%2Fboard.js', 'tsconfig.json']) assert.equal((await http.inject(`/status/${file}`)).statusCode, 404, file);
    await http.close();
  });

  it('GET /api/status: the board as JSON, 304 while nothing changed', async () => {
    const { http, status } = app();
    status.record(run('cam', 'auth_flow', 0, failed('security_violation', '<b>exposed</b>')));
    const res = await http.inject('/api/status');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-cache');
    const body = res.json() as StatusResponse;
    assert.equal(body.probes[0]?.latest.detail, '<b>exposed</b>', 'text from the service, left for the page to show as text');
    const etag = res.headers['etag'] as string;
    assert.equal((await http.inject({ url: '/api/status', headers: { 'if-none-match': etag } })).statusCode, 304);
    status.record(run('cam', 'auth_flow', 1));
    const changed = await http.inject({ url: '/api/status', headers: { 'if-none-match': etag } });
    assert.equal(changed.statusCode, 200);
    assert.equal((changed.json() as StatusResponse).counts.up, 1);
    await http.close();
  });
});

describe('the page itself', () => {
  const staticDir = join(process.cwd(), 'src/status/static');
  const clientDir = join(process.cwd(), 'src/status/client');

  it('has no inline script or style for the CSP to refuse, and loads nothing from another origin', () => {
    const html = readFileSync(join(staticDir, 'index.html'), 'utf8');
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=|javascript:/i);
    for (const [, attrs] of html.matchAll(/<script([^>]*)>/g)) assert.match(attrs ?? '', /\ssrc="status\/[a-z-]+\.js"/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
    assert.doesNotMatch(readFileSync(join(staticDir, 'status.css'), 'utf8'), /@import|url\(/);
  });

  it('never turns data into markup: no innerHTML, outerHTML, insertAdjacentHTML, document.write or eval in its script', () => {
    for (const file of readdirSync(clientDir).filter((f) => f.endsWith('.ts'))) {
      const code = readFileSync(join(clientDir, file), 'utf8');
      assert.doesNotMatch(code, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\('style'|setAttribute\('on/, file);
    }
  });
});
