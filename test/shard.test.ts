/**
 * Shards and locations: N replicas split the targets by a stable hash of the name, each
 * target probed by exactly one; `location` lands on every series.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { parseShard, POD_INDEX_ENV, selectShard, shardOf } from '../src/config/shard.js';
import { startDaemon, type Daemon } from '../src/daemon.js';
import { BUILTIN_PROBES } from '../src/probes/registry.js';
import type { RunRecord } from '../src/core/outcome.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { SECRET, silentLogger } from './helpers/harness.js';
import { parseProm, select, value } from './helpers/prom-text.js';

const CLI = join(process.cwd(), 'dist/src/cli.js');
const NAMES = Array.from({ length: 50 }, (_, i) => `camera-${String(i).padStart(2, '0')}`);
const targets = NAMES.map((name) => ({ name }));

/** A config with every name in NAMES as a target at `url`, one auth_flow probe an hour. */
function fleetConfig(url: string, extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'camprobe-shard-'));
  const path = join(dir, 'camprobe.yaml');
  const list = NAMES.map((name) => `  - { name: ${name}, url: "${url}", probes: [{ type: auth_flow, interval: 1h }] }`).join('\n');
  writeFileSync(
    path,
    `${extra}
server: { host: 127.0.0.1, port: 0 }
log: { level: silent }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
${list}
`,
  );
  return path;
}

function parse(text: string) {
  return parseConfig(text, { source: 'test', env: { S: SECRET }, probeTypes: BUILTIN_PROBES });
}
const BASE = `credentials: { service: { jwt_secret: { env: S } } }
targets: [{ name: sim, url: "ws://127.0.0.1:1/ws" }]
`;

