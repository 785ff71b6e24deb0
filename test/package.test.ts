/**
 * Packaging and the container image, without Docker: one `npm pack`, then
 * - the tarball installed with production dependencies only: its `camprobe` command runs
 *   and says the version and commit;
 * - the Dockerfile's own steps, read from the Dockerfile: the packed files plus
 *   `package-lock.json`, its production install command, its ENV, its ENTRYPOINT and CMD
 *   with its config path, against the simulator; then its HEALTHCHECK command.
 *
 * Installs prefer npm's local cache (`--prefer-offline`) and fall back to the registry.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { logLines } from './helpers/child-log.js';
import { envOf, execForm, one, parseDockerfile } from './helpers/dockerfile.js';
import { SECRET } from './helpers/harness.js';
import { parseProm, value } from './helpers/prom-text.js';

const ROOT = process.cwd();
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; devDependencies: Record<string, string> };
const NPM_QUIET = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.stages.at(-1)!;
const production = dockerfile.stages.find((s) => s.name === 'production')!;

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The commit this checkout is at, or undefined outside a git checkout. */
function gitCommit(): string | undefined {
  const r = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

describe('the runtime Node.js version', () => {
  const lts = readFileSync(join(ROOT, '.node-lts'), 'utf8').trim();

  it('is pinned once in .node-lts: the Dockerfile and CI use it', () => {
    assert.match(lts, /^\d+\.\d+\.\d+$/);
    assert.equal(dockerfile.args['NODE_VERSION'], lts, 'Dockerfile ARG NODE_VERSION');
    for (const stage of dockerfile.stages) assert.equal(stage.from, 'node:${NODE_VERSION}-slim');
    assert.match(readFileSync(join(ROOT, '.ci/run'), 'utf8'), /\$\(cat \.node-lts\)/);
  });

  it('is an LTS release when the suite runs on it', (t) => {
    if (process.version !== `v${lts}`) return t.skip(`running on ${process.version}, not the pinned ${lts}`);
    assert.ok(process.release.lts, `${process.version} is not an LTS release`);
  });
});

describe('npm pack and the container steps', () => {
  let tmp: string;
  let tarball: string;
  let sim: Simulator;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'camprobe-pack-'));
    // The suite's pretest has just run `npm run build`, which is what prepack would run.
    const [packed] = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp, '--loglevel=error'])) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    tarball = join(tmp, packed!.filename);
    sim = await startSimulator({ jwtSecret: SECRET });
  });
  after(async () => {
    await sim?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('ships the compiled entry point, the build info, the default config and the status page, and no tests or source maps', () => {
    const files = run('tar', ['-tzf', tarball]).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    for (const f of ['package.json', 'dist/src/cli.js', 'dist/build-info.json', 'config/camprobe.yaml']) assert.ok(files.includes(f), f);
    const page = ['src/status/static/index.html', 'src/status/static/status.css', 'src/status/static/icon.svg', 'dist/src/status/client/app.js', 'dist/src/status/client/row.js'];
    for (const f of page) assert.ok(files.includes(f), f);
    assert.deepEqual(files.filter((f) => f.startsWith('dist/test') || f.endsWith('.map') || f.endsWith('.ts')), []);
    const info = JSON.parse(run('tar', ['-xzOf', tarball, 'package/dist/build-info.json'])) as { commit: string };
    const commit = gitCommit();
    if (commit !== undefined) assert.equal(info.commit, commit, 'built from this git checkout');
  });

  it('installed with production dependencies only, its camprobe command prints version and commit', () => {
    const prefix = join(tmp, 'installed');
    mkdirSync(prefix);
    run('npm', ['install', '--omit=dev', ...NPM_QUIET, '--prefix', prefix, tarball]);
    for (const dev of Object.keys(PKG.devDependencies)) assert.ok(!existsSync(join(prefix, 'node_modules', dev)), `dev dependency ${dev} installed`);
    const info = JSON.parse(readFileSync(join(prefix, 'node_modules', PKG.name, 'dist/build-info.json'), 'utf8')) as { commit: string };
    // The command's `#!/usr/bin/env node` finds this Node.js first.
    const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
    const out = run(join(prefix, 'node_modules/.bin/camprobe'), ['--version'], { env });
    assert.equal(out, `camprobe ${PKG.version} (commit ${info.commit}, node ${process.version})\n`);
    if (gitCommit() !== undefined) assert.notEqual(info.commit, 'unknown');

    // Outside any checkout, without --config: the packaged configuration (unless the system has its own).
    if (!existsSync('/etc/camprobe/camprobe.yaml')) {
      const check = run(join(prefix, 'node_modules/.bin/camprobe'), ['check-config'], { env: { ...env, CAMERA_SERVICE_JWT_SECRET: SECRET }, cwd: tmp });
      assert.ok(check.startsWith(`${join(prefix, 'node_modules', PKG.name, 'config/camprobe.yaml')}: OK, 1 target, 3 probes\n`), check);
    }
  });

  it('the image steps: production install, the entry point starts, probes, answers /healthz and the HEALTHCHECK', async () => {
    // WORKDIR and the files of the production stage: the packed package plus the lockfile.
    const workdir = one(runtime, 'WORKDIR');
    assert.equal(one(production, 'WORKDIR'), workdir);
    const app = join(tmp, 'image', workdir);
    mkdirSync(app, { recursive: true });
    assert.equal(one(production, 'COPY', (a) => a.startsWith('--from=build')), `--from=build ${workdir} ./`);
    run('tar', ['-xzf', tarball, '-C', app, '--strip-components=1']);
    assert.equal(one(production, 'COPY', (a) => !a.startsWith('--from')), 'package-lock.json ./');
    copyFileSync(join(ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
    const install = one(production, 'RUN');
    assert.match(install, /^npm ci --omit=dev\b/);
    run('sh', ['-c', `${install} ${NPM_QUIET.join(' ')}`], { cwd: app });
    assert.ok(!existsSync(join(app, 'node_modules/typescript')), 'no dev dependencies');

    // The config the runtime stage copies, at the path its CMD names (under a temp root here).
    const [copySource, configPath] = one(runtime, 'COPY', (a) => a.includes('/etc/')).replace('--from=production ', '').split(' ') as [string, string];
    const fakeRoot = join(tmp, 'image');
    mkdirSync(join(fakeRoot, dirname(configPath)), { recursive: true });
    copyFileSync(join(fakeRoot, copySource), join(fakeRoot, configPath));
    const entrypoint = execForm(one(runtime, 'ENTRYPOINT'));
    const cmd = execForm(one(runtime, 'CMD'));
    assert.ok(cmd.includes(configPath), `CMD ${cmd.join(' ')} uses ${configPath}`);
    assert.equal(entrypoint[0], 'node');
    assert.notEqual(one(runtime, 'USER'), 'root');

    const imageEnv = envOf(one(runtime, 'ENV'));
    assert.equal(imageEnv['CAMPROBE_PORT'], one(runtime, 'EXPOSE'));
    const env = {
      PATH: process.env.PATH,
      ...imageEnv,
      // Loopback and a free port here; the HEALTHCHECK reads the port from this variable.
      CAMPROBE_HOST: '127.0.0.1',
      CAMPROBE_PORT: '0',
      CAMPROBE_LOG_LEVEL: 'debug',
      CAMERA_SERVICE_URL: sim.url,
      CAMERA_SERVICE_JWT_SECRET: SECRET,
    };
    const args = [...entrypoint.slice(1), ...cmd.map((a) => (a === configPath ? join(fakeRoot, configPath) : a))];
    const child = spawn(process.execPath, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const log = logLines(child);
      const started = await log.waitFor((l) => l.msg === 'camprobe started');
      assert.equal(started.commit, JSON.parse(readFileSync(join(app, 'dist/build-info.json'), 'utf8')).commit);
      const address = String(started.address);
      const port = new URL(address).port;
      for (const probe of ['auth_flow', 'camera_list', 'protected_rejection']) {
        await log.waitFor((l) => l.probe === probe && l.msg === 'probe run succeeded');
      }
      assert.equal((await fetch(`${address}/healthz`)).status, 200);
      // The status page and its script, served from the installed package.
      const page = await fetch(`${address}/`, { headers: { accept: 'text/html' } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /status\/app\.js/);
      assert.equal((await fetch(`${address}/status/app.js`)).status, 200);
      assert.equal((await fetch(`${address}/status/status.css`)).status, 200);
      const samples = parseProm(await (await fetch(`${address}/metrics`)).text());
      assert.equal(value(samples, 'camprobe_build_info', { version: PKG.version, commit: String(started.commit), nodejs: process.version }), 1);
      assert.equal(value(samples, 'camprobe_probe_success', { target: 'local', probe: 'auth_flow' }), 1);
      // The image's NODE_OPTIONS sizes V8's heap (1024 MB old space plus the young
      // generation), whatever this machine's RAM would have given it.
      // (1,024 MB old space plus three 16 MB semi-spaces, on Node 20 and 24 alike.)
      assert.match(String(imageEnv['NODE_OPTIONS']), /--max-old-space-size=1024 --max-semi-space-size=16/);
      const limitMB = value(samples, 'nodejs_heap_size_limit_bytes', {})! / 2 ** 20;
      assert.equal(limitMB, 1024 + 3 * 16, `heap limit ${limitMB} MB`);

      assert.equal(healthcheck(port), 0, 'HEALTHCHECK passes while camprobe runs');
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
      assert.equal(healthcheck(port), 1, 'HEALTHCHECK fails once it is gone');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

/** Runs the Dockerfile's HEALTHCHECK command (exec form, `node` = this Node.js). */
function healthcheck(port: string): number | null {
  const [, options = ''] = /^(.*?)CMD /.exec(one(runtime, 'HEALTHCHECK')) ?? [];
  assert.match(options, /--timeout=\d+s/);
  const [node, ...args] = execForm(one(runtime, 'HEALTHCHECK').slice(options.length + 'CMD '.length));
  assert.equal(node, 'node');
  return spawnSync(process.execPath, args, { env: { CAMPROBE_PORT: port }, timeout: 10_000 }).status;
}
