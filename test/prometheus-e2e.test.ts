/**
 * End to end with the real Prometheus server: two camprobe daemons (locations "east" and
 * "west", set as scrape-target labels like in deploy/prometheus/prometheus.yml) probe the
 * simulator; Prometheus scrapes them every second and evaluates the rules of
 * deploy/prometheus/rules/ every second; faults are injected into the simulator and the
 * alerts are read back through Prometheus's HTTP API.
 *
 * Compressed timeline: the rules are loaded with every duration divided by 60 (`for:`,
 * range selectors, offsets: 5m → 5s, 10m → 10s, 1h → 1m, 3d → 72m). That is why the rule
 * files only use whole minutes. Numeric thresholds (failure ratio 0.5, the 600 s
 * staleness of ProbesNotRunning) are unchanged. The recording rules keep their names
 * (camprobe:probe_runs:rate5m is a 5 s rate here).
 *
 * No fixed sleeps: every wait polls Prometheus's API until a bounded deadline.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { parse, stringify } from 'yaml';
import { camprobeDashboard, LIVE_SESSIONS_ROW, panelQueries } from '../dashboards/generate.js';
import { startDaemon, type Daemon } from '../src/daemon.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { until } from './helpers/harness.js';
import { closedPort } from './helpers/ws-server.js';

const root = process.cwd();
const RULES_DIR = join(root, 'deploy/prometheus/rules');
const SECRET = 'e2e-secret-e2e-secret-e2e-secret-0123456789';
/** Time compression of the rules: a rule minute lasts a second here. */
const COMPRESSION = 60;
const LOCATIONS = ['east', 'west'] as const;
const AVAILABILITY_ALERTS = ['CameraServiceDown', 'CameraServiceAuthFailing', 'CameraServiceCameraListFailing', 'CamerasDisconnected'];
/** What Grafana would substitute, sized for 1 s scrapes. */
const GRAFANA_VARIABLES: Record<string, string> = {
  $__rate_interval: '5s',
  $__interval: '1s',
  $__range: '1m',
  $target: '.*',
  $location: '.*',
};

interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}
interface RuleFile {
  groups: Array<{ name: string; interval?: string; rules: Array<{ alert?: string; record?: string; expr: string; for?: string }> }>;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** One Prometheus duration (a single unit, as the rule files use) divided by COMPRESSION. */
function compressDuration(d: string): string {
  const m = /^(\d+)([smhdw])$/.exec(d);
  if (!m) throw new Error(`unsupported duration "${d}": use one unit (5m, 1h, 3d)`);
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  if (seconds % COMPRESSION !== 0) throw new Error(`duration "${d}" is not a whole number of minutes`);
  return `${seconds / COMPRESSION}s`;
}

/** The PromQL with every range selector, subquery and offset compressed. */
function compressExpr(expr: string): string {
  return expr
    .replace(/\[(\d+[smhdw])(:(\d+[smhdw])?)?\]/g, (_m, range: string, colon?: string, step?: string) =>
      colon === undefined ? `[${compressDuration(range)}]` : `[${compressDuration(range)}:${step ? compressDuration(step) : ''}]`,
    )
    .replace(/\boffset\s+(\d+[smhdw])\b/g, (_m, d: string) => `offset ${compressDuration(d)}`);
}

function loadRuleFiles(): Array<{ name: string; rules: RuleFile }> {
  return readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((name) => ({ name, rules: parse(readFileSync(join(RULES_DIR, name), 'utf8')) as RuleFile }));
}

function compressRules(file: RuleFile): RuleFile {
  return {
    groups: file.groups.map((g) => ({
      ...g,
      ...(g.interval ? { interval: compressDuration(g.interval) } : {}),
      rules: g.rules.map((r) => ({
        ...r,
        expr: compressExpr(r.expr),
        ...(r.for !== undefined ? { for: r.for === '0m' || r.for === '0s' ? '0s' : compressDuration(r.for) } : {}),
      })),
    })),
  };
}



describe('alerts and dashboards against the real Prometheus', () => {
  let dir: string;
  let sim: Simulator;
  const daemons: Daemon[] = [];
  let prometheus: ChildProcess | undefined;
  let promUrl: string;
  let promLog = '';
  const started = Date.now();
  const figures: Record<string, number> = {};

  async function api<T>(path: string, params: Record<string, string> = {}): Promise<{ status: number; body: { status: string; data: T; error?: string } }> {
    const url = new URL(`/api/v1/${path}`, promUrl);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.json()) as { status: string; data: T; error?: string } };
  }

