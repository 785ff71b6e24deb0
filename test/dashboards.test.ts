/**
 * The committed Grafana dashboards are exactly what dashboards/generate.ts produces, the
 * provisioning files point at them, every panel's PromQL parses (promtool), and the
 * access-matrix panels compute what they say from synthetic series (promtool unit test:
 * the end-to-end test only sees the metrics the probes of its camprobe export).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { camprobeDashboard, generate, panelQueries, type PanelQuery } from '../dashboards/generate.js';

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
    ]) {
      assert.ok(titles.includes(wanted), `no panel "${wanted}"`);
    }
  });

  it('the access matrix has its own row, right after Security', () => {
    const rows = (camprobeDashboard().panels ?? []).filter((p) => p.type === 'row').map((p) => (p as { title?: string }).title);
    assert.deepEqual(rows.slice(0, 3), ['Security', 'Access matrix', 'Availability']);
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

  it('provisioning points Grafana at the committed dashboards folder and a Prometheus datasource', () => {
    const dashboards = parse(readFileSync(join(root, 'deploy/grafana/provisioning/dashboards/camprobe.yml'), 'utf8'));
    const provider = dashboards.providers[0];
    assert.equal(provider.type, 'file');
    assert.match(provider.options.path, /dashboards/);
    const datasources = parse(readFileSync(join(root, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'));
    assert.equal(datasources.datasources[0].type, 'prometheus');
  });
});
