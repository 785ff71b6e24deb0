/**
 * The committed Grafana dashboards are exactly what dashboards/generate.ts produces, and
 * the provisioning files point at them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { camprobeDashboard, generate, panelQueries } from '../dashboards/generate.js';

const root = process.cwd();

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
    ]) {
      assert.ok(titles.includes(wanted), `no panel "${wanted}"`);
    }
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
