/**
 * The fault matrix: one real daemon probes one real misbehaving server per case (the
 * simulator with a fault, a TLS proxy in front of it, or a closed port). For every case the
 * classification, the bound on the run's duration, the daemon still serving, no secret in
 * any output, and nothing left open afterwards.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startDaemon, type Daemon } from '../src/daemon.js';
import type { RunRecord } from '../src/core/outcome.js';
import { startSimulator, type Simulator, type SimulatorFaults, type SimulatorOptions } from '../src/simulator/simulator.js';
import { captureLogger, SECRET } from './helpers/harness.js';
import { parseProm, value } from './helpers/prom-text.js';
import { makeTestPki, type TestPki } from './helpers/tls.js';
import { closedPort } from './helpers/ws-server.js';

/** Canaries besides the signing secret (SECRET): an API key and camprobe's own HTTP token. */
const API_KEY = 'canary-apikey-5d1e8b2a9c7f4e36';
const HTTP_TOKEN = 'canary-http-token-2b8e6f1d4a9c7e53';
const TIMEOUT_MS = 1500;
/** How far past its timeout a run may end: closing sockets, recording. Generous for a loaded CI machine. */
const END_BOUND_MS = 750;

interface Case {
  name: string;
  probe: 'auth_flow' | 'camera_list' | 'protected_rejection';
  reason: string;
  /** Something the detail must say, so the classification is for the right cause. */
  detail?: RegExp;
  step?: string;
  /** The target's URL; may start servers (closed by `closers`). */
  url: () => Promise<string>;
  /** An extra YAML line for the target; a function when it needs the test PKI. */
  extra?: string | (() => string);
  credential?: string;
}

const closers: Array<() => Promise<void>> = [];
let pki: TestPki;

async function sim(faults: SimulatorFaults, opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const s = await startSimulator({ jwtSecret: SECRET, apiKeys: [{ key: API_KEY, role: 'viewer' }], faults, ...opts });
  closers.push(() => s.close());
  return s;
}
const simUrl = (faults: SimulatorFaults, opts: Partial<SimulatorOptions> = {}) => async () => (await sim(faults, opts)).url;

/** A TLS terminator in front of a healthy simulator: the certificate cases need a real TLS handshake. */
async function tlsProxy(options: tls.TlsOptions, host = 'camera.test'): Promise<string> {
  const upstream = await sim({});
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(options, (client) => {
    const up = net.connect(upstream.port, '127.0.0.1');
    sockets.add(client).add(up);
    client.on('close', () => sockets.delete(client));
    up.on('close', () => sockets.delete(up));
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
    client.pipe(up).pipe(client);
  });
  // A handshake the client abandons (untrusted certificate) is an error here, not a crash.
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return `wss://${host}:${(server.address() as net.AddressInfo).port}/ws`;
}

