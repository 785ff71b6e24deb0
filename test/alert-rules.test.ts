/**
 * The Prometheus rules in deploy/prometheus/rules/ with the real promtool: they load,
 * their unit tests (deploy/prometheus/tests/) pass, every alert has a unit test where it
 * fires and one where it stays silent, and every alert carries what a responder needs
 * (severity, summary, description, a runbook that exists).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

const root = process.cwd();
const RULES_DIR = join(root, 'deploy/prometheus/rules');
const TESTS_DIR = join(root, 'deploy/prometheus/tests');
const RUNBOOK_URL = /^https:\/\/\S+\/(docs\/runbooks\/[a-z0-9-]+\.md)$/;

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Array<AlertRule | { record: string; expr: string }> }>;
}
interface AlertTestCase {
  eval_time: string;
  alertname: string;
  exp_alerts?: Array<{ exp_labels?: Record<string, string> }> | null;
}
interface InhibitRule {
  source_matchers: string[];
  target_matchers: string[];
  equal?: string[];
}
interface UnitTestFile {
  rule_files: string[];
  tests: Array<{ name?: string; alert_rule_test?: AlertTestCase[] }>;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

function run(cmd: string, args: string[]): { status: number | null; stdout: string; output: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, output: `${r.stdout}${r.stderr}` };
}

/** Whether an Alertmanager matcher `alertname="X"` / `alertname=~"X|Y"` (anchored) matches the alert name. */
function matchesAlertname(matcher: string, name: string): boolean {
  const m = /^alertname(=~?)"(.*)"$/.exec(matcher);
  assert.ok(m, `unexpected matcher ${matcher}`);
  return m[1] === '=' ? name === m[2] : new RegExp(`^(?:${m[2]})$`).test(name);
}

/** The labels of every firing case of each alert in the promtool unit tests. */
function firingLabels(testFiles: string[]): Map<string, Array<Record<string, string>>> {
  const out = new Map<string, Array<Record<string, string>>>();
  for (const file of testFiles) {
    for (const t of (parse(readFileSync(file, 'utf8')) as UnitTestFile).tests) {
      for (const c of t.alert_rule_test ?? []) {
        for (const e of c.exp_alerts ?? []) out.set(c.alertname, [...(out.get(c.alertname) ?? []), e.exp_labels ?? {}]);
      }
    }
  }
  return out;
}

