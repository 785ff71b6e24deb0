/**
 * Grafana dashboards as code for camprobe, built with @grafana/grafana-foundation-sdk.
 *
 * The generated JSON is committed under deploy/grafana/dashboards/ (Grafana provisions it
 * from there); test/dashboards.test.ts fails when it differs from this generator's output.
 * After editing this file:
 *
 *   npx tsc -p tsconfig.json && node dist/dashboards/generate.js
 *
 * (`--check` compares instead of writing, exit code 1 on a difference.)
 *
 * Queries use the recording rules of deploy/prometheus/rules/camprobe.rules.yml where one
 * exists, and the variables `$target` and `$location`. `location` is optional: with
 * "All" (`.*`) the selectors also match series without the label.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  FieldColorBuilder,
  FieldColorModeId,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type DataTransformerConfig,
  type Threshold,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** The documented latency target of status methods, in seconds (the SLO threshold). */
export const LATENCY_OBJECTIVE_SECONDS = 0.05;

/** Generated files, relative to the repository root. */
export const DASHBOARD_FILES = {
  'deploy/grafana/dashboards/camprobe.json': camprobeDashboard,
} as const;

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
/** Selector of every camprobe series the dashboard filters. */
const SEL = 'target=~"$target", location=~"$location"';

const GREEN = 'green';
const RED = 'red';

function query(expr: string, legend: string, refId = 'A'): DataqueryBuilder {
  return new DataqueryBuilder().expr(expr).legendFormat(legend).refId(refId).range();
}

function instantQuery(expr: string, legend: string, refId = 'A'): DataqueryBuilder {
  return new DataqueryBuilder().expr(expr).legendFormat(legend).refId(refId).instant();
}

function thresholds(steps: Threshold[]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

function legendTable(): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder()
    .displayMode(common.LegendDisplayMode.Table)
    .placement(common.LegendPlacement.Bottom)
    .showLegend(true)
    .calcs(['lastNotNull', 'max']);
}

function timeSeries(title: string, description: string): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .height(8)
    .span(12)
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .legend(legendTable());
}

/** A dashed line at each threshold above the base: objectives drawn on the graph. */
function objectiveLine(panel: timeseries.PanelBuilder, steps: Threshold[]): timeseries.PanelBuilder {
  return panel
    .thresholds(thresholds(steps))
    .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
}

function bigStat(title: string, description: string): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .height(8)
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Background)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** The row of the session probe's panels (its metrics exist only where a session probe runs). */
export const LIVE_SESSIONS_ROW = 'Live sessions';

const SESSION_UP_DOWN: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: { '0': { text: 'DOWN', color: RED, index: 0 }, '1': { text: 'UP', color: GREEN, index: 1 } },
  },
];

const UP_DOWN: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: { '0': { text: 'FAILING', color: RED, index: 0 }, '1': { text: 'OK', color: GREEN, index: 1 } },
  },
];

/**
 * The state of a protected method in protected_rejection's access matrix, worst first:
 * the value of the "Protected methods" table (see accessMatrixStateQuery).
 */
const METHOD_STATES: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: {
      '0': { text: 'refused', color: GREEN, index: 0 },
      '1': { text: 'missing (table drift)', color: 'blue', index: 1 },
      '2': { text: 'UNCONFIRMED', color: 'orange', index: 2 },
      '3': { text: 'EXPOSED', color: RED, index: 3 },
    },
  },
];

/**
 * One row per target and method, its worst state over the selected locations: 3 exposed,
 * 2 unconfirmed (an error that is not a refusal), 1 missing (-32601), 0 refused. The
 * `state` label keeps the three gauges apart through `or`.
 */
export function accessMatrixStateQuery(selector: string): string {
  return `max by (target, method) (
  label_replace(3 * camprobe_protected_method_exposed{${selector}}, "state", "exposed", "", "")
  or label_replace(2 * camprobe_protected_method_unconfirmed{${selector}}, "state", "unconfirmed", "", "")
  or label_replace(camprobe_protected_method_missing{${selector}}, "state", "missing", "", "")
)`;
}