const CASES: Case[] = [
  { name: 'refused', probe: 'auth_flow', reason: 'connect_refused', step: 'connect', url: async () => `ws://127.0.0.1:${await closedPort()}/ws` },
  { name: 'no-dns', probe: 'auth_flow', reason: 'dns', step: 'dns', detail: /no-such-host\.invalid/, url: async () => 'ws://no-such-host.invalid:8002/ws' },
  {
    name: 'tls-untrusted',
    probe: 'auth_flow',
    reason: 'tls',
    step: 'tls',
    detail: /ca_file/,
    url: () => tlsProxy({ cert: pki.selfSignedCert, key: pki.selfSignedKey }),
  },
  {
    name: 'tls-other-host',
    probe: 'auth_flow',
    reason: 'tls',
    step: 'tls',
    detail: /other\.test/,
    url: () => tlsProxy({ cert: pki.serverCert, key: pki.serverKey }, 'other.test'),
    extra: () => `tls: { ca_file: ${pki.caFile} }`,
  },
  {
    name: 'mtls-no-client-cert',
    probe: 'auth_flow',
    reason: 'tls',
    detail: /client certificate/,
    url: () => tlsProxy({ cert: pki.serverCert, key: pki.serverKey, ca: pki.caPem, requestCert: true, rejectUnauthorized: true }),
    extra: () => `tls: { ca_file: ${pki.caFile} }`,
  },
  {
    name: 'mtls-ok',
    probe: 'camera_list',
    reason: 'ok',
    url: () => tlsProxy({ cert: pki.serverCert, key: pki.serverKey, ca: pki.caPem, requestCert: true, rejectUnauthorized: true }),
    extra: () => `tls: { ca_file: ${pki.caFile}, cert_file: ${pki.clientCertFile}, key_file: ${pki.clientKeyFile} }`,
  },
  {
    name: 'tls-verification-off',
    probe: 'camera_list',
    reason: 'ok',
    url: () => tlsProxy({ cert: pki.selfSignedCert, key: pki.selfSignedKey }),
    extra: 'tls: { insecure_skip_verify: true }',
  },
  { name: 'handshake-hangs', probe: 'auth_flow', reason: 'timeout', step: 'upgrade', url: simUrl({ hangUpgrade: true }) },
  { name: 'upgrade-401', probe: 'auth_flow', reason: 'upgrade_rejected', detail: /401/, url: simUrl({ upgradeStatus: 401 }) },
  { name: 'upgrade-404', probe: 'auth_flow', reason: 'upgrade_rejected', detail: /404/, url: simUrl({ upgradeStatus: 404 }) },
  { name: 'upgrade-503', probe: 'auth_flow', reason: 'upgrade_rejected', detail: /503/, url: simUrl({ upgradeStatus: 503 }) },
  { name: 'silent', probe: 'auth_flow', reason: 'timeout', step: 'authenticate', url: simUrl({ silent: true }) },
  { name: 'not-json', probe: 'auth_flow', reason: 'protocol_error', detail: /JSON/, url: simUrl({ notJson: true }) },
  { name: 'not-json-rpc', probe: 'auth_flow', reason: 'protocol_error', detail: /jsonrpc/, url: simUrl({ notJsonRpc: true }) },
  { name: 'other-id', probe: 'auth_flow', reason: 'protocol_error', url: simUrl({ wrongId: true }) },
  { name: 'duplicate', probe: 'camera_list', reason: 'protocol_error', detail: /twice/, url: simUrl({ duplicateResponse: true }) },
  { name: 'binary-frame', probe: 'auth_flow', reason: 'protocol_error', detail: /binary/, url: simUrl({ binaryFrame: true }) },
  { name: 'bad-error-shape', probe: 'auth_flow', reason: 'protocol_error', detail: /error/, url: simUrl({ badErrorShape: true }) },
  {
    name: 'oversize-frame',
    probe: 'auth_flow',
    reason: 'protocol_error',
    detail: /larger than/,
    url: simUrl({ oversizeFrameBytes: 200_000 }),
    extra: 'max_frame_bytes: 65536',
  },
  { name: 'closed-after-upgrade', probe: 'auth_flow', reason: 'closed', url: simUrl({ closeAfterUpgrade: 1006 }) },
  { name: 'closed-mid-call-1011', probe: 'auth_flow', reason: 'closed', detail: /1011/, url: simUrl({ closeOnRequest: 1011 }) },
  { name: 'wrong-path-1008', probe: 'auth_flow', reason: 'closed', detail: /1008/, url: async () => (await sim({})).url.replace(/\/ws$/, '/wrong') },
  { name: 'connection-limit-1013', probe: 'auth_flow', reason: 'closed', detail: /1013/, url: simUrl({}, { maxConnections: 0 }) },
  { name: 'trickle', probe: 'camera_list', reason: 'timeout', url: simUrl({ trickleMs: 300 }) },
  { name: 'notification-flood', probe: 'camera_list', reason: 'ok', url: simUrl({ notificationFlood: 2000 }) },
  { name: 'rate-limited', probe: 'auth_flow', reason: 'rate_limited', detail: /-32002/, url: simUrl({ rateLimited: true }) },
  { name: 'valid-refused', probe: 'auth_flow', reason: 'auth_rejected', url: simUrl({ refuseValidCredentials: true }) },
  {
    name: 'protected-exposed',
    probe: 'protected_rejection',
    reason: 'security_violation',
    detail: /^exposed: \d+ methods: .*get_camera_list to no credential, forged token per call, expired token per call and \d+ more \(a result\)/,
    url: simUrl({ exposeProtected: true }),
  },
  {
    // Least privilege: a viewer API key, no signing secret, against a healthy service.
    name: 'api-key-healthy',
    probe: 'protected_rejection',
    reason: 'ok',
    credential: 'apikey',
    url: simUrl({}),
  },
  {
    name: 'api-key-exposed',
    probe: 'protected_rejection',
    reason: 'security_violation',
    credential: 'apikey',
    // A static key cannot mint an expired token: that case is left out, the others run.
    detail: /^(?!.*expired).*get_camera_list to no credential, forged token per call, unsigned \(alg none\) token per call and \d+ more \(a result\)/,
    url: simUrl({ exposeProtected: true }),
  },
];