function alerts(): AlertRule[] {
  return yamlFiles(RULES_DIR).flatMap((f) =>
    (parse(readFileSync(f, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules.filter((r): r is AlertRule => 'alert' in r)),
  );
}

describe('Prometheus alert and recording rules', () => {
  const ruleFiles = yamlFiles(RULES_DIR);
  const testFiles = yamlFiles(TESTS_DIR);

  it('promtool check rules accepts every rule file', () => {
    assert.ok(ruleFiles.length > 0, 'no rule file');
    const { status, output } = run('promtool', ['check', 'rules', ...ruleFiles]);
    assert.equal(status, 0, output);
    assert.doesNotMatch(output, /FAILED|WARNING/, output);
  });

  it('promtool test rules passes every unit test file', () => {
    assert.ok(testFiles.length > 0, 'no unit test file');
    const { status, output } = run('promtool', ['test', 'rules', ...testFiles]);
    assert.equal(status, 0, output);
    assert.equal(output.match(/SUCCESS/g)?.length, testFiles.length, output);
  });

  it('every alert has a unit test where it fires and one where it stays silent', () => {
    const firing = new Set<string>();
    const silent = new Set<string>();
    for (const file of testFiles) {
      const unit = parse(readFileSync(file, 'utf8')) as UnitTestFile;
      for (const t of unit.tests) {
        for (const c of t.alert_rule_test ?? []) {
          (c.exp_alerts && c.exp_alerts.length > 0 ? firing : silent).add(c.alertname);
        }
      }
    }
    const names = alerts().map((a) => a.alert);
    assert.ok(names.length >= 9, `only ${names.length} alerts`);
    for (const name of names) {
      assert.ok(firing.has(name), `${name}: no unit test case where it fires`);
      assert.ok(silent.has(name), `${name}: no unit test case where it stays silent`);
    }
    for (const name of [...firing, ...silent]) assert.ok(names.includes(name), `unit tests name an unknown alert ${name}`);
  });

  it('every alert has severity, category, summary, description and a runbook that exists', () => {
    const seen = new Set<string>();
    for (const a of alerts()) {
      assert.ok(!seen.has(a.alert), `${a.alert} defined twice`);
      seen.add(a.alert);
      assert.match(a.labels?.severity ?? '', /^(critical|warning)$/, `${a.alert}: labels.severity`);
      assert.match(a.labels?.category ?? '', /^(availability|latency|security|monitoring)$/, `${a.alert}: labels.category`);
      assert.ok((a.annotations?.summary ?? '').length > 10, `${a.alert}: annotations.summary`);
      assert.ok((a.annotations?.description ?? '').length > 20, `${a.alert}: annotations.description`);
      const m = RUNBOOK_URL.exec(a.annotations?.runbook_url ?? '');
      assert.ok(m, `${a.alert}: annotations.runbook_url must link to docs/runbooks/<name>.md, got ${a.annotations?.runbook_url}`);
      const runbook = join(root, m[1]!);
      assert.ok(existsSync(runbook), `${a.alert}: runbook ${m[1]} does not exist`);
      assert.match(readFileSync(runbook, 'utf8'), new RegExp(a.alert), `${a.alert}: runbook ${m[1]} does not name the alert`);
    }
  });

  it('security alerts: ProtectedMethodExposed and the two session findings, critical at once, and the rejection-unconfirmed warning, nothing else', () => {
    const security = alerts().filter((a) => a.labels?.category === 'security');
    assert.deepEqual(security.map((a) => a.alert).sort(), [
      'CameraServiceSessionExpiryNotEnforced',
      'CameraServiceUnauthenticatedNotification',
      'ProtectedMethodExposed',
      'ProtectedMethodRejectionUnconfirmed',
    ]);
    const atOnce = (a: AlertRule) => a.for === undefined || /^0[smh]?$/.test(a.for);

    const exposed = security.find((a) => a.alert === 'ProtectedMethodExposed')!;
    assert.equal(exposed.labels?.severity, 'critical');
    assert.ok(atOnce(exposed), `for: ${exposed.for}`);
    // Per method from the access matrix's gauge; per run for probes without it, unless
    // the same camprobe exports the gauge for that probe (no second alert without method),
    // and not for session probes, whose violations the session alerts below name.
    assert.match(exposed.expr, /^camprobe_protected_method_exposed > 0\b/);
    assert.match(exposed.expr, /increase\(camprobe_probe_runs_total\{reason="security_violation"\}\[\w+\]\) > 0/);
    assert.match(
      exposed.expr,
      /unless on \(job, instance, target, probe\)\s+camprobe_protected_method_exposed\s+unless on \(job, instance, target, probe\)\s+camprobe_probe_info\{type="session"\}\s*\)\s*$/,
    );

    // The session probe's two security checks: the first finding fires, with its own name.
    for (const [name, counter] of [
      ['CameraServiceSessionExpiryNotEnforced', 'camprobe_session_expiry_checks_total{result="not_enforced"}'],
      ['CameraServiceUnauthenticatedNotification', 'camprobe_session_unauthenticated_notifications_total'],
    ] as const) {
      const a = security.find((x) => x.alert === name)!;
      assert.equal(a.labels?.severity, 'critical', `${name}: severity`);
      assert.ok(atOnce(a), `${name}: for: ${a.for}`);
      const c = counter.replace(/[{}]/g, '\\$&');
      assert.match(a.expr, new RegExp(`^increase\\(${c}\\[\\w+\\]\\) > 0\\b`), `${name}: expr`);
      // A series first scraped with a finding already counted (increase() needs two samples).
      assert.match(a.expr, new RegExp(`${c} > 0\\s+unless\\s+${c} offset \\w+`), `${name}: expr`);
    }

    const unconfirmed = security.find((a) => a.alert === 'ProtectedMethodRejectionUnconfirmed')!;
    assert.equal(unconfirmed.labels?.severity, 'warning');
    assert.match(unconfirmed.expr, /^camprobe_protected_method_unconfirmed > 0\b/);
    assert.match(unconfirmed.expr, /camprobe_probe_runs_total\{reason="rejection_unconfirmed"\}/);
  });

  it('every alert on a per-method gauge names the method in its summary and description', () => {
    const perMethod = alerts().filter((a) => /\bcamprobe_protected_method_\w+/.test(a.expr));
    assert.deepEqual(perMethod.map((a) => a.alert).sort(), ['ProtectedMethodExposed', 'ProtectedMethodMissing', 'ProtectedMethodRejectionUnconfirmed']);
    for (const a of perMethod) {
      assert.match(a.annotations?.summary ?? '', /\{\{ \$labels\.method \}\}/, `${a.alert}: summary`);
      assert.match(a.annotations?.description ?? '', /\{\{ \$labels\.method \}\}/, `${a.alert}: description`);
    }
    const missing = perMethod.find((a) => a.alert === 'ProtectedMethodMissing')!;
    assert.match(missing.annotations?.description ?? '', /`methods:`/, 'ProtectedMethodMissing says to fix the methods: table');
  });

  it('the access-matrix sweep alert compares each sweep timestamp with its own period', () => {
    const stalled = alerts().find((a) => a.alert === 'AccessMatrixSweepStalled');
    assert.ok(stalled, 'no AccessMatrixSweepStalled');
    assert.equal(stalled.labels?.category, 'monitoring');
    assert.equal(stalled.labels?.severity, 'warning');
    assert.match(stalled.expr, /time\(\) - camprobe_access_matrix_last_sweep_timestamp_seconds\s*>\s*3 \* camprobe_access_matrix_sweep_period_seconds/);
  });

  it('the sample prometheus.yml is valid and loads the rules', () => {
    const { status, output } = run('promtool', ['check', 'config', join(root, 'deploy/prometheus/prometheus.yml')]);
    assert.equal(status, 0, output);
    assert.match(output, /camprobe\.rules\.yml/);
  });

  it('alertmanager.yml routes security alerts to their own receiver, first, and inhibits only known alerts', () => {
    const am = parse(readFileSync(join(root, 'deploy/prometheus/alertmanager.yml'), 'utf8'));
    const [first] = am.route.routes;
    assert.deepEqual(first.matchers, ['category="security"']);
    assert.equal(first.continue, false);
    assert.notEqual(first.receiver, am.route.receiver);
    const otherReceivers = am.route.routes.slice(1).map((r: { receiver: string }) => r.receiver);
    assert.ok(!otherReceivers.includes(first.receiver), 'the security receiver is shared with other routes');
    // The security route's children (the warning's repeat interval) keep its receiver.
    for (const child of first.routes ?? []) assert.ok(child.receiver === undefined || child.receiver === first.receiver, 'a security sub-route leaves the security receiver');
    const names = new Set(alerts().map((a) => a.alert));
    const security = alerts().filter((a) => a.labels?.category === 'security').map((a) => a.alert);
    // Named, so the check below cannot pass vacuously for an alert that lost its category.
    for (const n of ['ProtectedMethodExposed', 'ProtectedMethodRejectionUnconfirmed', 'CameraServiceSessionExpiryNotEnforced', 'CameraServiceUnauthenticatedNotification']) {
      assert.ok(security.includes(n), `${n} is not a security alert`);
    }
    for (const rule of am.inhibit_rules) {
      for (const m of [...rule.source_matchers, ...rule.target_matchers] as string[]) {
        const value = /^alertname=~?"(.*)"$/.exec(m)?.[1];
        assert.ok(value, `unexpected matcher ${m}`);
        for (const n of value.split('|')) assert.ok(names.has(n), `inhibit rule names unknown alert ${n}`);
      }
      // Every security alert, critical or warning, is never a target of an inhibition.
      for (const m of rule.target_matchers as string[]) {
        for (const n of security) assert.ok(!matchesAlertname(m, n), `inhibit rule ${m} would silence security alert ${n}`);
      }
    }
  });

  it('inhibition: one page per outage, never a security alert, never across targets', () => {
    const am = parse(readFileSync(join(root, 'deploy/prometheus/alertmanager.yml'), 'utf8')) as { inhibit_rules: InhibitRule[] };
    const all = alerts();
    // The source alerts that can silence an alert, by name.
    const inhibitors = (name: string): string[] =>
      am.inhibit_rules
        .filter((r) => r.target_matchers.some((m) => matchesAlertname(m, name)))
        .flatMap((r) => all.map((a) => a.alert).filter((n) => r.source_matchers.some((m) => matchesAlertname(m, n))));

    for (const a of all.filter((x) => x.labels?.category === 'security')) {
      assert.deepEqual(inhibitors(a.alert), [], `security alert ${a.alert} can be inhibited`);
    }
    // The live session's availability alerts follow the outage that causes them...
    for (const n of ['CameraServiceSessionHeartbeatFailing', 'CameraServiceSessionFlapping', 'CameraServiceSessionServerPingsStopped']) {
      assert.ok(inhibitors(n).includes('CameraServiceDown'), `${n} is not inhibited by CameraServiceDown`);
    }
    for (const n of ['CameraServiceSessionFlapping', 'CameraServiceSessionServerPingsStopped']) {
      assert.ok(inhibitors(n).includes('CameraServiceSessionHeartbeatFailing'), `${n} is not inhibited by CameraServiceSessionHeartbeatFailing`);
    }
    // ...but an invalid notification is not caused by an outage.
    assert.deepEqual(inhibitors('CameraServiceSessionInvalidNotifications'), []);

    // Alertmanager counts a label missing on both sides as equal: an `equal` label that a
    // target alert can lack would let any source alert silence it, on every target. Every
    // firing case of every target alert in the unit tests must carry each `equal` label.
    const firing = firingLabels(yamlFiles(TESTS_DIR));
    for (const rule of am.inhibit_rules) {
      assert.ok((rule.equal ?? []).length > 0, `inhibit rule ${rule.source_matchers.join(',')} has no equal labels`);
      for (const a of all.filter((x) => rule.target_matchers.some((m) => matchesAlertname(m, x.alert)))) {
        const cases = firing.get(a.alert) ?? [];
        assert.ok(cases.length > 0, `${a.alert}: no firing unit test case`);
        for (const labels of cases) {
          for (const l of rule.equal ?? []) assert.ok(labels[l], `${a.alert} fires without label ${l}, which inhibit rule ${rule.source_matchers.join(',')} requires equal`);
        }
      }
    }
  });

  it('amtool agrees on the routing', () => {
    // Installed by .ci/run and `npm test`'s pretest (Debian package prometheus-alertmanager).
    assert.ok(!spawnSync('amtool', ['--version']).error, 'amtool is installed');
    const config = join(root, 'deploy/prometheus/alertmanager.yml');
    const check = run('amtool', ['check-config', config]);
    assert.equal(check.status, 0, check.output);
    const route = (labels: string[]) => run('amtool', ['config', 'routes', 'test', `--config.file=${config}`, ...labels]).stdout.trim().split('\n').at(-1);
    assert.equal(route(['alertname=ProtectedMethodExposed', 'severity=critical', 'category=security', 'target=cam1']), 'security-oncall');
    assert.equal(route(['alertname=ProtectedMethodExposed', 'severity=critical', 'category=security', 'target=cam1', 'method=get_server_info']), 'security-oncall');
    // A security warning goes to the security receiver, not to the tickets of other warnings.
    assert.equal(route(['alertname=ProtectedMethodRejectionUnconfirmed', 'severity=warning', 'category=security', 'target=cam1', 'method=get_storage_info']), 'security-oncall');
    // The session probe's security findings too, not the availability pager.
    assert.equal(route(['alertname=CameraServiceSessionExpiryNotEnforced', 'severity=critical', 'category=security', 'target=cam1', 'probe=session', 'result=not_enforced']), 'security-oncall');
    assert.equal(route(['alertname=CameraServiceUnauthenticatedNotification', 'severity=critical', 'category=security', 'target=cam1', 'probe=session']), 'security-oncall');
    assert.equal(route(['alertname=AccessMatrixSweepStalled', 'severity=warning', 'category=monitoring', 'target=cam1']), 'ops-tickets');
    assert.equal(route(['alertname=ProtectedMethodMissing', 'severity=warning', 'category=monitoring', 'target=cam1', 'method=get_status']), 'ops-tickets');
    assert.equal(route(['alertname=CameraServiceDown', 'severity=critical', 'category=availability', 'target=cam1']), 'oncall-pager');
    // The live session: the heartbeat pages, the warnings open tickets.
    assert.equal(route(['alertname=CameraServiceSessionHeartbeatFailing', 'severity=critical', 'category=availability', 'target=cam1', 'probe=session']), 'oncall-pager');
    for (const n of ['CameraServiceSessionFlapping', 'CameraServiceSessionServerPingsStopped', 'CameraServiceSessionInvalidNotifications']) {
      assert.equal(route([`alertname=${n}`, 'severity=warning', 'category=availability', 'target=cam1', 'probe=session']), 'ops-tickets', n);
    }
    assert.equal(route(['alertname=ProbesNotRunning', 'severity=warning', 'category=monitoring']), 'ops-tickets');
  });
});
