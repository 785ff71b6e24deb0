import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectRpc, type ConnectOptions, type RpcConnection } from '../src/rpc/client.js';
import { ProbeError } from '../src/core/outcome.js';
import { closedPort, respondWith, startWsServer, type TestServer } from './helpers/ws-server.js';

function options(url: string, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return { url, signal: new AbortController().signal, maxFrameBytes: 64 * 1024, closeTimeoutMs: 500, ...extra };
}

async function rejectsWith(promise: Promise<unknown>, reason: string, pattern?: RegExp): Promise<ProbeError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ProbeError, `expected a ProbeError, got ${String(err)}`);
    assert.equal(err.reason, reason, `reason of: ${err.message}`);
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected a ${reason} failure`);
}

describe('rpc client against a well-behaved server', () => {
  let server: TestServer;
  before(async () => {
    server = await startWsServer(
      respondWith((msg, ws) => {
        // Notifications interleaved before every response, and responses out of order for slow_*.
        ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'camera_status_update', params: { device: 'camera0', status: 'CONNECTED' } }));
        if (msg.method === 'echo') return { jsonrpc: '2.0', id: msg.id, result: msg.params ?? null };
        if (msg.method === 'slow') {
          setTimeout(() => ws.send(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: 'slow' })), 30);
          return undefined;
        }
        if (msg.method === 'fail') return { jsonrpc: '2.0', id: msg.id, error: { code: -32004, message: 'Camera not found', data: { device: 'x' } } };
        return { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } };
      }),
    );
  });
  after(() => server.close());

  it('matches responses by id, with notifications interleaved and responses out of order', async () => {
    const conn = await connectRpc(options(server.url));
    const seen: string[] = [];
    conn.onNotification((n) => seen.push(n.method));
    const [slow, fast] = await Promise.all([conn.call('slow'), conn.call('echo', { a: 1 })]);
    assert.equal(slow, 'slow');
    assert.deepEqual(fast, { a: 1 });
    assert.equal(conn.stats.notifications, 2);
    assert.deepEqual(seen, ['camera_status_update', 'camera_status_update']);
    await conn.close();
  });

  it('returns error responses as values from request() and throws classified errors from call()', async () => {
    const conn = await connectRpc(options(server.url));
    const r = await conn.request('fail');
    assert.deepEqual(r, { ok: false, error: { code: -32004, message: 'Camera not found', data: { device: 'x' } } });
    await rejectsWith(conn.call('nope'), 'rpc_error', /-32601/);
    await conn.close();
  });

  it('reports the dns, connect and upgrade phases in order', async () => {
    const phases: string[] = [];
    const conn = await connectRpc(
      options(server.url.replace('127.0.0.1', 'camera.test'), {
        resolver: async () => [{ address: '127.0.0.1', family: 4 }],
        onPhase: (phase, _start, duration, ok) => {
          assert.ok(duration >= 0);
          assert.equal(ok, true);
          phases.push(phase);
        },
      }),
    );
    assert.deepEqual(phases, ['dns', 'connect', 'upgrade']);
    await conn.close();
  });

  it('closes with a close handshake, and close() is idempotent', async () => {
    const closed = server.nextClose();
    const conn = await connectRpc(options(server.url));
    await Promise.all([conn.close(), conn.close()]);
    assert.equal((await closed).code, 1000);
    await rejectsWith(conn.call('echo'), 'closed');
  });

  it('aborting the signal fails pending calls and drops the socket', async () => {
    const ac = new AbortController();
    const conn = await connectRpc(options(server.url, { signal: ac.signal }));
    const closed = server.nextClose();
    const pending = conn.request('slow');
    ac.abort(new ProbeError('timeout', 'deadline'));
    await rejectsWith(pending, 'timeout');
    await closed;
    await conn.close();
  });
});

describe('rpc client classifies a misbehaving server', () => {
  const cases: Array<{ name: string; reply: (msg: Record<string, any>, ws: import('ws').WebSocket) => unknown; reason: string; pattern: RegExp }> = [
    { name: 'not JSON', reply: () => 'this is not json', reason: 'protocol_error', pattern: /not valid JSON/ },
    { name: 'JSON but not JSON-RPC 2.0', reply: (m) => ({ id: m.id, result: 1 }), reason: 'protocol_error', pattern: /jsonrpc/ },
    { name: 'a response with another id', reply: (m) => ({ jsonrpc: '2.0', id: m.id + 100, result: 1 }), reason: 'protocol_error', pattern: /did not send/ },
    { name: 'both result and error', reply: (m) => ({ jsonrpc: '2.0', id: m.id, result: 1, error: { code: 1, message: 'x' } }), reason: 'protocol_error', pattern: /exactly one/ },
    { name: 'an error object of the wrong shape', reply: (m) => ({ jsonrpc: '2.0', id: m.id, error: 'boom' }), reason: 'protocol_error', pattern: /error object/ },
    {
      name: 'a binary frame',
      reply: (m, ws) => {
        ws.send(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: 1 })), { binary: true });
        return undefined;
      },
      reason: 'protocol_error',
      pattern: /binary/,
    },
    {
      name: 'a frame over the maximum',
      reply: (m) => ({ jsonrpc: '2.0', id: m.id, result: 'x'.repeat(70 * 1024) }),
      reason: 'protocol_error',
      pattern: /larger than/,
    },
    {
      name: 'a close in the middle of a call (1011)',
      reply: (_m, ws) => {
        ws.close(1011, 'internal error');
        return undefined;
      },
      reason: 'closed',
      pattern: /1011/,
    },
    { name: 'rate limiting', reply: (m) => ({ jsonrpc: '2.0', id: m.id, error: { code: -32002, message: 'Rate limit exceeded' } }), reason: 'rate_limited', pattern: /-32002/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const server = await startWsServer(respondWith(c.reply));
      try {
        const conn = await connectRpc(options(server.url));
        await rejectsWith(conn.call('ping'), c.reason, c.pattern);
        await conn.close();
      } finally {
        await server.close();
      }
    });
  }

  it('counts a duplicate response without failing the call', async () => {
    const server = await startWsServer(
      respondWith((m, ws) => {
        const r = JSON.stringify({ jsonrpc: '2.0', id: m.id, result: 'pong' });
        ws.send(r);
        ws.send(r);
        return undefined;
      }),
    );
    try {
      const conn: RpcConnection = await connectRpc(options(server.url));
      assert.equal(await conn.call('ping'), 'pong');
      // The duplicate may still be in flight; a second call proves the connection is still usable after it.
      const again = conn.call('ping');
      assert.equal(await again, 'pong');
      assert.ok(conn.stats.duplicates >= 1);
      await conn.close();
    } finally {
      await server.close();
    }
  });

  it('connection refused', async () => {
    const port = await closedPort();
    const err = await rejectsWith(connectRpc(options(`ws://127.0.0.1:${port}/ws`)), 'connect_refused');
    assert.equal(err.step, 'connect');
  });

  it('a host name that does not resolve', async () => {
    const resolver = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    const err = await rejectsWith(connectRpc(options('ws://no-such-host.invalid:8002/ws', { resolver })), 'dns', /no-such-host/);
    assert.equal(err.step, 'dns');
  });

  for (const status of [401, 404, 503]) {
    it(`upgrade refused with ${status}`, async () => {
      const server = await startWsServer(() => undefined, {
        onUpgrade: (_req, socket) => {
          socket.end(`HTTP/1.1 ${status} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
          return false;
        },
      });
      try {
        const err = await rejectsWith(connectRpc(options(server.url)), 'upgrade_rejected', new RegExp(String(status)));
        assert.equal(err.step, 'upgrade');
      } finally {
        await server.close();
      }
    });
  }

  it('a handshake that hangs ends at the deadline, with no socket left open', async () => {
    // The server reads the upgrade request and never answers it.
    let requested!: () => void;
    let clientGone!: () => void;
    const upgradeRequested = new Promise<void>((r) => (requested = r));
    const clientClosed = new Promise<void>((r) => (clientGone = r));
    const server = await startWsServer(() => undefined, {
      onUpgrade: (_req, socket) => {
        socket.resume();
        socket.once('end', clientGone);
        socket.once('error', clientGone);
        requested();
        return false;
      },
    });
    try {
      const ac = new AbortController();
      const attempt = connectRpc(options(server.url, { signal: ac.signal }));
      await upgradeRequested;
      ac.abort(new ProbeError('timeout', 'deadline'));
      const err = await rejectsWith(attempt, 'timeout');
      assert.equal(err.step, 'upgrade');
      // The client hung up its side; the server's half stays as long as the server wants.
      await clientClosed;
    } finally {
      await server.close();
    }
  });

  it('closed right after the upgrade (1013, connection limit)', async () => {
    const server = await startWsServer((ws) => ws.close(1013, 'too many connections'));
    try {
      const conn = await connectRpc(options(server.url)).catch((e: unknown) => e);
      // The close may beat or follow the open: either way it is classified `closed` with the code.
      if (conn instanceof ProbeError) {
        assert.equal(conn.reason, 'closed');
      } else {
        await rejectsWith((conn as RpcConnection).call('ping'), 'closed', /1013/);
        await (conn as RpcConnection).close();
      }
    } finally {
      await server.close();
    }
  });
});

describe('rpc client over wss://', () => {
  let dir: string;
  let server: import('node:https').Server;
  let url: string;
  let cert: Buffer;
  const resolver = async () => [{ address: '127.0.0.1', family: 4 }];

  before(async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { spawnSync } = await import('node:child_process');
    const https = await import('node:https');
    const { WebSocketServer } = await import('ws');
    dir = mkdtempSync(join(tmpdir(), 'camprobe-tls-'));
    const gen = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=camera.test', '-addext', 'subjectAltName=DNS:camera.test',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    assert.equal(gen.status, 0, String(gen.stderr));
    cert = readFileSync(join(dir, 'cert.pem'));
    server = https.createServer({ cert, key: readFileSync(join(dir, 'key.pem')) });
    const wss = new WebSocketServer({ server });
    wss.on('connection', respondWith((m) => ({ jsonrpc: '2.0', id: m.id, result: 'pong' })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `wss://camera.test:${(server.address() as import('node:net').AddressInfo).port}/ws`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('with the CA trusted: the TLS phase is timed between connect and upgrade', async () => {
    const phases: string[] = [];
    const conn = await connectRpc(
      options(url, { resolver, tls: { ca: cert, rejectUnauthorized: true }, onPhase: (p) => phases.push(p) }),
    );
    assert.deepEqual(phases, ['dns', 'connect', 'tls', 'upgrade']);
    assert.equal(await conn.call('ping'), 'pong');
    await conn.close();
  });

  it('an untrusted certificate: tls', async () => {
    const err = await rejectsWith(connectRpc(options(url, { resolver, tls: { rejectUnauthorized: true } })), 'tls', /SELF_SIGNED|UNABLE/);
    assert.equal(err.step, 'tls');
  });

  it('a certificate for another host name: tls', async () => {
    const other = url.replace('camera.test', 'other.test');
    const err = await rejectsWith(connectRpc(options(other, { resolver, tls: { ca: cert, rejectUnauthorized: true } })), 'tls', /ALTNAME/);
    assert.equal(err.step, 'tls');
  });
});
