/** The log of state changes: one line per change of a (target, probe), none per run. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunRecord } from '../src/core/outcome.js';
import { stateLogSink } from '../src/daemon/state-log.js';
import { captureLogger } from './helpers/harness.js';

const T0 = Date.UTC(2026, 0, 5, 9);
const LEVELS: Record<number, string> = { 20: 'debug', 30: 'info', 40: 'warn', 50: 'error' };

function run(probe: string, atS: number, over: Partial<RunRecord> = {}): RunRecord {
  const startedAtMs = T0 + atS * 1000;
  return { target: 'cam', probe, type: probe, startedAt: new Date(startedAtMs).toISOString(), startedAtMs, durationMs: 12, result: 'success', reason: 'ok', steps: [], ...over };
}
const fail = (probe: string, atS: number, reason: RunRecord['reason'], detail = `${reason} detail`): RunRecord =>
  run(probe, atS, { result: 'failure', reason, step: 'connect', detail });
const slow = (probe: string, atS: number): RunRecord => run(probe, atS, { degraded: true, detail: 'step call took 80 ms, over degraded_after.call 50 ms' });

function setup() {
  const { logger, lines } = captureLogger();
  logger.level = 'info';
  const sink = stateLogSink(logger);
  /** The lines logged so far as `level msg probe`, with the fields asked for; then forgotten. */
  const take = (...fields: string[]) => {
    const out = lines.map((l) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      return [`${LEVELS[o.level as number]} ${String(o.msg)} ${String(o.probe)}`, ...fields.filter((f) => f in o).map((f) => `${f}=${String(o[f])}`)].join(' ');
    });
    lines.length = 0;
    return out;
  };
  return { sink, take };
}

describe('state log', () => {
  it('the first verdict, then only changes: down once per reason, recovered with how long', () => {
    const { sink, take } = setup();
    sink.record(run('auth_flow', 0));
    sink.record(run('auth_flow', 30));
    assert.deepEqual(take('duration_ms'), ['info probe up auth_flow duration_ms=12']);

    for (const at of [60, 90, 120]) sink.record(fail('auth_flow', at, 'connect_refused'));
    assert.deepEqual(take('reason', 'step', 'detail'), ['warn probe down auth_flow reason=connect_refused step=connect detail=connect_refused detail']);

    sink.record(fail('auth_flow', 150, 'timeout'));
    sink.record(fail('auth_flow', 180, 'timeout'));
    assert.deepEqual(take('reason', 'previous_reason'), ['warn probe down auth_flow reason=timeout previous_reason=connect_refused']);

    sink.record(run('auth_flow', 190));
    sink.record(run('auth_flow', 220));
    assert.deepEqual(take('down_for', 'down_for_ms', 'reason_was', 'failed_runs'), [
      'info probe recovered auth_flow down_for=2m10s down_for_ms=130000 reason_was=timeout failed_runs=5',
    ]);
  });

  it('a security finding is an error, whatever came before', () => {
    const { sink, take } = setup();
    sink.record(fail('protected_rejection', 0, 'security_violation'));
    sink.record(fail('protected_rejection', 60, 'security_violation'));
    sink.record(fail('protected_rejection', 120, 'rejection_unconfirmed'));
    sink.record(fail('protected_rejection', 180, 'connect_refused'));
    sink.record(fail('protected_rejection', 240, 'security_violation'));
    assert.deepEqual(take('reason'), [
      'error probe down protected_rejection reason=security_violation',
      'error probe down protected_rejection reason=rejection_unconfirmed',
      'warn probe down protected_rejection reason=connect_refused',
      'error probe down protected_rejection reason=security_violation',
    ]);
  });

  it('degraded and back are info, once each; a recovery to a slow run says so', () => {
    const { sink, take } = setup();
    sink.record(slow('camera_list', 0));
    sink.record(slow('camera_list', 30));
    sink.record(run('camera_list', 60));
    sink.record(run('camera_list', 90));
    sink.record(slow('camera_list', 120));
    assert.deepEqual(take('detail', 'degraded_for'), [
      'info probe degraded camera_list detail=step call took 80 ms, over degraded_after.call 50 ms',
      'info probe no longer degraded camera_list degraded_for=1m',
      'info probe degraded camera_list detail=step call took 80 ms, over degraded_after.call 50 ms',
    ]);
    sink.record(fail('camera_list', 150, 'invalid_result'));
    sink.record(slow('camera_list', 180));
    sink.record(slow('camera_list', 210));
    assert.deepEqual(take('degraded', 'down_for'), ['warn probe down camera_list', 'info probe recovered camera_list degraded=true down_for=30s']);
  });

  it('each (target, probe) on its own; forget drops its entry, so memory follows the configuration', () => {
    const { sink, take } = setup();
    sink.record(run('a', 0));
    sink.record(fail('b', 0, 'dns'));
    sink.record(run('a', 1));
    sink.record(fail('b', 1, 'dns'));
    assert.deepEqual(take(), ['info probe up a', 'warn probe down b']);
    assert.equal(sink.size, 2);
    sink.forget('cam', 'b');
    sink.forget('cam', 'never-ran');
    assert.equal(sink.size, 1);
    sink.record(fail('b', 2, 'dns'));
    assert.deepEqual(take(), ['warn probe down b'], 'a forgotten probe starts its story again');
  });

  it('below its level it logs nothing, and still follows the state', () => {
    const { logger, lines } = captureLogger();
    logger.level = 'error';
    const sink = stateLogSink(logger);
    sink.record(run('a', 0));
    sink.record(fail('a', 1, 'timeout'));
    sink.record(run('a', 2));
    assert.deepEqual(lines, []);
    logger.level = 'info';
    sink.record(fail('a', 3, 'timeout'));
    assert.equal(lines.length, 1);
  });
});
