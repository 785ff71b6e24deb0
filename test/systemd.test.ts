/**
 * The systemd unit (deploy/systemd/camprobe.service) and the config it runs with.
 *
 * `systemd-analyze verify` checks every directive against the real systemd, but also
 * that ExecStart's program exists; camprobe is not installed at /usr/local/bin here, so
 * it verifies a copy whose ExecStart runs this build with this Node.js instead (the only
 * line changed). It needs no running systemd. `systemd-analyze security --offline`
 * scores the hardening the same way.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDaemon, type Daemon } from '../src/daemon.js';
import type { RunRecord } from '../src/core/outcome.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { SECRET, silentLogger } from './helpers/harness.js';

const ROOT = process.cwd();
const UNIT_PATH = join(ROOT, 'deploy/systemd/camprobe.service');
const UNIT = readFileSync(UNIT_PATH, 'utf8');
const CONFIG = join(ROOT, 'deploy/systemd/camprobe.yaml');
const INSTALLED = '/usr/local/bin/camprobe';

/** Every `Key=value` of the [Service] section, values of repeated keys in order. */
function serviceSettings(): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const line of UNIT.split('\n').map((l) => l.trim())) {
    if (line.startsWith('[')) section = line;
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (section === '[Service]' && m) settings.set(m[1]!, [...(settings.get(m[1]!) ?? []), m[2]!]);
  }
  return settings;
}

/** The unit, with ExecStart's program replaced by this Node.js running this build. */
function verifiableCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-unit-'));
  const path = join(dir, 'camprobe.service');
  assert.match(UNIT, new RegExp(`^ExecStart=${INSTALLED} `, 'm'));
  writeFileSync(path, UNIT.replace(`ExecStart=${INSTALLED} `, `ExecStart=${process.execPath} ${join(ROOT, 'dist/src/cli.js')} `));
  return path;
}

describe('systemd unit', () => {
  const settings = serviceSettings();

  it('passes systemd-analyze verify without a warning', () => {
    const r = spawnSync('systemd-analyze', ['verify', verifiableCopy()], { encoding: 'utf8' });
    assert.equal(r.error, undefined, 'systemd-analyze runs (Debian package systemd)');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('has a low exposure score from systemd-analyze security', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', verifiableCopy()], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const m = /Overall exposure level for camprobe\.service: (\d+\.\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) <= 2, `exposure ${m[1]} (0 = locked down, 10 = exposed)`);
  });

  it('runs unprivileged on a read-only system, the secret as a credential, SIGHUP to reload', () => {
    const expected: Record<string, string> = {
      DynamicUser: 'yes',
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      ExecReload: '/bin/kill -HUP $MAINPID',
      RestartPreventExitStatus: '2',
    };
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(settings.get(key), [value], key);
    assert.deepEqual(settings.get('SystemCallFilter'), ['@system-service', '~@privileged']);
    assert.equal(settings.get('MemoryDenyWriteExecute'), undefined, 'Node.js cannot run under it (see below)');
    assert.ok(!settings.has('Environment') || !settings.get('Environment')!.some((e) => /SECRET/.test(e)), 'no secret in Environment=');
  });

  it('MemoryDenyWriteExecute stays off: Node.js aborts under the kernel mechanism systemd uses', (t) => {
    // PR_SET_MDWE(65) with PR_MDWE_REFUSE_EXEC_GAIN(1) in a Python parent, then exec Node.js.
    const script = `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(77)
os.execv(sys.argv[1], [sys.argv[1], '-e', 'let s = 0; for (let i = 0; i < 1e6; i++) s += i; console.log(s)'])`;
    const r = spawnSync('python3', ['-c', script, process.execPath], { encoding: 'utf8' });
    if (r.error || r.status === 77) return t.skip('needs python3 and Linux 6.3+ (PR_SET_MDWE)');
    assert.notEqual(r.status, 0, `Node.js ran under MDWE (${r.stdout}): MemoryDenyWriteExecute=yes could be added`);
  });
});

describe('the config the unit runs with', () => {
  let sim: Simulator;
  let daemon: Daemon | undefined;
  const credentials = mkdtempSync(join(tmpdir(), 'camprobe-credentials-'));

  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
    // What LoadCredential=NAME:PATH does: the file's content at $CREDENTIALS_DIRECTORY/NAME.
    const [load] = serviceSettings().get('LoadCredential') ?? [];
    const name = load?.split(':')[0];
    assert.ok(name, 'the unit loads a credential');
    writeFileSync(join(credentials, name), `${SECRET}\n`, { mode: 0o600 });
  });
  after(async () => {
    await daemon?.stop();
    await sim.close();
  });

  it('reads the secret from the credential and probes with it', async () => {
    daemon = await startDaemon({
      configPath: CONFIG,
      logger: silentLogger,
      env: { CREDENTIALS_DIRECTORY: credentials, CAMERA_SERVICE_URL: sim.url, CAMPROBE_LOG_LEVEL: 'silent' },
      port: 0,
    });
    const run = await new Promise<RunRecord>((resolve) => daemon!.events.on('run', (r) => r.probe === 'auth_flow' && resolve(r)));
    assert.equal(run.result, 'success', run.detail);
  });

  it('without the credential, refuses to start and says which file is missing', async () => {
    await assert.rejects(
      startDaemon({ configPath: CONFIG, logger: silentLogger, env: { CREDENTIALS_DIRECTORY: join(credentials, 'none') }, port: 0 }),
      (err: Error) => /credentials\.service\.jwt_secret: .*none\/camera_jwt_secret/.test(err.message),
    );
  });
});