/** Names the daemon resolves: camera.test and other.test are loopback, *.invalid does not exist. */
async function resolver(host: string) {
  if (host.endsWith('.invalid')) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  if (host.endsWith('.test')) return [{ address: '127.0.0.1', family: 4 }];
  return lookup(host, { all: true });
}

function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

describe('fault matrix: one daemon against every way a target can misbehave', () => {
  let daemon: Daemon;
  let lines: string[];
  let resourcesBefore: Map<string, number>;
  const runs = new Map<string, RunRecord>();
  let allRan: Promise<void>;

  before(async () => {
    resourcesBefore = resourceCounts();
    pki = makeTestPki();
    const targets: string[] = [];
    for (const c of CASES) {
      const extra = typeof c.extra === 'function' ? c.extra() : c.extra;
      targets.push(
        `  - name: ${c.name}\n    url: ${await c.url()}\n    credential: ${c.credential ?? 'service'}\n` +
          (extra ? `    ${extra}\n` : '') +
          // The access matrix whole in every run (sweep = interval), so the first run judges it all.
          `    probes: [{ type: ${c.probe}${c.probe === 'protected_rejection' ? ', sweep: 1m' : ''} }]\n`,
      );
    }
    const dir = mkdtempSync(join(tmpdir(), 'camprobe-matrix-'));
    const configPath = join(dir, 'camprobe.yaml');
    writeFileSync(
      configPath,
      `server: { host: 127.0.0.1, port: 0, auth: { bearer_token: { env: CAMPROBE_HTTP_TOKEN } } }
log: { level: trace }
defaults: { interval: 1m, timeout: ${TIMEOUT_MS}ms }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
  apikey:
    token: { env: CAMERA_SERVICE_API_KEY }
    role: viewer
targets:
${targets.join('')}`,
    );
    const captured = captureLogger();
    captured.logger.level = 'trace';
    lines = captured.lines;
    daemon = await startDaemon({
      configPath,
      logger: captured.logger,
      env: { CAMERA_SERVICE_JWT_SECRET: SECRET, CAMERA_SERVICE_API_KEY: API_KEY, CAMPROBE_HTTP_TOKEN: HTTP_TOKEN },
      resolver,
    });
    allRan = new Promise((resolve) => {
      daemon.events.on('run', (run) => {
        if (!runs.has(run.target)) runs.set(run.target, run);
        if (runs.size === CASES.length) resolve();
      });
    });
  });

  after(async () => {
    await daemon?.stop();
    await Promise.all(closers.map((c) => c()));
  });

  it('every case ends with its classification, within its timeout plus a small bound', async () => {
    await allRan;
    const wrong: string[] = [];
    for (const c of CASES) {
      const run = runs.get(c.name)!;
      const got = `${run.reason}${run.step ? ` at ${run.step}` : ''}: ${run.detail ?? ''}`;
      if (run.reason !== c.reason) wrong.push(`${c.name}: want ${c.reason}, got ${got}`);
      else if (c.step && run.step !== c.step) wrong.push(`${c.name}: want step ${c.step}, got ${got}`);
      else if (c.detail && !c.detail.test(run.detail ?? '')) wrong.push(`${c.name}: detail should match ${c.detail}, got ${got}`);
      if (run.durationMs > TIMEOUT_MS + END_BOUND_MS) wrong.push(`${c.name}: took ${run.durationMs} ms`);
    }
    assert.deepEqual(wrong, []);
  });

  it('the daemon kept serving, and /metrics says the same as the runs', async () => {
    await allRan;
    const res = await fetch(`${daemon.address}/metrics`, { headers: { authorization: `Bearer ${HTTP_TOKEN}` } });
    assert.equal(res.status, 200);
    const samples = parseProm(await res.text());
    for (const c of CASES) {
      const labels = { target: c.name, probe: c.probe };
      assert.equal(value(samples, 'camprobe_probe_success', labels), c.reason === 'ok' ? 1 : 0, c.name);
      if (c.reason !== 'ok') {
        // At least the first run; the 1m schedule's first cron tick may already have come.
        assert.ok(value(samples, 'camprobe_probe_runs_total', { ...labels, result: 'failure', reason: c.reason })! >= 1, c.name);
      }
    }
    assert.equal((await fetch(`${daemon.address}/readyz`, { headers: { authorization: `Bearer ${HTTP_TOKEN}` } })).status, 200);
  });

  it('turning TLS verification off was logged as a warning at start', async () => {
    const warning = lines.map((l) => JSON.parse(l)).find((l) => l.target === 'tls-verification-off' && /verification is OFF/.test(l.msg));
    assert.equal(warning?.level, 40);
    assert.ok(!lines.some((l) => l.includes('verification is OFF') && !l.includes('tls-verification-off')), 'only for that target');
  });

  it('no secret appears in logs, /metrics, /api/runs, run details or refusals', async () => {
    await allRan;
    const auth = { authorization: `Bearer ${HTTP_TOKEN}` };
    const outputs: Record<string, string> = {
      log: lines.join(''),
      metrics: await (await fetch(`${daemon.address}/metrics`, { headers: auth })).text(),
      openmetrics: await (await fetch(`${daemon.address}/metrics`, { headers: { ...auth, accept: 'application/openmetrics-text' } })).text(),
      runs: await (await fetch(`${daemon.address}/api/runs?limit=1000`, { headers: auth })).text(),
      failures: await (await fetch(`${daemon.address}/api/runs?failed=1&limit=1000`, { headers: auth })).text(),
      refused: await (await fetch(`${daemon.address}/metrics`, { headers: { authorization: `Bearer ${HTTP_TOKEN.slice(0, -1)}` } })).text(),
      details: JSON.stringify([...runs.values()]),
    };
    // The log is at trace level: it must hold every run's outcome, or the grep proves little.
    assert.ok(CASES.every((c) => outputs.log!.includes(`"target":"${c.name}"`)), 'every target is in the log');
    for (const [where, text] of Object.entries(outputs)) {
      for (const secret of [SECRET, API_KEY, HTTP_TOKEN]) assert.ok(!text.includes(secret), `${where} leaks ${secret.slice(0, 12)}...`);
      // Minted tokens are secrets too: no JWT-shaped string anywhere.
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{8,}\./, where);
    }
  });

  it('after the daemon and the servers stop, no socket, timer or handle is left behind', async () => {
    await allRan;
    await daemon.stop();
    await Promise.all(closers.splice(0).map((c) => c()));
    // Closed sockets are released on the next turns of the event loop, not synchronously.
    const deadline = Date.now() + 5000;
    let leaked: string[] = [];
    do {
      await new Promise((r) => setImmediate(r));
      const now = resourceCounts();
      leaked = [...now].filter(([type, n]) => n > (resourcesBefore.get(type) ?? 0)).map(([type, n]) => `${type}: ${resourcesBefore.get(type) ?? 0} -> ${n}`);
    } while (leaked.length > 0 && Date.now() < deadline);
    assert.deepEqual(leaked, []);
  });
});

