import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { AddressInfo } from 'node:net';
import { buildHttpServer } from '../src/http/server.js';
import type { HttpDeps } from '../src/http/server.js';
import { ProbeMetrics } from '../src/metrics/metrics.js';
import { RunHistory } from '../src/metrics/history.js';
import type { RunRecord } from '../src/core/outcome.js';
import { parseProm, value } from './helpers/prom-text.js';

const T0 = 1_700_000_000_000;

function run(target: string, probe: string, i: number, failed = false): RunRecord {
  return {
    target,
    probe,
    type: probe,
    startedAt: new Date(T0 + i).toISOString(),
    startedAtMs: T0 + i,
    durationMs: 10,
    result: failed ? 'failure' : 'success',
    reason: failed ? 'auth_rejected' : 'ok',
    steps: [],
  };
}

interface Setup {
  deps: HttpDeps;
  logs: Array<Record<string, unknown>>;
  ready: { ready: boolean; reason?: string };
}

function setup(): Setup {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const metrics = new ProbeMetrics({ version: '0.1.0', commit: 'test', collectDefault: false });
  const history = new RunHistory({ runs: 50, failures: 20 });
  const ready: Setup['ready'] = { ready: true };
  metrics.addProbe({ target: 'cam1', probe: 'connect' });
  for (let i = 0; i < 6; i++) {
    const r = run(i % 2 ? 'cam1' : 'cam2', i < 3 ? 'connect' : 'auth_flow', i, i === 4);
    history.add(r);
    metrics.addProbe({ target: r.target, probe: r.probe });
    metrics.recordRun(r);
  }
  return { deps: { metrics, history, isReady: () => ready, logger }, logs, ready };
}

describe('HTTP server', () => {
  test('GET / lists the routes as plain text', async () => {
    const app = buildHttpServer(setup().deps);
    const res = await app.inject('/');
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/plain/);
    for (const route of ['/metrics', '/healthz', '/readyz', '/api/runs']) assert.ok(res.body.includes(route), route);
    await app.close();
  });

  test('GET /metrics negotiates the format', async () => {
    const app = buildHttpServer(setup().deps);
    const prom = await app.inject('/metrics');
    assert.equal(prom.statusCode, 200);
    assert.equal(prom.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(prom.headers['cache-control'], 'no-store');
    const labels = { target: 'cam1', probe: 'connect', result: 'success', reason: 'ok' };
    assert.equal(value(parseProm(prom.body), 'camprobe_probe_runs_total', labels), 1);

    const om = await app.inject({
      url: '/metrics',
      headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' },
    });
    assert.equal(om.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.ok(om.body.endsWith('# EOF\n'));
    await app.close();
  });

  test('GET /healthz and /readyz in both states', async () => {
    const s = setup();
    const app = buildHttpServer(s.deps);
    const health = await app.inject('/healthz');
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { status: 'ok' });

    let ready = await app.inject('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready' });

    s.ready.ready = false;
    s.ready.reason = 'config not loaded';
    ready = await app.inject('/readyz');
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(ready.json(), { status: 'not_ready', reason: 'config not loaded' });
    await app.close();
  });

  test('GET /api/runs filters, limits, newest first', async () => {
    const app = buildHttpServer(setup().deps);
    const get = async (qs: string): Promise<RunRecord[]> => {
      const res = await app.inject(`/api/runs${qs}`);
      assert.equal(res.statusCode, 200, res.body);
      return (res.json() as { runs: RunRecord[] }).runs;
    };
    const at = (runs: RunRecord[]): number[] => runs.map((r) => r.startedAtMs - T0);

    assert.deepEqual(at(await get('')), [5, 4, 3, 2, 1, 0]);
    assert.deepEqual(at(await get('?target=cam1')), [5, 3, 1]);
    assert.deepEqual(at(await get('?target=cam2&probe=connect')), [2, 0]);
    assert.deepEqual(at(await get('?failed=1')), [4]);
    assert.deepEqual(at(await get('?failed=true&target=cam1')), []);
    assert.deepEqual(at(await get('?failed=0&limit=2')), [5, 4]);
    assert.deepEqual(at(await get('?limit=1&_=1699999999')), [5], 'unknown keys are ignored');
    await app.close();
  });

  test('GET /api/runs refuses invalid queries with 400 and a clear message', async () => {
    const s = setup();
    const app = buildHttpServer(s.deps);
    const cases: Array<[string, RegExp]> = [
      ['limit=0', /querystring\/limit must be >= 1/],
      ['limit=1001', /querystring\/limit must be <= 1000/],
      ['limit=ten', /querystring\/limit must be integer/],
      ['limit=2.5', /querystring\/limit must be integer/],
      ['failed=yes', /querystring\/failed must be equal to one of the allowed values/],
      [`target=${'x'.repeat(65)}`, /querystring\/target must NOT have more than 64 characters/],
    ];
    for (const [qs, message] of cases) {
      const res = await app.inject(`/api/runs?${qs}`);
      assert.equal(res.statusCode, 400, qs);
      const body = res.json() as { code: string; message: string };
      assert.equal(body.code, 'FST_ERR_VALIDATION', qs);
      assert.match(body.message, message);
    }
    assert.ok(!s.logs.some((l) => (l['level'] as number) >= 30), 'client errors are not logged at info');
    await app.close();
  });

  test('unknown route is 404; bodies over 16 KiB are refused', async () => {
    const app = buildHttpServer(setup().deps);
    assert.equal((await app.inject('/nope')).statusCode, 404);
    const post = (size: number) =>
      app.inject({ method: 'POST', url: '/metrics', headers: { 'content-type': 'application/json' }, payload: `"${'a'.repeat(size)}"` });
    assert.equal((await post(1024)).statusCode, 404);
    const big = await post(17 * 1024);
    assert.equal(big.statusCode, 413);
    assert.equal((big.json() as { code: string }).code, 'FST_ERR_CTP_BODY_TOO_LARGE');
    await app.close();
  });

  test('requests are logged at debug, errors at error, never with request headers', async () => {
    const s = setup();
    s.deps.isReady = () => {
      throw new Error('boom');
    };
    const app = buildHttpServer(s.deps);
    await app.inject({ url: '/metrics', headers: { authorization: 'Bearer s3cr3t-token' } });
    const res = await app.inject({ url: '/readyz', headers: { authorization: 'Bearer s3cr3t-token', cookie: 'sid=c00kie' } });
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'internal error' });

    const text = s.logs.map((l) => JSON.stringify(l)).join('\n');
    assert.doesNotMatch(text, /s3cr3t|c00kie|authorization/i);
    const requests = s.logs.filter((l) => l['msg'] === 'request');
    assert.deepEqual(requests.map((l) => [l['level'], l['url'], l['statusCode']]), [
      [20, '/metrics', 200],
      [20, '/readyz', 500],
    ]);
    const errors = s.logs.filter((l) => l['level'] === 50);
    assert.equal(errors.length, 1);
    assert.equal((errors[0]?.['err'] as { message: string }).message, 'boom');
    assert.ok(!s.logs.some((l) => l['level'] === 30), 'nothing at info');
    await app.close();
  });

  test('serves over a real socket and closes', async () => {
    const app = buildHttpServer(setup().deps);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^camprobe_probe_success\{target="cam1",probe="connect"\} 1$/m);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.deepEqual(await health.json(), { status: 'ok' });
    } finally {
      await app.close();
    }
  });
});