/** The access-matrix table: hide the time column, target and method first. */
const METHOD_TABLE_COLUMNS: DataTransformerConfig = {
  id: 'organize',
  options: { excludeByName: { Time: true }, indexByName: { target: 0, method: 1, Value: 2 }, renameByName: {} },
};

/** The camprobe overview: security and the access matrix first, then availability, latency, live sessions, cameras, runs, camprobe itself. */
export function camprobeDashboard(): Dashboard {
  const obj = LATENCY_OBJECTIVE_SECONDS;
  return new DashboardBuilder('camprobe: camera service synthetic monitoring')
    .uid('camprobe-overview')
    .description('Probes of the camera service (JSON-RPC over WebSocket) by camprobe. Generated by dashboards/generate.ts: do not edit by hand.')
    .tags(['camprobe', 'camera-service', 'synthetic-monitoring', 'generated'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(
      new QueryVariableBuilder('target')
        .label('Target')
        .datasource(DATASOURCE)
        .query('label_values(camprobe_probe_success, target)')
        .definition('label_values(camprobe_probe_success, target)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withVariable(
      new QueryVariableBuilder('location')
        .label('Location')
        .description('Vantage point (the `location` label set in the scrape config); All also matches a camprobe without one.')
        .datasource(DATASOURCE)
        .query('label_values(camprobe_probe_success{target=~"$target"}, location)')
        .definition('label_values(camprobe_probe_success{target=~"$target"}, location)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )

    .withRow(new RowBuilder('Security'))
    .withPanel(
      bigStat(
        'SECURITY VIOLATIONS (time range)',
        'Runs that found a security violation: a protected method answered with a result to missing, forged, expired or too-weak credentials (ProtectedMethodExposed), or a session probe found an expired session still served or a notification sent to an unauthenticated socket (CameraServiceSessionExpiryNotEnforced, CameraServiceUnauthenticatedNotification). Anything but 0 is a security incident: see the runbook of the alert that fired.',
      )
        .span(8)
        .height(6)
        .withTarget(
          instantQuery(
            `sum(increase(camprobe_probe_runs_total{reason="security_violation", ${SEL}}[$__range])) or vector(0)`,
            'violations',
          ),
        )
        .thresholds(thresholds([{ value: null, color: GREEN }, { value: 1, color: RED }]))
        .decimals(0)
        .noValue('0'),
    )
    .withPanel(
      bigStat(
        'Critical security alerts firing',
        'Critical security alerts firing now (ProtectedMethodExposed, CameraServiceSessionExpiryNotEnforced, CameraServiceUnauthenticatedNotification), for the selected targets: one per exposed method or session finding, per camprobe.',
      )
        .span(4)
        .height(6)
        .withTarget(
          instantQuery(
            'count(ALERTS{category="security", severity="critical", alertstate="firing", target=~"$target"}) or vector(0)',
            'firing',
          ),
        )
        .thresholds(thresholds([{ value: null, color: GREEN }, { value: 1, color: RED }]))
        .decimals(0)
        .noValue('0'),
    )
    .withPanel(
      timeSeries(
        'Security violations',
        "Runs that found a security violation (a protected method answering without valid credentials, or a session probe's finding), per target, probe and location.",
      )
        .height(6)
        .withTarget(
          query(
            `sum by (target, probe, location) (increase(camprobe_probe_runs_total{reason="security_violation", ${SEL}}[$__rate_interval]))`,
            '{{target}} {{probe}} {{location}}',
          ),
        )
        .drawStyle(common.GraphDrawStyle.Bars)
        .fillOpacity(80)
        .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Fixed).fixedColor(RED))
        .decimals(0)
        .min(0),
    )

    .withRow(new RowBuilder('Access matrix'))
    .withPanel(
      bigStat(
        'Exposed methods',
        'Protected methods whose latest check got a result to a call they must refuse (access matrix of protected_rejection, any selected location). ProtectedMethodExposed fires once per method.',
      )
        .span(6)
        .withTarget(
          instantQuery(`count(max by (target, method) (camprobe_protected_method_exposed{${SEL}}) > 0) or vector(0)`, 'exposed methods'),
        )
        .thresholds(thresholds([{ value: null, color: GREEN }, { value: 1, color: RED }]))
        .decimals(0)
        .noValue('0'),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Protected methods')
        .description(
          "Every protected method of the target's method table, worst state over the selected locations: EXPOSED (answered a call it must refuse: ProtectedMethodExposed), UNCONFIRMED (an error that is not a refusal: ProtectedMethodRejectionUnconfirmed), missing (-32601, the table has drifted from the service: ProtectedMethodMissing), refused.",
        )
        .datasource(DATASOURCE)
        .height(8)
        .span(18)
        .withTarget(instantQuery(accessMatrixStateQuery(SEL), '').format(PromQueryFormat.Table))
        .withTransformation(METHOD_TABLE_COLUMNS)
        .overrideByName('Value', [
          { id: 'displayName', value: 'state' },
          { id: 'mappings', value: METHOD_STATES },
          { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorBackground } },
        ])
        .sortBy([new common.TableSortByFieldStateBuilder().displayName('state').desc(true)])
        .filterable(true),
    )
    .withPanel(
      timeSeries(
        'Access matrix coverage',
        'Cells of the access matrix (protected method x credential it must refuse), per target and probe: in the matrix, checked in the last completed sweep (lowest location), and left out because they cannot be checked harmlessly or without the signing secret. Checked below cells minus uncovered: a sweep misses cells.',
      )
        .withTarget(query(`max by (target, probe) (camprobe_access_matrix_cells{${SEL}})`, '{{target}} {{probe}} cells', 'A'))
        .withTarget(query(`min by (target, probe) (camprobe_access_matrix_sweep_checked_cells{${SEL}})`, '{{target}} {{probe}} checked', 'B'))
        .withTarget(query(`max by (target, probe) (camprobe_access_matrix_uncovered_cells{${SEL}})`, '{{target}} {{probe}} uncovered', 'C'))
        .decimals(0)
        .min(0),
    )
    .withPanel(
      objectiveLine(
        timeSeries(
          'Time since last sweep (sweep periods)',
          'Time since the access matrix was last swept completely, in sweep periods (camprobe_access_matrix_sweep_period_seconds, default 10 minutes), per target, probe and location; since camprobe started when no sweep has completed. Up to 1 is on time; AccessMatrixSweepStalled fires past 3.',
        )
          .withTarget(
            query(
              `max by (target, probe, location) ((time() - camprobe_access_matrix_last_sweep_timestamp_seconds{${SEL}}) / camprobe_access_matrix_sweep_period_seconds{${SEL}})`,
              '{{target}} {{probe}} {{location}}',
            ),
          )
          .unit('short')
          .min(0),
        [{ value: null, color: GREEN }, { value: 1, color: 'orange' }, { value: 3, color: RED }],
      ),
    )

    .withRow(new RowBuilder('Availability'))
    .withPanel(
      objectiveLine(
        timeSeries('Success ratio per probe', 'Share of the runs of the last 5 minutes that succeeded, per target, probe and location. Below 50% counts as failing for the alerts.')
          .withTarget(
            query(`1 - camprobe:probe_failure:ratio_rate5m{${SEL}}`, '{{target}} {{probe}} {{location}}'),
          )
          .unit('percentunit')
          .min(0)
          .max(1),
        [{ value: null, color: RED }, { value: 0.5, color: GREEN }],
      ),
    )
    .withPanel(
      bigStat('Last run', 'Whether the last finished run of each probe succeeded (worst location). FAILING before the first run too.')
        .withTarget(instantQuery(`min by (target, probe) (camprobe_probe_success{${SEL}})`, '{{target}} {{probe}}'))
        .mappings(UP_DOWN)
        .thresholds(thresholds([{ value: null, color: RED }, { value: 1, color: GREEN }]))
        .span(12),
    )
    .withPanel(
      timeSeries('Failure reasons', 'Failed runs per minute by reason (averaged over 5 minutes), per target and probe.')
        .withTarget(
          query(
            `60 * sum by (target, probe, reason) (camprobe:probe_runs:rate5m{result="failure", ${SEL}}) > 0`,
            '{{target}} {{probe}}: {{reason}}',
          ),
        )
        .drawStyle(common.GraphDrawStyle.Bars)
        .fillOpacity(70)
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
        .unit('short')
        .min(0)
        .span(24),
    )

    .withRow(new RowBuilder('Latency'))
    .withPanel(
      objectiveLine(
        timeSeries(
          'Status call latency vs the 50 ms objective',
          'Percentiles of the `call` step (ping, get_camera_list) over 5 minutes, all selected probes and locations. The dashed line is the documented 50 ms target.',
        )
          .withTarget(query(`histogram_quantile(0.5, sum by (le) (camprobe:probe_step_duration_seconds_bucket:rate5m{step="call", ${SEL}}))`, 'p50', 'A'))
          .withTarget(query(`histogram_quantile(0.9, sum by (le) (camprobe:probe_step_duration_seconds_bucket:rate5m{step="call", ${SEL}}))`, 'p90', 'B'))
          .withTarget(query(`histogram_quantile(0.99, sum by (le) (camprobe:probe_step_duration_seconds_bucket:rate5m{step="call", ${SEL}}))`, 'p99', 'C'))
          .unit('s')
          .min(0),
        [{ value: null, color: GREEN }, { value: obj, color: RED }],
      ),
    )
    .withPanel(
      objectiveLine(
        timeSeries(
          'Slowest duration per step',
          'Slowest duration of each step (dns, connect, tls, upgrade, authenticate, call, control, reject) among the last runs, per interval. Only `call` has a histogram (the series budget): this shows which step is slow.',
        )
          .withTarget(query(`max by (step) (max_over_time(camprobe_probe_step_last_duration_seconds{${SEL}}[$__rate_interval]))`, '{{step}}'))
          .unit('s')
          .min(0),
        [{ value: null, color: GREEN }, { value: obj, color: RED }],
      ),
    )
    .withPanel(
      objectiveLine(
        timeSeries(
          'Latency SLO burn rate',
          'How fast the error budget of the latency SLO (camprobe:latency_slo_objective:ratio of status calls under 50 ms) burns: 1 spends it in exactly 30 days. The alerts page at 14.4 (1 h) and 6 (6 h).',
        )
          .withTarget(query('camprobe:latency_slo_errors:ratio_rate1h{target=~"$target"} / scalar(1 - camprobe:latency_slo_objective:ratio)', '{{target}} 1h', 'A'))
          .withTarget(query('camprobe:latency_slo_errors:ratio_rate6h{target=~"$target"} / scalar(1 - camprobe:latency_slo_objective:ratio)', '{{target}} 6h', 'B'))
          .withTarget(query('camprobe:latency_slo_errors:ratio_rate3d{target=~"$target"} / scalar(1 - camprobe:latency_slo_objective:ratio)', '{{target}} 3d', 'C'))
          .unit('short')
          .min(0),
        [{ value: null, color: GREEN }, { value: 6, color: 'orange' }, { value: 14.4, color: RED }],
      ),
    )
    .withPanel(
      timeSeries('Run duration p99 per probe', 'p99 of whole probe runs (every step, successful or not).')
        .withTarget(
          query(
            `histogram_quantile(0.99, sum by (probe, le) (rate(camprobe_probe_duration_seconds_bucket{${SEL}}[$__rate_interval])))`,
            '{{probe}}',
          ),
        )
        .unit('s')
        .min(0),
    )

    .withRow(new RowBuilder(LIVE_SESSIONS_ROW))
    .withPanel(
      bigStat(
        'Session up',
        'Whether the session held by each session probe (one authenticated WebSocket per target, like an operator console) is open and its last heartbeat was answered, worst location. CameraServiceSessionHeartbeatFailing pages when it is down more than half of 5 minutes from min(2, n) locations.',
      )
        .span(6)
        .withTarget(instantQuery(`min by (target, probe) (camprobe_session_up{${SEL}})`, '{{target}} {{probe}}'))
        .mappings(SESSION_UP_DOWN)
        .thresholds(thresholds([{ value: null, color: RED }, { value: 1, color: GREEN }])),
    )
    .withPanel(
      timeSeries(
        'Session connected time',
        'How long the current connection of each held session has been up, per target, probe and location; back to 0 at each disconnect. A sawtooth with a regular period is a timeout on the path: proxy or load-balancer idle timeout, the token lifetime, a maximum session age.',
      )
        .withTarget(query(`max by (target, probe, location) (camprobe_session_connected_seconds{${SEL}})`, '{{target}} {{probe}} {{location}}'))
        .unit('s')
        .min(0)
        .span(9),
    )
    .withPanel(
      timeSeries(
        'Session disconnects by reason',
        "Disconnects of the held session per interval, per target, location and reason: closed (the service closed it; the close code is in camprobe's log), heartbeat_failed, silent (neither an answer nor a server ping within the bound), error. CameraServiceSessionFlapping fires at 4 in 15 minutes.",
      )
        .withTarget(
          query(
            `sum by (target, location, reason) (increase(camprobe_session_disconnects_total{${SEL}}[$__rate_interval])) > 0`,
            '{{target}} {{location}}: {{reason}}',
          ),
        )
        .drawStyle(common.GraphDrawStyle.Bars)
        .fillOpacity(70)
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
        .decimals(0)
        .min(0)
        .span(9),
    )
    .withPanel(
      objectiveLine(
        timeSeries(
          'Heartbeat (warm) vs status call (cold) latency',
          "Percentiles over 5 minutes, all selected targets and locations: the session probe's heartbeat on its long-lived connection (warm), against the `call` step of the other probes on a connection opened for the run (cold). Warm slower than cold: the service serves long-lived connections worse (a busy per-connection worker, a proxy buffering). The dashed line is the documented 50 ms target.",
        )
          .withTarget(query(`histogram_quantile(0.5, sum by (le) (camprobe:session_heartbeat_duration_seconds_bucket:rate5m{${SEL}}))`, 'heartbeat p50', 'A'))
          .withTarget(query(`histogram_quantile(0.99, sum by (le) (camprobe:session_heartbeat_duration_seconds_bucket:rate5m{${SEL}}))`, 'heartbeat p99', 'B'))
          .withTarget(query(`histogram_quantile(0.5, sum by (le) (camprobe:probe_step_duration_seconds_bucket:rate5m{step="call", ${SEL}}))`, 'status call p50', 'C'))
          .withTarget(query(`histogram_quantile(0.99, sum by (le) (camprobe:probe_step_duration_seconds_bucket:rate5m{step="call", ${SEL}}))`, 'status call p99', 'D'))
          .unit('s')
          .min(0),
        [{ value: null, color: GREEN }, { value: obj, color: RED }],
      ),
    )
    .withPanel(
      timeSeries(
        'Session notifications per minute',
        'Notifications received on the held session per minute, per target, location and method (camera_status_update, recording_status_update, other), and those that failed validation (INVALID: CameraServiceSessionInvalidNotifications). Every location should see the same rate: one that sees fewer misses notifications.',
      )
        .withTarget(
          query(
            `60 * sum by (target, location, method) (rate(camprobe_session_notifications_total{${SEL}}[$__rate_interval]))`,
            '{{target}} {{location}} {{method}}',
            'A',
          ),
        )
        .withTarget(
          query(
            `60 * sum by (target, location) (rate(camprobe_session_invalid_notifications_total{${SEL}}[$__rate_interval])) > 0`,
            '{{target}} {{location}} INVALID',
            'B',
          ),
        )
        .overrideByQuery('B', [{ id: 'color', value: { mode: FieldColorModeId.Fixed, fixedColor: RED } }])
        .unit('short')
        .min(0),
    )
    .withPanel(
      objectiveLine(
        timeSeries(
          'Time since last notification and server ping',
          'Seconds since the held session last received a notification and a WebSocket ping frame from the service, per target and location (no series until the first one since camprobe started). The dashed line is where CameraServiceSessionServerPingsStopped fires for pings while the session is up; notifications only come when a camera or recording changes state, so a long quiet spell there is not an alarm by itself.',
        )
          .withTarget(
            query(
              `time() - max by (target, location) (camprobe_session_last_notification_timestamp_seconds{${SEL}})`,
              '{{target}} {{location}} notification',
              'A',
            ),
          )
          .withTarget(
            query(
              `time() - max by (target, location) (camprobe_session_last_server_ping_timestamp_seconds{${SEL}})`,
              '{{target}} {{location}} server ping',
              'B',
            ),
          )
          .unit('s')
          .min(0),
        [{ value: null, color: GREEN }, { value: 300, color: RED }],
      ),
    )
    .withPanel(
      timeSeries(
        'Session expiry checks and unauthenticated notifications',
        "Expiry checks per interval by result, per target: a session held past its token's exp must be refused (enforced); not_enforced is CameraServiceSessionExpiryNotEnforced, inconclusive means the check could not tell. Notifications received by a socket that never authenticated (UNAUTHENTICATED) are CameraServiceUnauthenticatedNotification. Only enforced (and some inconclusive) is normal.",
      )
        .withTarget(
          query(
            `sum by (target, result) (increase(camprobe_session_expiry_checks_total{${SEL}}[$__rate_interval])) > 0`,
            '{{target}} expiry {{result}}',
            'A',
          ),
        )
        .withTarget(
          query(
            `sum by (target) (increase(camprobe_session_unauthenticated_notifications_total{${SEL}}[$__rate_interval])) > 0`,
            '{{target}} UNAUTHENTICATED notifications',
            'B',
          ),
        )
        .overrideByRegexp('.* expiry enforced', [{ id: 'color', value: { mode: FieldColorModeId.Fixed, fixedColor: GREEN } }])
        .overrideByRegexp('.* expiry inconclusive', [{ id: 'color', value: { mode: FieldColorModeId.Fixed, fixedColor: 'orange' } }])
        .overrideByRegexp('.* (expiry not_enforced|UNAUTHENTICATED notifications)', [{ id: 'color', value: { mode: FieldColorModeId.Fixed, fixedColor: RED } }])
        .drawStyle(common.GraphDrawStyle.Bars)
        .fillOpacity(80)
        .decimals(0)
        .min(0),
    )

    .withRow(new RowBuilder('Cameras'))
    .withPanel(
      timeSeries('Cameras connected', 'Cameras reported by the last successful get_camera_list: connected and total, per target (highest location).')
        .withTarget(query(`max by (target) (camprobe_cameras_connected{${SEL}})`, '{{target}} connected', 'A'))
        .withTarget(query(`max by (target) (camprobe_cameras{${SEL}})`, '{{target}} total', 'B'))
        .decimals(0)
        .min(0)
        .span(16),
    )
    .withPanel(
      bigStat('Connected cameras now', 'Connected cameras per target.')
        .withTarget(instantQuery(`max by (target) (camprobe_cameras_connected{${SEL}})`, '{{target}}'))
        .thresholds(thresholds([{ value: null, color: RED }, { value: 1, color: GREEN }]))
        .decimals(0)
        .span(8),
    )

    .withRow(new RowBuilder('Runs'))
    .withPanel(
      timeSeries('Runs per minute', 'Finished runs per minute by result (averaged over 5 minutes).')
        .withTarget(query(`60 * sum by (target, probe, result) (camprobe:probe_runs:rate5m{${SEL}})`, '{{target}} {{probe}} {{result}}'))
        .unit('short')
        .min(0)
        .span(8),
    )
    .withPanel(
      timeSeries('Skipped runs', 'Runs skipped because the previous run of the probe was still in flight: runs take longer than their interval.')
        .withTarget(
          query(
            `sum by (target, probe) (increase(camprobe_probe_skipped_total{${SEL}}[$__rate_interval]))`,
            '{{target}} {{probe}}',
          ),
        )
        .drawStyle(common.GraphDrawStyle.Bars)
        .decimals(0)
        .min(0)
        .span(8),
    )
    .withPanel(
      objectiveLine(
        timeSeries('Time since last run', 'Seconds since each probe last finished a run. ProbesNotRunning fires past 10 minutes.')
          .withTarget(
            query(
              `time() - max by (target, probe, location) (camprobe_probe_last_run_timestamp_seconds{${SEL}})`,
              '{{target}} {{probe}} {{location}}',
            ),
          )
          .unit('s')
          .min(0)
          .span(8),
        [{ value: null, color: GREEN }, { value: 600, color: RED }],
      ),
    )

    .withRow(new RowBuilder('camprobe health'))
    .withPanel(
      bigStat('camprobe up', 'Whether Prometheus can scrape each camprobe (job camprobe).')
        .withTarget(instantQuery('up{job="camprobe", location=~"$location"}', '{{instance}} {{location}}'))
        .mappings([
          {
            type: MappingType.ValueToText,
            options: { '0': { text: 'DOWN', color: RED, index: 0 }, '1': { text: 'UP', color: GREEN, index: 1 } },
          },
        ])
        .thresholds(thresholds([{ value: null, color: RED }, { value: 1, color: GREEN }]))
        .span(6),
    )
    .withPanel(
      objectiveLine(
        timeSeries('Event-loop lag', 'Node.js event-loop lag of camprobe: high lag delays probe runs and inflates their measured latency.')
          .withTarget(query('nodejs_eventloop_lag_p99_seconds and on (job, instance) camprobe_build_info{location=~"$location"}', '{{instance}} {{location}} p99', 'A'))
          .withTarget(query('nodejs_eventloop_lag_mean_seconds and on (job, instance) camprobe_build_info{location=~"$location"}', '{{instance}} {{location}} mean', 'B'))
          .unit('s')
          .min(0)
          .span(6),
        [{ value: null, color: GREEN }, { value: 0.05, color: RED }],
      ),
    )
    .withPanel(
      timeSeries('Memory', 'Resident memory and used V8 heap of camprobe.')
        .withTarget(query('process_resident_memory_bytes and on (job, instance) camprobe_build_info{location=~"$location"}', '{{instance}} {{location}} resident', 'A'))
        .withTarget(query('nodejs_heap_size_used_bytes and on (job, instance) camprobe_build_info{location=~"$location"}', '{{instance}} {{location}} heap used', 'B'))
        .unit('bytes')
        .min(0)
        .span(6),
    )
    .withPanel(
      timeSeries('CPU', 'CPU time used by camprobe, in cores.')
        .withTarget(
          query(
            'rate(process_cpu_seconds_total[$__rate_interval]) and on (job, instance) camprobe_build_info{location=~"$location"}',
            '{{instance}} {{location}}',
          ),
        )
        .unit('short')
        .min(0)
        .span(6),
    )
    .build();
}

/** The text of a generated file: stable, two-space indented JSON with a final newline. */
export function render(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

/** Every generated file: repository-relative path → its text. */
export function generate(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, build] of Object.entries(DASHBOARD_FILES)) out[path] = render(build());
  return out;
}

/** One PromQL query of a dashboard panel, for tests that run them against Prometheus. */
export interface PanelQuery {
  panel: string;
  /** The title of the row the panel is in ('' above the first row). */
  row: string;
  refId: string;
  expr: string;
}

/**
 * Every panel query of a dashboard (rows included), in panel order. An expanded row's
 * panels follow it at the top level; a collapsed row holds them in its `panels`.
 */
export function panelQueries(dashboard: Dashboard): PanelQuery[] {
  const queries: PanelQuery[] = [];
  type AnyPanel = { type?: string; title?: string; targets?: Array<{ expr?: string; refId?: string }>; panels?: AnyPanel[] };
  let row = '';
  const visit = (p: AnyPanel): void => {
    if (p.type === 'row') row = p.title ?? '';
    for (const t of p.targets ?? []) {
      if (t.expr !== undefined) queries.push({ panel: p.title ?? '', row, refId: t.refId ?? '', expr: t.expr });
    }
    for (const child of p.panels ?? []) visit(child);
  };
  for (const p of (dashboard.panels ?? []) as AnyPanel[]) visit(p);
  return queries;
}

function main(argv: string[]): number {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const check = argv.includes('--check');
  let stale = 0;
  for (const [path, text] of Object.entries(generate())) {
    const file = `${root}${path}`;
    let current: string | undefined;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    if (check) {
      process.stderr.write(`${path} is not what dashboards/generate.ts generates\n`);
      stale++;
    } else {
      writeFileSync(file, text);
      process.stdout.write(`wrote ${path}\n`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