  async function activeAlerts(): Promise<PromAlert[]> {
    const { body } = await api<{ alerts: PromAlert[] }>('alerts');
    return body.data.alerts;
  }

  async function instant(expr: string): Promise<unknown[]> {
    const { status, body } = await api<{ result: unknown[] }>('query', { query: expr });
    assert.equal(status, 200, `${expr}: ${body.error ?? ''}`);
    return body.data.result;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'camprobe-prom-e2e-'));
    sim = await startSimulator({ jwtSecret: SECRET });

    const configPath = join(dir, 'camprobe.yaml');
    writeFileSync(
      configPath,
      `server: { host: 127.0.0.1, port: 0 }
log: { level: silent }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - name: sim
    url: \${CAMERA_SERVICE_URL}
    probes:
      - { type: auth_flow, interval: 1s, timeout: 900ms }
      - { type: camera_list, interval: 1s, timeout: 900ms }
      - { type: protected_rejection, interval: 2s, timeout: 1500ms, sweep: 2s }
`,
    );
    const env = { CAMERA_SERVICE_URL: sim.url, CAMERA_SERVICE_JWT_SECRET: SECRET };
    for (let i = 0; i < LOCATIONS.length; i++) {
      daemons.push(await startDaemon({ configPath, logger: pino({ level: 'silent' }), env, port: 0 }));
    }

    const rulesDir = join(dir, 'rules');
    mkdirSync(rulesDir);
    for (const { name, rules } of loadRuleFiles()) writeFileSync(join(rulesDir, name), stringify(compressRules(rules)));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
        rule_files: [join(rulesDir, '*.yml')],
        scrape_configs: [
          {
            job_name: 'camprobe',
            static_configs: daemons.map((d, i) => ({ targets: [new URL(d.address).host], labels: { location: LOCATIONS[i] } })),
          },
        ],
      }),
    );

    const port = await closedPort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      promLog = (promLog + chunk).slice(-20_000);
    });
    const exited = once(prometheus, 'exit').then(([code]) => {
      throw new Error(`prometheus exited with ${String(code)}: ${promLog}`);
    });
    exited.catch(() => {});
    await Promise.race([
      exited,
      until('Prometheus to be ready', 20_000, async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined)),
    ]);
    figures.prometheusReadyMs = Date.now() - started;
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const exit = once(prometheus, 'exit');
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus?.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    await Promise.all(daemons.map((d) => d.stop()));
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    figures.totalMs = Date.now() - started;
    console.log(`# prometheus e2e figures (ms): ${JSON.stringify(figures)}`);
  });

  it('scrapes both camprobes and evaluates every rule without error', async () => {
    await until('both camprobe targets up', 15_000, async () => {
      const { body } = await api<{ activeTargets: Array<{ health: string; labels: Record<string, string> }> }>('targets');
      const up = body.data.activeTargets.filter((t) => t.health === 'up').map((t) => t.labels.location);
      return up.length === LOCATIONS.length ? up : undefined;
    });
    const expected = loadRuleFiles().reduce((n, f) => n + f.rules.groups.reduce((m, g) => m + g.rules.length, 0), 0);
    const rules = await until('every rule evaluated', 15_000, async () => {
      const { body } = await api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }>('rules');
      const all = body.data.groups.flatMap((g) => g.rules);
      return all.length === expected && all.every((r) => r.health !== 'unknown') ? all : undefined;
    });
    for (const r of rules) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
    // Data for every probe from both locations, through the recording rules.
    await until('failure ratios of 3 probes x 2 locations', 15_000, async () => {
      const series = await instant('camprobe:probe_failure:ratio_rate5m >= 0');
      return series.length === 3 * LOCATIONS.length ? series : undefined;
    });
    figures.dataReadyMs = Date.now() - started;
  });

  it("every rule's PromQL and every panel's PromQL parses", async () => {
    for (const { rules } of loadRuleFiles()) {
      for (const g of rules.groups) for (const r of g.rules) await instant(r.expr);
    }
    for (const q of panelQueries(camprobeDashboard())) await instant(grafanaExpr(q.expr));
  });

  it('healthy service: no availability alert', async () => {
    const alerts = await activeAlerts();
    const availability = alerts.filter((a) => AVAILABILITY_ALERTS.includes(a.labels.alertname!));
    assert.deepEqual(availability, []);
    assert.deepEqual(alerts.filter((a) => a.labels.alertname === 'ProtectedMethodExposed'), []);
  });

  it('one method exposed: ProtectedMethodExposed names it from both locations, availability alerts stay quiet', async () => {
    const t0 = Date.now();
    sim.setFaults({ exposeMethods: [{ method: 'get_server_info', credential: 'none' }] });
    const firing = await until('ProtectedMethodExposed firing from both locations', 20_000, async () => {
      const alerts = await activeAlerts();
      assertNoAvailabilityAlert(alerts);
      const sec = alerts.filter((a) => a.labels.alertname === 'ProtectedMethodExposed' && a.state === 'firing');
      return new Set(sec.map((a) => a.labels.location)).size === LOCATIONS.length ? sec : undefined;
    });
    figures.securityFiringMs = Date.now() - t0;
    assert.deepEqual(firing.map((a) => a.labels.location).sort(), [...LOCATIONS]);
    for (const a of firing) {
      assert.equal(a.labels.severity, 'critical');
      assert.equal(a.labels.category, 'security');
      assert.equal(a.labels.target, 'sim');
      assert.equal(a.labels.probe, 'protected_rejection');
      // The one exposed method, and only it, is named.
      assert.equal(a.labels.method, 'get_server_info');
    }
    // Watch a few more evaluation cycles (the compressed `for:` of the availability
    // alerts is 2 to 5 s): they must stay silent while only security is broken.
    const watchUntil = Date.now() + 4000;
    await until('the watch window to end', 10_000, async () => {
      assertNoAvailabilityAlert(await activeAlerts());
      return Date.now() >= watchUntil ? true : undefined;
    });
  });

  it('the main panels return data (during the fault, so failure reasons have some)', async () => {
    const empty: string[] = [];
    // Not the "Live sessions" row yet: its series come from the session probe, which this
    // branch's camprobe does not have (the e2e config has no session probe). Re-enable
    // (drop this filter, add a session probe above) once the probe is merged.
    for (const q of panelQueries(camprobeDashboard()).filter((x) => x.row !== LIVE_SESSIONS_ROW)) {
      const result = await instant(grafanaExpr(q.expr));
      if (result.length === 0) empty.push(`${q.panel} (${q.refId}): ${q.expr}`);
    }
    assert.deepEqual(empty, [], 'panels without data');
  });

  it('fault removed: ProtectedMethodExposed resolves', async () => {
    const t0 = Date.now();
    sim.setFaults({});
    await until('ProtectedMethodExposed to resolve', 30_000, async () => {
      const alerts = await activeAlerts();
      assertNoAvailabilityAlert(alerts);
      return alerts.some((a) => a.labels.alertname === 'ProtectedMethodExposed') ? undefined : true;
    });
    figures.securityResolvedMs = Date.now() - t0;
  });

  it('simulator stopped: CameraServiceDown goes pending, seen from both locations', async () => {
    const t0 = Date.now();
    await sim.close();
    const down = await until('CameraServiceDown pending or firing', 20_000, async () => {
      const alerts = await activeAlerts();
      return alerts.find((a) => a.labels.alertname === 'CameraServiceDown');
    });
    figures.serviceDownPendingMs = Date.now() - t0;
    assert.ok(['pending', 'firing'].includes(down.state));
    assert.equal(down.labels.target, 'sim');
    assert.equal(down.labels.severity, 'critical');
    assert.equal(Number(down.value), LOCATIONS.length, 'failing locations');
    const alerts = await activeAlerts();
    assert.deepEqual(alerts.filter((a) => a.labels.alertname === 'ProtectedMethodExposed'), []);
  });
});

function assertNoAvailabilityAlert(alerts: PromAlert[]): void {
  const availability = alerts.filter((a) => AVAILABILITY_ALERTS.includes(a.labels.alertname!));
  assert.deepEqual(availability.map((a) => `${a.labels.alertname} ${a.state}`), [], 'availability alerts active');
}

/** A panel query as Grafana would send it with "All" selected. */
function grafanaExpr(expr: string): string {
  let out = expr;
  for (const [name, value] of Object.entries(GRAFANA_VARIABLES)) out = out.split(name).join(value);
  assert.doesNotMatch(out, /\$\w/, `unsubstituted variable in ${out}`);
  return out;
}
