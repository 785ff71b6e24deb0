/**
 * The `camprobe` command as a new user meets it, each case a child process: usage
 * mistakes, help and version, a missing configuration file, the default configuration
 * found from anywhere, what check-config prints, a misspelt key, a port in use.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SECRET, watchOutput } from './helpers/harness.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli.js');
const BASE_ENV = { PATH: process.env.PATH ?? '', CAMERA_SERVICE_JWT_SECRET: SECRET };

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs camprobe to its end; `cwd` defaults to a directory that is not the checkout. */
function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...BASE_ENV, ...opts.env }, cwd: opts.cwd ?? tmpdir(), timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A TCP server holding a loopback port, as another program would. */
async function occupyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { port: address.port, server };
}

describe('usage mistakes: one short line, and where to read more', () => {
  const cases: Array<[string[], string]> = [
    [['--bogus'], 'camprobe: unknown option --bogus; see camprobe --help\n'],
    [['--confg', 'x.yaml'], 'camprobe: unknown option --confg: did you mean --config?; see camprobe --help\n'],
    [['chek-config'], 'camprobe: unknown command "chek-config": did you mean "check-config"?; see camprobe --help\n'],
    [['frobnicate'], 'camprobe: unknown command "frobnicate" (commands: run, check-config, demo, once, help, version); see camprobe --help\n'],
    [['once', 'extra'], 'camprobe: unexpected argument "extra" after "once"; see camprobe --help\n'],
    [['check-config', '--config'], 'camprobe: option --config needs a value; see camprobe --help\n'],
    [['run', '--port', 'http'], 'camprobe: --port must be an integer from 0 to 65535; see camprobe --help\n'],
    [['run', '--log-format', 'xml'], 'camprobe: --log-format must be json or pretty, not "xml"; see camprobe --help\n'],
    [['demo', '--shard', '0/2'], 'camprobe: --shard is an option of "camprobe run" and "camprobe check-config"; see camprobe --help\n'],
  ];
  for (const [args, expected] of cases) {
    it(`camprobe ${args.join(' ')}`, async () => {
      const r = await cli(args);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, expected);
      assert.equal(r.stdout, '', 'no help text scrolls the message away');
    });
  }

  it('a bad CAMPROBE_LOG_FORMAT is named; check-config, which does not log, ignores it', async () => {
    const r = await cli(['run'], { env: { CAMPROBE_LOG_FORMAT: 'yaml' } });
    assert.equal(r.stderr, 'camprobe: CAMPROBE_LOG_FORMAT must be json or pretty, not "yaml"; see camprobe --help\n');
    assert.equal((await cli(['check-config', '-c', join(ROOT, 'config/camprobe.yaml')], { env: { CAMPROBE_LOG_FORMAT: 'yaml' } })).code, 0);
  });
});

describe('help and version', () => {
  it('are commands as well as options', async () => {
    const [help, dashHelp, version, dashVersion] = await Promise.all([cli(['help']), cli(['--help']), cli(['version']), cli(['-v'])]);
    assert.equal(help.code, 0);
    assert.equal(help.stdout, dashHelp.stdout);
    assert.match(help.stdout, /^Usage:$/m);
    assert.match(help.stdout, /--log-format F/);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^camprobe \d+\.\d+\.\d+ \(commit \S+, node v\d+[^)]*\)\n$/);
    assert.equal(version.stdout, dashVersion.stdout);
  });
});

