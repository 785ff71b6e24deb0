import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { startDaemon, type Daemon } from '../src/daemon.js';
import { BUILTIN_PROBES } from '../src/probes/registry.js';
import { captureLogger, SECRET } from './helpers/harness.js';
import { closedPort } from './helpers/ws-server.js';

const TOKEN = 'canary-scrape-token-8c2f5a1e9d3b7064';
const PASSWORD = 'canary-basic-password-4e7a1c9f2b5d8e60';
const ROUTES = ['/metrics', '/readyz', '/api/runs', '/api/status', '/', '/status/app.js', '/no-such-page'];

async function daemonWith(serverYaml: string, env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-auth-'));
  const path = join(dir, 'camprobe.yaml');
  writeFileSync(
    path,
    `server: { host: 127.0.0.1, port: 0, ${serverYaml} }
log: { level: debug }
defaults: { interval: 1m }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - name: nowhere
    url: ws://127.0.0.1:${await closedPort()}/ws
    probes: [{ type: auth_flow }]
`,
  );
  const captured = captureLogger();
  const daemon = await startDaemon({ configPath: path, logger: captured.logger, env: { CAMERA_SERVICE_JWT_SECRET: SECRET, ...env } });
  return { daemon, lines: captured.lines };
}

describe('camprobe HTTP endpoints behind a bearer token', () => {
  let daemon: Daemon;
  let lines: string[];
  before(async () => {
    ({ daemon, lines } = await daemonWith('auth: { bearer_token: { env: CAMPROBE_HTTP_TOKEN } }, request_timeout: 300ms', {
      CAMPROBE_HTTP_TOKEN: TOKEN,
    }));
  });
  after(() => daemon.stop());

  it('refuses every route but /healthz without the token, with a Bearer challenge', async () => {
    assert.equal((await fetch(`${daemon.address}/healthz`)).status, 200);
    for (const route of ROUTES) {
      for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `Basic ${TOKEN}`, 'Bearer ', TOKEN]) {
        const res = await fetch(`${daemon.address}${route}`, { headers: authorization === undefined ? {} : { authorization } });
        const body = await res.text();
        assert.equal(res.status, 401, `${route} with ${String(authorization)}`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="camprobe"');
        assert.ok(!body.includes(TOKEN.slice(8)), 'the refusal does not echo the token');
      }
    }
  });

  it('serves with the token (the scheme is case-insensitive)', async () => {
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await fetch(`${daemon.address}/metrics`, { headers: { authorization: `${scheme} ${TOKEN}` } });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /camprobe_build_info/);
    }
    assert.equal((await fetch(`${daemon.address}/no-such-page`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);
    assert.ok(!lines.join('').includes(TOKEN), 'the token is never logged');
  });

  it('a request that trickles in slower than request_timeout is cut off', async () => {
    const { port } = new URL(daemon.address);
    const socket = net.connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /metrics HTTP/1.1\r\nHost: camprobe\r\n');
    let received = '';
    socket.on('data', (d) => (received += String(d)));
    // Nothing more is sent: the server must close the connection on its own.
    await once(socket, 'close');
    assert.doesNotMatch(received, /200 OK/);
  });

  it('headers larger than the limit are refused before any route runs', async () => {
    const res = await fetch(`${daemon.address}/metrics`, { headers: { authorization: `Bearer ${TOKEN}`, 'x-padding': 'x'.repeat(20_000) } });
    assert.equal(res.status, 431);
  });
});

describe('camprobe HTTP endpoints behind basic auth, password from a file', () => {
  let daemon: Daemon;
  let passwordFile: string;
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  before(async () => {
    passwordFile = join(mkdtempSync(join(tmpdir(), 'camprobe-pw-')), 'password');
    writeFileSync(passwordFile, `${PASSWORD}\n`);
    ({ daemon } = await daemonWith(`auth: { basic: { username: prometheus, password: { file: ${passwordFile} } } }`, {}));
  });
  after(() => daemon.stop());

  it('accepts the right user and password only, and reads a rotated password file without a reload', async () => {
    const get = (authorization: string) => fetch(`${daemon.address}/metrics`, { headers: { authorization } });
    assert.equal((await get(basic('prometheus', PASSWORD))).status, 200);
    assert.equal((await get(basic('prometheus', `${PASSWORD}x`))).status, 401);
    assert.equal((await get(basic('grafana', PASSWORD))).status, 401);
    const refused = await get(basic('prometheus', 'wrong'));
    assert.equal(refused.headers.get('www-authenticate'), 'Basic realm="camprobe", charset="UTF-8"');

    const rotated = `${PASSWORD}-rotated`;
    writeFileSync(passwordFile, rotated);
    assert.equal((await get(basic('prometheus', PASSWORD))).status, 401);
    assert.equal((await get(basic('prometheus', rotated))).status, 200);
  });
});

describe('server.auth in the configuration', () => {
  const parse = (server: string, env: Record<string, string>) =>
    parseConfig(
      `server: ${server}\ncredentials:\n  s:\n    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }\ntargets:\n  - { name: t, url: "ws://h:8002/ws" }\n`,
      { source: 'test.yaml', env: { CAMERA_SERVICE_JWT_SECRET: SECRET, ...env }, probeTypes: BUILTIN_PROBES },
    );

  it('refuses a short credential, naming the field and not the value', () => {
    assert.throws(
      () => parse('{ auth: { bearer_token: { env: T } } }', { T: 'short-token' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.join() === 'server.auth.bearer_token: must be at least 16 characters long' &&
        !err.message.includes('short-token'),
    );
  });

  it('keeps only the reference to the secret in the loaded configuration', () => {
    const config = parse('{ auth: { bearer_token: { env: T } } }', { T: TOKEN });
    assert.deepEqual(config.server.auth, { bearer_token: { env: 'T' } });
    assert.ok(!JSON.stringify(config).includes(TOKEN));
  });
});