function configProblems(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('selectShard', () => {
  it('3 shards over 50 targets cover every target exactly once', () => {
    const owners = new Map<string, number[]>();
    for (let index = 0; index < 3; index++) {
      const owned = selectShard(targets, { index, total: 3 });
      assert.ok(owned.length > 0, `shard ${index} owns no target`);
      for (const t of owned) owners.set(t.name, [...(owners.get(t.name) ?? []), index]);
    }
    assert.deepEqual([...owners.keys()].sort(), NAMES);
    for (const [name, shards] of owners) assert.equal(shards.length, 1, `${name} is owned by shards ${shards.join(', ')}`);
  });

  it('the owner depends only on the name: not on order, neighbours or the process', () => {
    const reversed = selectShard([...targets].reverse(), { index: 1, total: 3 }).map((t) => t.name);
    const alone = NAMES.filter((name) => selectShard([{ name }], { index: 1, total: 3 }).length === 1);
    assert.deepEqual(reversed.reverse(), alone);
    // Pinned: the first four bytes of SHA-256, big-endian, mod N (`printf %s NAME | sha256sum`).
    // Changing the hash moves targets between replicas: do it deliberately, if ever.
    const sha = spawnSync('sh', ['-c', 'printf %s camera-07 | sha256sum'], { encoding: 'utf8' }).stdout.slice(0, 8);
    assert.equal(shardOf('camera-07', 7), Number.parseInt(sha, 16) % 7);
    assert.equal(shardOf('camera-07', 1000), Number.parseInt(sha, 16) % 1000);
  });

  it('one shard owns everything', () => {
    assert.deepEqual(selectShard(targets, { index: 0, total: 1 }), targets);
  });

  it('parses --shard I/N and refuses anything else with the reason', () => {
    assert.deepEqual(parseShard('2/3'), { index: 2, total: 3 });
    assert.throws(() => parseShard('3/3'), /--shard 3\/3: index must be an integer from 0 to 2/);
    assert.throws(() => parseShard('0/0'), /--shard 0\/0: total must be an integer from 1 to 1000/);
    for (const bad of ['1', '-1/3', 'a/b', '1/3/5', '', 'auto', 'auto/', 'auto/-1']) assert.throws(() => parseShard(bad), /--shard must be INDEX\/TOTAL/, bad);
  });
});

describe('--shard auto/N: the index from the StatefulSet pod', () => {
  it('reads the ordinal from the host name NAME-ORDINAL, whatever NAME is', () => {
    assert.deepEqual(parseShard('auto/3', { hostname: 'camprobe-2' }), { index: 2, total: 3 });
    assert.deepEqual(parseShard('auto/3', { hostname: 'camprobe-eu-west-0' }), { index: 0, total: 3 });
    assert.deepEqual(parseShard('auto/1', { hostname: 'camprobe-0' }), { index: 0, total: 1 });
    // setHostnameAsFQDN: the pod's name is the first label.
    assert.deepEqual(parseShard('auto/12', { hostname: 'camprobe-11.camprobe.monitoring.svc.cluster.local' }), { index: 11, total: 12 });
  });

  it('prefers the pod-index label through the environment, and ignores it when empty', () => {
    assert.deepEqual(parseShard('auto/3', { podIndex: '1', hostname: 'not-a-pod' }), { index: 1, total: 3 });
    // A downward-API reference to a label the cluster does not set (before 1.28) is empty.
    assert.deepEqual(parseShard('auto/3', { podIndex: '', hostname: 'camprobe-2' }), { index: 2, total: 3 });
  });

  it('refuses to guess, naming what it read and how to fix it', () => {
    assert.throws(
      () => parseShard('auto/3', { hostname: 'build-host' }),
      (err: Error) => {
        assert.ok(err instanceof RangeError);
        assert.equal(
          err.message,
          `--shard auto/3: cannot tell which replica this is: ${POD_INDEX_ENV} is not set and the host name "build-host" does not end in ` +
            `-ORDINAL as a StatefulSet pod's does (camprobe-0, camprobe-1, …). Run it as a StatefulSet pod, set ` +
            `${POD_INDEX_ENV} from the pod's label apps.kubernetes.io/pod-index (downward API), or give the index: --shard I/3`,
        );
        return true;
      },
    );
    assert.throws(() => parseShard('auto/3', {}), /the host name "" does not end in -ORDINAL/);
    assert.throws(() => parseShard('auto/3', { hostname: 'camprobe-3' }), {
      message:
        '--shard auto/3: the host name "camprobe-3" gives index 3, but index must be an integer from 0 to 2 (total 3): ' +
        'the StatefulSet has more replicas than 3; make N in auto/N equal to its replicas',
    });
    assert.throws(() => parseShard('auto/3', { podIndex: 'one', hostname: 'camprobe-1' }), {
      message:
        `--shard auto/3: ${POD_INDEX_ENV}="one" is not a pod ordinal (0, 1, 2 …): feed it from the pod's label ` +
        `apps.kubernetes.io/pod-index (downward API), or unset it to read the ordinal from the host name`,
    });
    assert.throws(() => parseShard('auto/3', { podIndex: '5', hostname: 'camprobe-1' }), /CAMPROBE_POD_INDEX="5" gives index 5, but index must be an integer from 0 to 2/);
    assert.throws(() => parseShard('auto/0', { hostname: 'camprobe-0' }), /--shard auto\/0: total must be an integer from 1 to 1000/);
  });
});

describe('location and shard in the config', () => {
  it('are optional: no location, one shard', () => {
    const config = parse(BASE);
    assert.equal(config.location, undefined);
    assert.deepEqual(config.shard, { index: 0, total: 1 });
  });

  it('are read when given', () => {
    const config = parse(`location: eu-west.1\nshard: { index: 2, total: 4 }\n${BASE}`);
    assert.equal(config.location, 'eu-west.1');
    assert.deepEqual(config.shard, { index: 2, total: 4 });
  });

  it('refuses a location that is not a short, plain label value', () => {
    for (const bad of ['"eu west"', '"x{y}"', `"${'a'.repeat(65)}"`, '""', '"-eu"']) {
      assert.deepEqual(configProblems(`location: ${bad}\n${BASE}`), [
        'location: must be 1 to 64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
      ]);
    }
  });

  it('refuses a shard index out of range, and unknown or missing shard keys', () => {
    assert.deepEqual(configProblems(`shard: { index: 3, total: 3 }\n${BASE}`), ['shard.index: index must be an integer from 0 to 2 (total 3)']);
    assert.deepEqual(configProblems(`shard: { index: 0, total: 0 }\n${BASE}`), ['shard.total: must be an integer from 1 to 1000']);
    assert.deepEqual(configProblems(`shard: { index: 0 }\n${BASE}`), ['shard.total: is required']);
    assert.match(configProblems(`shard: { index: 0, total: 2, of: 2 }\n${BASE}`).join(), /shard: unknown key "of"/);
  });
});

describe('check-config and run with --shard', () => {
  const path = fleetConfig('ws://127.0.0.1:1/ws');
  const env = { ...process.env, CAMERA_SERVICE_JWT_SECRET: SECRET };

  it('check-config lists what the shard owns', () => {
    const r = spawnSync(process.execPath, [CLI, 'check-config', '--config', path, '--shard', '1/3'], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const owned = selectShard(targets, { index: 1, total: 3 }).map((t) => t.name);
    assert.ok(r.stdout.startsWith(`${path}: OK, 50 targets, 50 probes\n`), r.stdout);
    assert.ok(r.stdout.endsWith(`\nshard 1/3 owns ${owned.length} of 50 targets:\n${owned.map((n) => `  ${n}\n`).join('')}`), r.stdout);
  });

  it('a bad --shard is a usage error', () => {
    const r = spawnSync(process.execPath, [CLI, 'run', '--config', path, '--shard', '3/3'], { env, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--shard 3\/3: index must be an integer from 0 to 2/);
  });

  // HOSTNAME is what Kubernetes sets in a pod; CAMPROBE_POD_INDEX what the downward API may.
  const podEnv = (vars: Record<string, string>): NodeJS.ProcessEnv => {
    const podEnv: NodeJS.ProcessEnv = { ...env };
    delete podEnv[POD_INDEX_ENV];
    return { ...podEnv, ...vars };
  };

  it('check-config --shard auto/3 in pod camprobe-1 owns what 1/3 owns', () => {
    const r = spawnSync(process.execPath, [CLI, 'check-config', '--config', path, '--shard', 'auto/3'], { env: podEnv({ HOSTNAME: 'camprobe-1' }), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const owned = selectShard(targets, { index: 1, total: 3 }).map((t) => t.name);
    assert.match(r.stdout, new RegExp(`^shard 1/3 owns ${owned.length} of 50 targets:$`, 'm'));
    const fromEnv = spawnSync(process.execPath, [CLI, 'check-config', '--config', path, '--shard', 'auto/3'], {
      env: podEnv({ HOSTNAME: 'camprobe-0', [POD_INDEX_ENV]: '1' }),
      encoding: 'utf8',
    });
    assert.equal(fromEnv.stdout, r.stdout);
  });

  it('run --shard auto/N outside a StatefulSet refuses to start (exit 2) and says why', () => {
    const r = spawnSync(process.execPath, [CLI, 'run', '--config', path, '--shard', 'auto/3'], { env: podEnv({ HOSTNAME: 'build-host' }), encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^camprobe: --shard auto\/3: cannot tell which replica this is: CAMPROBE_POD_INDEX is not set and the host name "build-host"/);
  });
});

describe('three sharded daemons against the simulator', () => {
  let sim: Simulator;
  const daemons: Daemon[] = [];
  const runs: Array<{ shard: number; run: RunRecord }> = [];
  let allRan: Promise<void>;

  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
    const path = fleetConfig(sim.url, 'location: lab-1\nshard: { index: 0, total: 1 }');
    let resolveAll: () => void;
    allRan = new Promise((resolve) => (resolveAll = resolve));
    const ran = new Set<string>();
    for (let index = 0; index < 3; index++) {
      const daemon = await startDaemon({ configPath: path, logger: silentLogger, env: { CAMERA_SERVICE_JWT_SECRET: SECRET }, port: 0, shard: { index, total: 3 } });
      daemon.events.on('run', (run) => {
        runs.push({ shard: index, run });
        ran.add(run.target);
        if (ran.size === NAMES.length) resolveAll();
      });
      daemons.push(daemon);
    }
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await sim.close();
  });

  it('each target is probed by exactly one of them, and appears in exactly one /metrics', async () => {
    await allRan;
    const seen = new Map<string, number[]>();
    for (const [index, daemon] of daemons.entries()) {
      const samples = parseProm(await (await fetch(`${daemon.address}/metrics`)).text());
      const mine = select(samples, 'camprobe_probe_success').map((s) => s.labels['target']!);
      assert.deepEqual(mine, daemon.targets.map((t) => t.name));
      for (const target of mine) {
        seen.set(target, [...(seen.get(target) ?? []), index]);
        assert.equal(value(samples, 'camprobe_probe_success', { target, probe: 'auth_flow' }), 1, `${target} on shard ${index}`);
      }
      assert.equal(value(samples, 'camprobe_shard_info', { index: String(index), total: '3' }), 1);
      assert.equal(select(samples, 'camprobe_shard_info').length, 1);
      assert.equal(value(samples, 'camprobe_shard_targets'), mine.length);
    }
    assert.deepEqual([...seen.keys()].sort(), NAMES);
    for (const [target, shards] of seen) assert.equal(shards.length, 1, `${target} is exported by shards ${shards.join(', ')}`);
    for (const { shard, run } of runs) {
      assert.ok(daemons[shard]!.targets.some((t) => t.name === run.target), `shard ${shard} probed ${run.target}, which it does not own`);
    }
  });

  it('the configured location is on every series: probes, build info, process and Node.js metrics', async () => {
    const samples = parseProm(await (await fetch(`${daemons[0]!.address}/metrics`)).text());
    for (const name of ['camprobe_build_info', 'camprobe_shard_info', 'process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes']) {
      assert.ok(select(samples, name).length > 0, `${name} is exported`);
    }
    for (const s of samples) assert.equal(s.labels['location'], 'lab-1', `${s.name} ${JSON.stringify(s.labels)}`);
  });
});