describe('the configuration file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'camprobe-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing file is called missing, by its absolute path, with what to pass', async () => {
    for (const command of ['check-config', 'once', 'run']) {
      const r = await cli([command, '--config', 'missing.yaml'], { cwd: dir });
      assert.equal(r.code, 2, command);
      const [first, hint, rest] = r.stderr.split('\n');
      assert.equal(first, `camprobe: configuration file not found: ${join(dir, 'missing.yaml')}`);
      assert.match(hint!, /^ {2}name an existing file with --config FILE; without --config camprobe reads \/etc\/camprobe\/camprobe\.yaml if it exists, else \/\S+\/config\/camprobe\.yaml$/);
      assert.equal(rest, '');
      assert.doesNotMatch(r.stderr, /invalid configuration|ENOENT/);
    }
  });

  it('without --config, the packaged configuration is found from any directory', async (t) => {
    if (existsSync('/etc/camprobe/camprobe.yaml')) return t.skip('/etc/camprobe/camprobe.yaml exists on this machine and is read first');
    const r = await cli(['check-config'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`${join(ROOT, 'config/camprobe.yaml')}: OK, 1 target, 3 probes\n`), r.stdout);
  });

  it('check-config lists every target, its URL without query or user info, and its probes with their cadence', async () => {
    const path = join(dir, 'two.yaml');
    writeFileSync(
      path,
      `server: { port: 9555, auth: { bearer_token: { env: CAMERA_SERVICE_JWT_SECRET } } }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - name: lab
    url: ws://127.0.0.1:8002/ws?access_token=query-canary-5b1e
  - name: prod
    url: wss://cams.example.net/ws
    interval: 15s
    probes:
      - { type: auth_flow, timeout: 5s }
      - { type: rpc, name: first_camera, method: get_camera_list, schedule: "0 */5 * * * *" }
`,
    );
    const r = await cli(['check-config', '-c', path]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `${path}: OK, 2 targets, 5 probes
  lab  ws://127.0.0.1:8002/ws?…  (credential service)
    auth_flow            every 30s  timeout 10s
    camera_list          every 30s  timeout 10s
    protected_rejection  every 30s  timeout 10s
  prod  wss://cams.example.net/ws  (credential service)
    auth_flow           every 15s              timeout 5s
    first_camera (rpc)  on cron 0 */5 * * * *  timeout 10s
server: 127.0.0.1:9555 (bearer_token required), log level info
`,
    );
    assert.doesNotMatch(r.stdout + r.stderr, /query-canary|canary-secret/);
  });

  it('a misspelt key inside a credential is named, with the one it likely misspells', async () => {
    const path = join(dir, 'typo.yaml');
    writeFileSync(path, 'credentials:\n  service:\n    jwt_secert: { env: CAMERA_SERVICE_JWT_SECRET }\ntargets:\n  - { name: lab, url: "ws://127.0.0.1:8002/ws" }\n');
    const r = await cli(['check-config', '-c', path]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `camprobe: invalid configuration in ${path}:\n  - credentials.service: unknown key "jwt_secert": did you mean "jwt_secret"? (allowed: jwt_secret, user_id, role, ttl, token)\n`,
    );
  });
});

describe('a port in use', () => {
  let dir: string;
  let held: { port: number; server: Server };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'camprobe-port-'));
    held = await occupyPort();
  });
  after(() => {
    held.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (port: string) =>
    `server:\n  host: 127.0.0.1\n  port: ${port}\ncredentials:\n  service:\n    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }\ntargets:\n  - { name: lab, url: "ws://127.0.0.1:8002/ws" }\n`;

  it('names the port and the ways to change it that apply', async () => {
    const literal = join(dir, 'literal.yaml');
    writeFileSync(literal, config(String(held.port)));
    const fromVariable = join(dir, 'variable.yaml');
    writeFileSync(fromVariable, config('${CAMPROBE_PORT:-9464}'));
    const head = `camprobe: cannot listen on 127.0.0.1:${held.port}: port ${held.port} is already in use (another camprobe?)\n`;

    const a = await cli(['run', '-c', literal]);
    assert.equal(a.code, 1);
    assert.equal(a.stderr, `${head}  choose another port with --port N or server.port in ${literal} (0: any free port)\n`);

    const b = await cli(['run', '-c', fromVariable], { env: { CAMPROBE_PORT: String(held.port) } });
    assert.equal(b.stderr, `${head}  choose another port with --port N, CAMPROBE_PORT=N or server.port in ${fromVariable} (0: any free port)\n`);

    const c = await cli(['run', '-c', fromVariable, '--port', String(held.port)]);
    assert.equal(c.stderr, `${head}  choose another port with --port N (0: any free port)\n`);
  });

  it('the demo moves to a free port and says which', async () => {
    const child = spawn(process.execPath, [CLI, 'demo'], { cwd: dir, env: { ...BASE_ENV, CAMPROBE_PORT: String(held.port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    try {
      const out = watchOutput(child);
      const [, port] = await out.waitFor(/camprobe demo running on port (\d+) \(port (\d+) was in use\)/);
      assert.notEqual(Number(port), held.port);
      assert.match(out.text(), new RegExp(`"msg":"port ${held.port} is in use: listening on a free port instead"`));
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    assert.deepEqual(await exited, [0, null]);
  });
});
