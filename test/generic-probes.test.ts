/** rpc and http: probes configured without code, against the simulator and small local servers. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { parseConfig, ConfigError } from '../src/config/load.js';
import { BUILTIN_PROBES } from '../src/probes/registry.js';
import type { RunRecord } from '../src/core/outcome.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { configFor, runOnce, SECRET } from './helpers/harness.js';

function assertFailure(run: RunRecord, reason: string, detail: RegExp, step = 'call'): void {
  assert.equal(run.result, 'failure', `expected failure, got success`);
  assert.equal(run.reason, reason, `reason (detail: ${run.detail})`);
  assert.equal(run.step, step, `step (detail: ${run.detail})`);
  assert.match(run.detail!, detail);
}

function assertSuccess(run: RunRecord): void {
  assert.equal(run.result, 'success', `expected success, got ${run.reason}: ${run.detail ?? ''}`);
}

async function one(url: string, probe: string): Promise<RunRecord> {
  return runOnce(configFor(url, probe), /name: (\w+)/.exec(probe)?.[1] ?? /type: (\w+)/.exec(probe)![1]!);
}

function problemsOf(probe: string, credential = '    jwt_secret: { env: S }\n'): string[] {
  const text = `credentials:\n  service:\n${credential}targets:\n  - name: t\n    url: ws://127.0.0.1:1/ws\n    probes:\n${probe}`;
  try {
    parseConfig(text, { source: 'test', env: { S: 'x', T: 'y' }, probeTypes: BUILTIN_PROBES });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('rpc probe', () => {
  let sim: Simulator;
  // A fresh simulator per test: tests change its faults and cameras.
  beforeEach(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
  });
  afterEach(() => sim.close());

  const cameraList = `      - type: rpc
        method: get_camera_list
        result_schema:
          type: object
          required: [cameras, total]
          properties:
            cameras: { type: array, items: { type: object, required: [device, status] } }
            total: { type: integer }
        assertions:
          - { path: /cameras/0/status, equals: CONNECTED }
          - { path: /cameras/1/status, one_of: [CONNECTED, DISCONNECTED] }
          - { path: /total, min: 1, max: 8 }
          - { path: /cameras/2, exists: false }
`;

  it('a result that matches its schema and assertions passes, timing authenticate and the call', async () => {
    const run = await one(sim.url, cameraList);
    assertSuccess(run);
    assert.deepEqual(run.steps.map((s) => s.step), ['connect', 'upgrade', 'authenticate', 'call']);
  });

  it('a failed path assertion names the pointer, the value and what was expected', async () => {
    sim.setCameras([{ device: 'camera0', status: 'ERROR' }]);
    assertFailure(await one(sim.url, cameraList), 'invalid_result', /^get_camera_list result \/cameras\/0\/status is "ERROR", expected "CONNECTED"$/);
    sim.setCameras([]);
    assertFailure(await one(sim.url, cameraList), 'invalid_result', /^get_camera_list result \/cameras\/0\/status is missing, expected "CONNECTED"$/);
  });

  it('a result against result_schema: the detail names the JSON pointer', async () => {
    sim.setCameras([{ device: 'camera0', status: 'CONNECTED' }]);
    const probe = `      - type: rpc
        method: get_camera_list
        result_schema: { properties: { cameras: { items: { properties: { device: { pattern: "^/dev/video" } } } } } }
`;
    assertFailure(await one(sim.url, probe), 'invalid_result', /^get_camera_list result \/cameras\/0\/device: must match pattern "\^\/dev\/video" \(result_schema\)$/);
  });

  it('expect: error with codes, on a call with bad params', async () => {
    const ok = `      - type: rpc\n        method: get_camera_status\n        params: { device: nope }\n        expect: error\n        error_codes: [-32004]\n`;
    assertSuccess(await one(sim.url, ok));
    const wrong = `      - type: rpc\n        method: get_camera_status\n        params: { device: camera0 }\n        expect: error\n        error_codes: [-32004]\n`;
    assertFailure(await one(sim.url, wrong), 'invalid_result', /^get_camera_status: expected an error, answered with a result \(\{"device":"camera0"/);
    const other = `      - type: rpc\n        method: get_camera_status\n        expect: error\n        error_codes: [-32004]\n`;
    assertFailure(await one(sim.url, other), 'rpc_error', /^get_camera_status: expected error -32004, got -32602 Invalid params$/);
  });

  it('an error where a result was expected fails with the code; -32002 is rate_limited', async () => {
    assertFailure(await one(sim.url, `      - type: rpc\n        method: get_camera_status\n`), 'rpc_error', /^get_camera_status: error -32602 Invalid params$/);
    sim.setFaults({ rateLimited: true });
    assertFailure(await one(sim.url, `      - type: rpc\n        method: ping\n        auth: per_call\n`), 'rate_limited', /error -32002/);
  });

  it('credentials: a minted role per call, none, and forged must be refused; a result to them is a security violation', async () => {
    assertSuccess(await one(sim.url, `      - type: rpc\n        method: get_server_info\n        credential: admin\n        auth: per_call\n        assertions: [{ path: /name, exists: true }]\n`));
    const none = `      - type: rpc\n        method: get_server_info\n        credential: none\n        expect: error\n        error_codes: [-32001, -32003]\n`;
    const forged = `      - type: rpc\n        method: get_camera_list\n        credential: forged\n        expect: error\n`;
    assertSuccess(await one(sim.url, none));
    assertSuccess(await one(sim.url, forged));
    sim.setFaults({ exposeProtected: true });
    assertFailure(await one(sim.url, none), 'security_violation', /^get_server_info answered with a result \(.*\) to a call without credential$/);
    assertFailure(await one(sim.url, forged), 'security_violation', /^authenticate accepted a forged token$/, 'authenticate');
  });

  it('max_latency fails a slow answer as a timeout, naming the limit', async () => {
    sim.setFaults({ methodLatencyMs: { ping: 150 } });
    assertFailure(await one(sim.url, `      - type: rpc\n        method: ping\n        max_latency: 100ms\n`), 'timeout', /^ping answered in \d+ ms, over max_latency 100ms$/);
  });

  it('config: side effects, literal tokens, bad schemas and impossible credentials are refused at load, naming the field', () => {
    assert.deepEqual(problemsOf(`      - type: rpc\n        method: take_snapshot\n        params: { device: camera0, auth_token: abc }\n`), [
      'targets[0].probes[0].method: "take_snapshot" has side effects; choose a method that only reads, or set allow_side_effects: true',
      'targets[0].probes[0].params.auth_token: must not be set: credentials come from the credentials section (use credential: and auth: per_call)',
    ]);
    assert.deepEqual(problemsOf(`      - type: rpc\n        method: take_snapshot\n        allow_side_effects: true\n        credential: none\n        expect: error\n`), []);
    assert.deepEqual(problemsOf(`      - type: rpc\n        method: ping\n        result_schema: { type: nothing }\n        max_latency: soon\n`), [
      'targets[0].probes[0].result_schema: is not a valid JSON Schema: schema is invalid: data/type must be equal to one of the allowed values, data/type must be array, data/type must match a schema in anyOf',
      'targets[0].probes[0].max_latency: must be a duration like 500ms, 15s, 1m or 1h',
    ]);
    assert.deepEqual(problemsOf(`      - type: rpc\n        method: ping\n        credential: admin\n        expect: error\n        assertions: [{ path: /x, exists: true }]\n        error_codes: [-32001]\n`, '    token: { env: T }\n    role: viewer\n'), [
      'targets[0].probes[0].credential: admin needs the signing secret (jwt_secret); credential "service" is a static viewer token',
      'targets[0].probes[0].assertions: only apply with expect: result',
    ]);
    assert.deepEqual(problemsOf(`      - type: rpc\n        method: ping\n        assertions: [{ path: cameras, equals: 1 }, { path: /x }]\n`), [
      'targets[0].probes[0].assertions[0].path: must be a JSON pointer like /cameras/0/status (or "" for the whole answer)',
      'targets[0].probes[0].assertions[1]: must be { path: /json/pointer, and one or more of equals, one_of, exists, min, max }',
    ]);
  });
});

describe('http probe', () => {
  let sim: Simulator;
  const servers: Server[] = [];
  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
  });
  after(async () => {
    await sim.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  beforeEach(() => sim.setFaults({}));

  /** A local HTTP server on port 0; returns its base URL. */
  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('/health/ready on the target host: 200 passes, 503 fails with the status and the body', async () => {
    // The simulator serves health on its WebSocket port; the service's default is 8003.
    const probe = `      - type: http\n        port: ${sim.port}\n`;
    const run = await one(sim.url, probe);
    assertSuccess(run);
    assert.deepEqual(run.steps.map((s) => s.step), ['call']);
    sim.setFaults({ healthNotReady: true });
    assertFailure(await one(sim.url, probe), 'invalid_result', /^GET \/health\/ready: HTTP 503, expected 200 \(body: \{"status":"not_ready"\}\)$/);
  });

  it('/health/system with a body schema and path assertions', async () => {
    const probe = `      - type: http
        port: ${sim.port}
        path: /health/system
        body_schema: { type: object, required: [status, uptime], properties: { uptime: { type: number } } }
        assertions: [{ path: /status, equals: healthy }, { path: /connections, min: 0 }]
`;
    assertSuccess(await one(sim.url, probe));
    const wrong = `      - type: http\n        port: ${sim.port}\n        path: /health/system\n        assertions: [{ path: /status, one_of: [ok] }]\n`;
    assertFailure(await one(sim.url, wrong), 'invalid_result', /^GET \/health\/system body \/status is "healthy", expected one of \["ok"\]$/);
  });

  it('a body that is not JSON, one that is too large, and a refused connection', async () => {
    const base = await serve((req, res) => {
      if (req.url === '/big') res.end('x'.repeat(4096));
      else res.end('<html>ready</html>');
    });
    const html = `      - type: http\n        base_url: ${base}\n        assertions: [{ path: /status, equals: ready }]\n`;
    assertFailure(await one(sim.url, html), 'invalid_result', /^GET \/health\/ready: the body is not JSON \(body: <html>ready<\/html>\)$/);
    const big = `      - type: http\n        base_url: ${base}\n        path: /big\n        max_body_bytes: 1024\n`;
    assertFailure(await one(sim.url, big), 'protocol_error', /^GET \/big: body larger than max_body_bytes \(1024\)$/);

    const closed = await serve(() => undefined);
    const port = Number(new URL(closed).port);
    const last = servers.pop()!;
    await new Promise((r) => last.close(r));
    assertFailure(await one(sim.url, `      - type: http\n        port: ${port}\n`), 'connect_refused', /ECONNREFUSED/);
  });

  it('a server that never answers: the run times out and the socket is closed', async () => {
    const base = await serve(() => undefined);
    const server = servers.at(-1)!;
    const socketClosed = new Promise<void>((resolve) => server.once('connection', (s) => s.once('close', () => resolve())));
    const run = await one(sim.url, `      - type: http\n        base_url: ${base}\n        timeout: 300ms\n`);
    assertFailure(run, 'timeout', /no result within the 300 ms timeout/);
    await socketClosed;
  });

  it('https for a wss:// target: the target\'s ca_file is trusted; an unknown CA is a tls failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'camprobe-http-tls-'));
    const gen = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    assert.equal(gen.status, 0, String(gen.stderr));
    const server = createHttpsServer({ cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }, (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"status":"ready"}');
    });
    servers.push(server as unknown as Server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const httpsPort = (server.address() as AddressInfo).port;
    const wss = `wss://127.0.0.1:${httpsPort}/ws`;
    const probe = `      - type: http\n        port: ${httpsPort}\n        assertions: [{ path: /status, equals: ready }]\n`;
    assertSuccess(await one(wss, `${probe}    tls: { ca_file: ${join(dir, 'cert.pem')} }\n`));
    assertFailure(await one(wss, probe), 'tls', /^TLS handshake failed: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE): .* \(trust the issuing CA with tls\.ca_file\)$/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('config: base_url and port together, a base_url with a path, a bad status', () => {
    assert.deepEqual(problemsOf(`      - type: http\n        base_url: http://h:8003/x\n        port: 8003\n        status: [99]\n`), [
      'targets[0].probes[0].status[0]: must be an integer from 100 to 599',
    ]);
    assert.deepEqual(problemsOf(`      - type: http\n        base_url: http://h:8003/x?y\n        port: 8003\n`), [
      'targets[0].probes[0].base_url: must be scheme, host and port only (the path goes in path:)',
      'targets[0].probes[0].port: set either base_url or port, not both',
    ]);
  });
});

describe('one network-error classifier for every probe type', () => {
  it('a connection the service resets is `closed` for the http probe and for the rpc probe alike', async (t) => {
    // Accepts, reads the request, then resets the TCP connection (RST, ECONNRESET at the client).
    const server = createNetServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => new Promise((r) => server.close(r)));
    const port = (server.address() as AddressInfo).port;
    const http = await one(`ws://127.0.0.1:${port}/ws`, `      - type: http\n        port: ${port}\n`);
    const rpc = await one(`ws://127.0.0.1:${port}/ws`, `      - type: rpc\n        method: ping\n`);
    assert.equal(http.reason, 'closed', http.detail);
    assert.equal(rpc.reason, 'closed', rpc.detail);
    assert.equal(http.detail, 'connection closed by the service (ECONNRESET)');
    assert.equal(rpc.detail, http.detail);
  });
});
