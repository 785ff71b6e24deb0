/**
 * The committed Grafana dashboards are exactly what dashboards/generate.ts produces, the
 * provisioning files point at them, every panel's PromQL parses (promtool), and the
 * access-matrix and live-session panels compute what they say from synthetic series
 * (promtool unit test: the end-to-end test only sees the metrics the probes of its
 * camprobe export).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { camprobeDashboard, generate, LIVE_SESSIONS_ROW, panelQueries, type PanelQuery } from '../dashboards/generate.js';

const root = process.cwd();
/** What Grafana substitutes, as in test/prometheus-e2e.test.ts, with "All" selected. */
const GRAFANA_VARIABLES: Record<string, string> = {
  $__rate_interval: '1m',
  $__interval: '15s',
  $__range: '1h',
  $target: '.*',
  $location: '.*',
};
const ACCESS_MATRIX_PANELS = ['Exposed methods', 'Protected methods', 'Access matrix coverage', 'Time since last sweep (sweep periods)'];
const LIVE_SESSION_PANELS = [
  'Session up',
  'Session connected time',
  'Session disconnects by reason',
  'Heartbeat (warm) vs status call (cold) latency',
  'Session notifications per minute',
  'Time since last notification and server ping',
  'Session expiry checks and unauthenticated notifications',
];
const RULES_FILE = join(root, 'deploy/prometheus/rules/camprobe.rules.yml');

function grafanaExpr(expr: string): string {
  let out = expr;
  for (const [name, value] of Object.entries(GRAFANA_VARIABLES)) out = out.split(name).join(value);
  assert.doesNotMatch(out, /\$\w/, `unsubstituted variable in ${out}`);
  return out;
}

function promtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('Grafana dashboards as code', () => {
  it('committed JSON equals the generator output (regenerate: node dist/dashboards/generate.js)', () => {
    for (const [path, text] of Object.entries(generate())) {
      let committed: string;
      try {
        committed = readFileSync(join(root, path), 'utf8');
      } catch {
        assert.fail(`${path} is missing: run \`npx tsc -p tsconfig.json && node dist/dashboards/generate.js\``);
      }
      assert.ok(committed === text, `${path} differs from the generator output: run \`npx tsc -p tsconfig.json && node dist/dashboards/generate.js\``);
    }
  });

  it('has the target and location variables, and every query filters on them', () => {
    const dashboard = camprobeDashboard();
    const names = (dashboard.templating?.list ?? []).map((v) => v.name);
    assert.deepEqual(names, ['datasource', 'target', 'location']);
    const queries = panelQueries(dashboard);
    assert.ok(queries.length >= 15, `only ${queries.length} queries`);
    for (const q of queries) {
      assert.match(q.expr, /\$location|\$target/, `panel "${q.panel}" ${q.refId} ignores the variables: ${q.expr}`);
    }
  });

  it('has the panels the issue asks for, security first', () => {
    const titles = panelQueries(camprobeDashboard()).map((q) => q.panel);
    assert.match(titles[0] ?? '', /SECURITY/);
    for (const wanted of [
      'Success ratio per probe',
      'Status call latency vs the 50 ms objective',
      'Slowest duration per step',
      'Failure reasons',
      'Security violations',
      'Cameras connected',
      'Runs per minute',
      'Skipped runs',
      'Event-loop lag',
      'Memory',
      ...ACCESS_MATRIX_PANELS,
      ...LIVE_SESSION_PANELS,
    ]) {
      assert.ok(titles.includes(wanted), `no panel "${wanted}"`);
    }
  });

  it('the access matrix has its own row, right after Security', () => {
    const rows = (camprobeDashboard().panels ?? []).filter((p) => p.type === 'row').map((p) => (p as { title?: string }).title);
    assert.deepEqual(rows.slice(0, 3), ['Security', 'Access matrix', 'Availability']);
  });

  it('the session probe has its own row, "Live sessions", after Latency, with exactly its panels', () => {
    const rows = (camprobeDashboard().panels ?? []).filter((p) => p.type === 'row').map((p) => (p as { title?: string }).title);
    assert.equal(rows[rows.indexOf('Latency') + 1], LIVE_SESSIONS_ROW);
    const inRow = [...new Set(panelQueries(camprobeDashboard()).filter((q) => q.row === LIVE_SESSIONS_ROW).map((q) => q.panel))];
    assert.deepEqual(inRow, LIVE_SESSION_PANELS);
    // Every session metric the probe exports appears in the row (the histogram as buckets).
    const exprs = panelQueries(camprobeDashboard())
      .filter((q) => q.row === LIVE_SESSIONS_ROW)
      .map((q) => q.expr)
      .join('\n');
    for (const metric of [
      'camprobe_session_up',
      'camprobe_session_connected_seconds',
      'camprobe_session_disconnects_total',
      'camprobe:session_heartbeat_duration_seconds_bucket:rate5m',
      'camprobe_session_notifications_total',
      'camprobe_session_invalid_notifications_total',
      'camprobe_session_last_notification_timestamp_seconds',
      'camprobe_session_last_server_ping_timestamp_seconds',
      'camprobe_session_expiry_checks_total',
      'camprobe_session_unauthenticated_notifications_total',
    ]) {
      assert.ok(exprs.includes(metric), `no live-session panel shows ${metric}`);
    }
  });

  const dir = mkdtempSync(join(tmpdir(), 'camprobe-dashboards-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("every panel's PromQL parses (promtool check rules)", () => {
    const queries = panelQueries(camprobeDashboard());
    const rules = { groups: [{ name: 'panels', rules: queries.map((q, i) => ({ record: `panel:query_${i}:${q.refId}`, expr: grafanaExpr(q.expr) })) }] };
    const file = join(dir, 'panels.rules.yml');
    writeFileSync(file, stringify(rules));
    const { status, output } = promtool(['check', 'rules', file]);
    assert.equal(status, 0, output);
    assert.match(output, new RegExp(`SUCCESS: ${queries.length} rules found`), output);
  });

  it('the access-matrix panels show the access-matrix gauges (promtool test rules, synthetic series)', () => {
    const queries = panelQueries(camprobeDashboard()).filter((q) => ACCESS_MATRIX_PANELS.includes(q.panel));
    assert.equal(queries.length, 6, queries.map((q) => `${q.panel} ${q.refId}`).join(', '));
    const byPanel = (panel: string, refId = 'A'): PanelQuery => queries.find((q) => q.panel === panel && q.refId === refId)!;
    // cam1 from two locations, 18 cells of which 2 uncovered; east checked all 16 in its
    // last sweep (at 1200 s), west only 12 (at 600 s). At 1500 s: east 0.5 periods since,
    // west 1.5. get_server_info exposed from west only, get_storage_info unconfirmed,
    // get_status missing, get_metrics refused everywhere. No location label on cam2.
    const sel = (loc: string) => `job="camprobe",instance="${loc}:9464",location="${loc}",target="cam1",probe="protected_rejection"`;
    const series: Array<{ series: string; values: string }> = [];
    for (const loc of ['east', 'west']) {
      const west = loc === 'west';
      series.push(
        { series: `camprobe_access_matrix_cells{${sel(loc)}}`, values: '18x25' },
        { series: `camprobe_access_matrix_uncovered_cells{${sel(loc)}}`, values: '2x25' },
        { series: `camprobe_access_matrix_sweep_checked_cells{${sel(loc)}}`, values: west ? '12x25' : '16x25' },
        { series: `camprobe_access_matrix_last_sweep_timestamp_seconds{${sel(loc)}}`, values: west ? '600x25' : '1200x25' },
        { series: `camprobe_access_matrix_sweep_period_seconds{${sel(loc)}}`, values: '600x25' },
      );
      for (const method of ['get_server_info', 'get_storage_info', 'get_status', 'get_metrics']) {
        const m = `${sel(loc)},method="${method}"`;
        series.push(
          { series: `camprobe_protected_method_exposed{${m}}`, values: method === 'get_server_info' && west ? '1x25' : '0x25' },
          { series: `camprobe_protected_method_unconfirmed{${m}}`, values: method === 'get_storage_info' ? '1x25' : '0x25' },
          { series: `camprobe_protected_method_missing{${m}}`, values: method === 'get_status' ? '1x25' : '0x25' },
        );
      }
    }
    const cam2 = 'job="camprobe",instance="solo:9464",target="cam2",probe="protected_rejection"';
    series.push(
      { series: `camprobe_protected_method_exposed{${cam2},method="ping"}`, values: '0x25' },
      { series: `camprobe_protected_method_unconfirmed{${cam2},method="ping"}`, values: '0x25' },
      { series: `camprobe_protected_method_missing{${cam2},method="ping"}`, values: '0x25' },
    );
    const exp = (expr: string, samples: Array<[string, number]>) => ({
      expr: grafanaExpr(expr),
      eval_time: '25m',
      exp_samples: samples.map(([labels, value]) => ({ labels, value })),
    });
    const unit = {
      rule_files: [],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: series,
          promql_expr_test: [
            exp(byPanel('Exposed methods').expr, [['{}', 1]]),
            exp(byPanel('Protected methods').expr, [
              ['{target="cam1", method="get_server_info"}', 3],
              ['{target="cam1", method="get_storage_info"}', 2],
              ['{target="cam1", method="get_status"}', 1],
              ['{target="cam1", method="get_metrics"}', 0],
              ['{target="cam2", method="ping"}', 0],
            ]),
            exp(byPanel('Access matrix coverage', 'A').expr, [['{target="cam1", probe="protected_rejection"}', 18]]),
            exp(byPanel('Access matrix coverage', 'B').expr, [['{target="cam1", probe="protected_rejection"}', 12]]),
            exp(byPanel('Access matrix coverage', 'C').expr, [['{target="cam1", probe="protected_rejection"}', 2]]),
            exp(byPanel('Time since last sweep (sweep periods)').expr, [
              ['{target="cam1", probe="protected_rejection", location="east"}', 0.5],
              ['{target="cam1", probe="protected_rejection", location="west"}', 1.5],
            ]),
          ],
        },
      ],
    };
    const file = join(dir, 'access-matrix-panels.yml');
    writeFileSync(file, stringify(unit));
    const { status, output } = promtool(['test', 'rules', file]);
    assert.equal(status, 0, output);
  });

  it('the live-session panels show the session series (promtool test rules with the recording rules, synthetic series)', () => {
    const queries = panelQueries(camprobeDashboard()).filter((q) => q.row === LIVE_SESSIONS_ROW);
    const byPanel = (panel: string, refId = 'A'): PanelQuery => {
      const q = queries.find((x) => x.panel === panel && x.refId === refId);
      assert.ok(q, `no query ${refId} in panel "${panel}"`);
      return q;
    };
    // cam1 from east and west, cam2 from a camprobe without location. At 25m (1500 s):
    // - east holds its session (up 25 minutes); west has just lost it (its heartbeat
    //   failed in the last minute); cam2 up.
    // - east's heartbeats, 100 a minute: 50 under 10 ms, 10 more under 25 ms, the other 40
    //   under 50 ms. auth_flow's status calls, 10 a minute: 5 under 25 ms, 5 under 50 ms.
    // - east: 6 camera_status_update a minute, last notification at 1440 s, last server
    //   ping at 1470 s; west: 1 invalid notification in the last minute.
    // - cam1 east: an expiry check a minute, enforced; the one of the last minute was
    //   not_enforced. One unauthenticated notification in the last minute.
    const sel = (loc: string, probe = 'session') => `job="camprobe",instance="${loc}:9464",location="${loc}",target="cam1",probe="${probe}"`;
    const cam2 = 'job="camprobe",instance="solo:9464",target="cam2",probe="session"';
    const series: Array<{ series: string; values: string }> = [
      { series: `camprobe_session_up{${sel('east')}}`, values: '1x25' },
      { series: `camprobe_session_up{${sel('west')}}`, values: '1x24 0' },
      { series: `camprobe_session_up{${cam2}}`, values: '1x25' },
      { series: `camprobe_session_connected_seconds{${sel('east')}}`, values: '0+60x25' },
      { series: `camprobe_session_connected_seconds{${sel('west')}}`, values: '0+60x24 0' },
      { series: `camprobe_session_disconnects_total{${sel('east')},reason="closed"}`, values: '3x25' },
      { series: `camprobe_session_disconnects_total{${sel('west')},reason="closed"}`, values: '0x25' },
      { series: `camprobe_session_disconnects_total{${sel('west')},reason="heartbeat_failed"}`, values: '0x24 1' },
      { series: `camprobe_session_notifications_total{${sel('east')},method="camera_status_update"}`, values: '0+6x25' },
      { series: `camprobe_session_notifications_total{${sel('east')},method="recording_status_update"}`, values: '0x25' },
      { series: `camprobe_session_invalid_notifications_total{${sel('east')}}`, values: '0x25' },
      { series: `camprobe_session_invalid_notifications_total{${sel('west')}}`, values: '0x24 1' },
      { series: `camprobe_session_last_notification_timestamp_seconds{${sel('east')}}`, values: '1440x25' },
      { series: `camprobe_session_last_server_ping_timestamp_seconds{${sel('east')}}`, values: '0+30x24 1470' },
      { series: `camprobe_session_expiry_checks_total{${sel('east')},result="enforced"}`, values: '0+1x24 24' },
      { series: `camprobe_session_expiry_checks_total{${sel('east')},result="not_enforced"}`, values: '0x24 1' },
      { series: `camprobe_session_expiry_checks_total{${sel('east')},result="inconclusive"}`, values: '0x25' },
      { series: `camprobe_session_unauthenticated_notifications_total{${sel('east')}}`, values: '0x24 1' },
    ];
    const heartbeat: Record<string, number> = { '0.005': 0, '0.01': 50, '0.025': 60, '0.05': 100, '0.1': 100, '0.25': 100, '1': 100, '+Inf': 100 };
    for (const [le, perMinute] of Object.entries(heartbeat)) {
      series.push({ series: `camprobe_session_heartbeat_duration_seconds_bucket{${sel('east')},le="${le}"}`, values: `0+${perMinute}x25` });
    }
    const call: Record<string, number> = { '0.005': 0, '0.01': 0, '0.025': 5, '0.05': 10, '0.1': 10, '0.25': 10, '1': 10, '+Inf': 10 };
    for (const [le, perMinute] of Object.entries(call)) {
      series.push({ series: `camprobe_probe_step_duration_seconds_bucket{${sel('east', 'auth_flow')},step="call",le="${le}"}`, values: `0+${perMinute}x25` });
    }
    const exp = (expr: string, samples: Array<[string, number]>) => ({
      expr: grafanaExpr(expr),
      eval_time: '25m',
      exp_samples: samples.map(([labels, value]) => ({ labels, value })),
    });
    const latency = 'Heartbeat (warm) vs status call (cold) latency';
    const since = 'Time since last notification and server ping';
    const security = 'Session expiry checks and unauthenticated notifications';
    const unit = {
      rule_files: [RULES_FILE],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: series,
          promql_expr_test: [
            exp(byPanel('Session up').expr, [
              ['{target="cam1", probe="session"}', 0],
              ['{target="cam2", probe="session"}', 1],
            ]),
            exp(byPanel('Session connected time').expr, [
              ['{target="cam1", probe="session", location="east"}', 1500],
              ['{target="cam1", probe="session", location="west"}', 0],
            ]),
            exp(byPanel('Session disconnects by reason').expr, [['{target="cam1", location="west", reason="heartbeat_failed"}', 1]]),
            // Over the 5 minutes before 25m: heartbeat p50 at the top of the 10 ms bucket,
            // p99 97.5% into the 25-50 ms bucket; status calls p50 at 25 ms, p99 98% into
            // the 25-50 ms bucket. (promtool compares exactly: these fractions come out
            // exact in floating point.)
            exp(byPanel(latency, 'A').expr, [['{}', 0.01]]),
            exp(byPanel(latency, 'B').expr, [['{}', 0.025 + 0.025 * 0.975]]),
            exp(byPanel(latency, 'C').expr, [['{}', 0.025]]),
            exp(byPanel(latency, 'D').expr, [['{}', 0.025 + 0.025 * 0.98]]),
            exp(byPanel('Session notifications per minute', 'A').expr, [
              ['{target="cam1", location="east", method="camera_status_update"}', 6],
              ['{target="cam1", location="east", method="recording_status_update"}', 0],
            ]),
            exp(byPanel('Session notifications per minute', 'B').expr, [['{target="cam1", location="west"}', 1]]),
            exp(byPanel(since, 'A').expr, [['{target="cam1", location="east"}', 60]]),
            exp(byPanel(since, 'B').expr, [['{target="cam1", location="east"}', 30]]),
            exp(byPanel(security, 'A').expr, [['{target="cam1", result="not_enforced"}', 1]]),
            exp(byPanel(security, 'B').expr, [['{target="cam1"}', 1]]),
          ],
        },
      ],
    };
    const file = join(dir, 'live-session-panels.yml');
    writeFileSync(file, stringify(unit));
    const { status, output } = promtool(['test', 'rules', file]);
    assert.equal(status, 0, output);
  });

  it('the security stat counts every critical security alert that fires, and nothing else (promtool test rules)', () => {
    const q = panelQueries(camprobeDashboard()).find((x) => x.panel === 'Critical security alerts firing');
    assert.ok(q, 'no panel "Critical security alerts firing"');
    const alert = (name: string, state: string, severity: string, category: string, extra: string) =>
      `ALERTS{alertname="${name}",alertstate="${state}",severity="${severity}",category="${category}",target="cam1",${extra}}`;
    const unit = {
      rule_files: [],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // Counted: two exposed methods and a session finding.
            { series: alert('ProtectedMethodExposed', 'firing', 'critical', 'security', 'method="get_server_info"'), values: '1x5' },
            { series: alert('ProtectedMethodExposed', 'firing', 'critical', 'security', 'method="get_metrics"'), values: '1x5' },
            { series: alert('CameraServiceSessionExpiryNotEnforced', 'firing', 'critical', 'security', 'probe="session"'), values: '1x5' },
            // Not counted: pending, a security warning, a critical availability alert.
            { series: alert('CameraServiceUnauthenticatedNotification', 'pending', 'critical', 'security', 'probe="session"'), values: '1x5' },
            { series: alert('ProtectedMethodRejectionUnconfirmed', 'firing', 'warning', 'security', 'method="get_status"'), values: '1x5' },
            { series: alert('CameraServiceSessionHeartbeatFailing', 'firing', 'critical', 'availability', 'probe="session"'), values: '1x5' },
          ],
          promql_expr_test: [{ expr: grafanaExpr(q.expr), eval_time: '5m', exp_samples: [{ labels: '{}', value: 3 }] }],
        },
      ],
    };
    const file = join(dir, 'security-stat.yml');
    writeFileSync(file, stringify(unit));
    const { status, output } = promtool(['test', 'rules', file]);
    assert.equal(status, 0, output);
  });

  it('provisioning points Grafana at the committed dashboards folder and a Prometheus datasource', () => {
    const dashboards = parse(readFileSync(join(root, 'deploy/grafana/provisioning/dashboards/camprobe.yml'), 'utf8'));
    const provider = dashboards.providers[0];
    assert.equal(provider.type, 'file');
    assert.match(provider.options.path, /dashboards/);
    const datasources = parse(readFileSync(join(root, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'));
    assert.equal(datasources.datasources[0].type, 'prometheus');
  });
});