describe('crash and start-up output', () => {
  const CLI = join(process.cwd(), 'dist/src/cli.js');
  const env = { ...process.env, CAMERA_SERVICE_JWT_SECRET: SECRET };
  const write = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'camprobe-crash-')), 'camprobe.yaml');
    writeFileSync(path, text);
    return path;
  };

  it('a config that uses the secret in the wrong places is refused without printing it', () => {
    const path = write(`credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - name: "\${CAMERA_SERVICE_JWT_SECRET}"
    url: "\${CAMERA_SERVICE_JWT_SECRET}"
    probes: [{ type: "\${CAMERA_SERVICE_JWT_SECRET}" }]
`);
    const r = spawnSync(process.execPath, [CLI, 'run', '--config', path], { env, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /targets\[0\]\.name: contains the value of a secret/);
    assert.ok(!(r.stdout + r.stderr).includes(SECRET));
  });

  it('a start that fails at run time (port taken) exits 1 without printing the secret', async () => {
    const busy = net.createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    try {
      const port = (busy.address() as net.AddressInfo).port;
      const path = write(`server: { host: 127.0.0.1, port: ${port} }
log: { level: trace }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - { name: t, url: "ws://127.0.0.1:1/ws" }
`);
      const r = spawnSync(process.execPath, [CLI, 'run', '--config', path], { env, encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`port ${port} is already in use`));
      assert.ok(!(r.stdout + r.stderr).includes(SECRET));
    } finally {
      busy.close();
    }
  });
});
