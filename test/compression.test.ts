/**
 * gzip on `/metrics` and `/api/status`: Accept-Encoding negotiation (q=0, identity, `*`),
 * that a gzipped answer decompresses to exactly the plain one (a scrape of several chunks,
 * both text formats), and that a scraper leaving mid-answer does not hurt the next one.
 * Real servers on port 0, read with node:http (fetch would decompress out of sight).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, before, after } from 'node:test';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import type { RunRecord } from '../src/core/outcome.js';
import { acceptsGzip, ChunkStream } from '../src/http/compression.js';
import { buildHttpServer } from '../src/http/server.js';
import { RunHistory } from '../src/metrics/history.js';
import { ProbeMetrics } from '../src/metrics/metrics.js';
import { CHUNK_BYTES } from '../src/metrics/text-writer.js';
import { StatusBoard } from '../src/status/board.js';

const T0 = 1_700_000_000_000;

function run(target: string, probe: string, i: number): RunRecord {
  return {
    target,
    probe,
    type: probe,
    startedAt: new Date(T0 + i).toISOString(),
    startedAtMs: T0 + i,
    durationMs: 3.7 + (i % 11) / 3,
    result: i % 9 === 0 ? 'failure' : 'success',
    reason: i % 9 === 0 ? 'timeout' : 'ok',
    steps: ['connect', 'upgrade', 'authenticate', 'call'].map((step, k) => ({ step: step as 'call', startMs: k, durationMs: 0.3 + k / 7, ok: true })),
  };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** As it came over the wire. */
  raw: Buffer;
  /** Decompressed when it came gzipped. */
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = (res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Accept-Encoding', () => {
  it('gzip when gzip (or x-gzip, or *) has a q above 0, never for identity or q=0', () => {
    for (const yes of ['gzip', 'GZIP', 'gzip, deflate, br', 'br;q=1.0, gzip;q=0.5', 'x-gzip', '*', 'identity, *;q=0.1', 'gzip;q=0.001']) assert.equal(acceptsGzip(yes), true, yes);
    for (const no of [undefined, '', 'identity', 'gzip;q=0', 'gzip;q=0.0, identity', 'br, deflate', '*;q=0', 'gzip;q=0, *', 'gzip;q=nonsense']) assert.equal(acceptsGzip(no), false, String(no));
    assert.equal(acceptsGzip(['deflate', 'gzip']), true, 'repeated headers count together');
  });
});

describe('ChunkStream', () => {
  it('answers every chunk handed over before the consumer catches up, not only the last', { timeout: 10_000 }, async () => {
    // A writer can hand over a chunk filled mid-item and then the end before it awaits
    // either answer; a scrape of 1,000 targets through gzip hung on exactly that.
    const body = new ChunkStream();
    const big = Buffer.alloc(3 * CHUNK_BYTES, 97);
    const answers = [body.sink(big), body.sink(big), body.sink(big)];
    assert.ok(answers.every((a) => a instanceof Promise), 'past the high-water mark, every chunk waits');
    let read = 0;
    body.on('data', (d: Buffer) => (read += d.length));
    await Promise.all(answers);
    body.finish();
    await new Promise((resolve) => body.once('end', resolve));
    assert.equal(read, 3 * big.length);
  });
});

describe('gzip over a real socket', () => {
  let app: FastifyInstance;
  let port: number;
  const metrics = new ProbeMetrics({ version: '0.1.0', commit: 'test', collectDefault: false });
  const board = new StatusBoard({ runs: 5 });

  before(async () => {
    // Enough probes that a scrape spans several chunks of the writer.
    for (let t = 0; t < 180; t++) {
      for (const probe of ['auth_flow', 'camera_list', 'protected_rejection']) {
        metrics.addProbe({ target: `cam-${t}`, probe, type: probe });
        for (let i = 0; i < 3; i++) {
          const r = run(`cam-${t}`, probe, t * 3 + i);
          metrics.recordRun(r);
          board.record(r);
        }
      }
    }
    app = buildHttpServer({ metrics, history: new RunHistory({ runs: 5, failures: 5 }), isReady: () => ({ ready: true }), logger: pino({ level: 'silent' }), status: board });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });

  after(() => app.close());

  it('/metrics: gzipped when asked, and it decompresses to exactly the plain answer', async () => {
    const plain = await get(port, '/metrics');
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers['vary'], 'accept-encoding');
    assert.ok(plain.raw.length > 2 * CHUNK_BYTES, `a scrape of several chunks (${plain.raw.length} bytes)`);
    assert.equal(plain.body, (await metrics.render()).body, 'the stream carries what render() gives');

    const gz = await get(port, '/metrics', { 'accept-encoding': 'gzip, deflate' });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['vary'], 'accept-encoding');
    assert.equal(gz.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(gz.headers['cache-control'], 'no-store');
    assert.ok(gz.raw.length < plain.raw.length / 10, `compressed: ${gz.raw.length} of ${plain.raw.length} bytes`);
    assert.equal(gz.body, plain.body);
  });

  it('/metrics: plain for identity, no header, gzip;q=0', async () => {
    for (const headers of [{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': 'gzip;q=0' }, { 'accept-encoding': 'gzip;q=0, identity;q=1' }]) {
      const res = await get(port, '/metrics', headers);
      assert.equal(res.headers['content-encoding'], undefined, JSON.stringify(headers));
      assert.match(res.body, /^# HELP camprobe_probe_success /, JSON.stringify(headers));
    }
  });

  it('/metrics: OpenMetrics and gzip together', async () => {
    const accept = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const plain = await get(port, '/metrics', { accept });
    const gz = await get(port, '/metrics', { accept, 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(gz.body.endsWith('# EOF\n'));
    assert.match(gz.body, /^# TYPE camprobe_probe_runs counter$/m, 'the OpenMetrics family name');
    assert.equal(gz.body, plain.body);
  });

  it('/metrics: a scraper that leaves mid-answer does not hurt the next scrape', async () => {
    for (const encoding of ['gzip', 'identity']) {
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/metrics', headers: { 'accept-encoding': encoding } }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
        req.end();
      });
    }
    const next = await get(port, '/metrics', { 'accept-encoding': 'gzip' });
    assert.equal(next.status, 200);
    assert.equal(next.body, (await metrics.render()).body);
  });

  it('/api/status: gzipped when asked, same JSON, same weak validator, 304 either way', async () => {
    const plain = await get(port, '/api/status');
    const gz = await get(port, '/api/status', { 'accept-encoding': 'gzip' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['vary'], 'accept-encoding');
    assert.equal(gz.headers['content-type'], 'application/json; charset=utf-8');
    const { generatedAtMs: _a, ...a } = JSON.parse(plain.body) as Record<string, unknown>;
    const { generatedAtMs: _b, ...b } = JSON.parse(gz.body) as Record<string, unknown>;
    assert.deepEqual(b, a);
    assert.equal(gz.headers['etag'], plain.headers['etag']);
    assert.match(String(gz.headers['etag']), /^W\//);
    const cached = await get(port, '/api/status', { 'accept-encoding': 'gzip', 'if-none-match': String(gz.headers['etag']) });
    assert.equal(cached.status, 304);
    assert.equal(cached.raw.length, 0);
    const identity = await get(port, '/api/status', { 'accept-encoding': 'gzip;q=0' });
    assert.equal(identity.headers['content-encoding'], undefined);
  });
});
