import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { assertCannotSucceed } from '../src/probes/access-matrix-run.js';
import { type ProbeDefinition } from '../src/probes/types.js';
import { ProbeError, type RunRecord } from '../src/core/outcome.js';
import { captureLogger, configFor, runOnce, SECRET, withProbeTypes } from './helpers/harness.js';

const ALL = `      - type: auth_flow
      - type: camera_list
      - type: protected_rejection
`;

function assertFailure(run: RunRecord, reason: string, step?: string): void {
  assert.equal(run.result, 'failure', `expected failure, got ${run.result} (${run.detail ?? ''})`);
  assert.equal(run.reason, reason, `reason (detail: ${run.detail})`);
  if (step) assert.equal(run.step, step, `step (detail: ${run.detail})`);
}

function assertSuccess(run: RunRecord): void {
  assert.equal(run.result, 'success', `expected success, got ${run.reason}: ${run.detail ?? ''}`);
  assert.equal(run.reason, 'ok');
}

describe('probes against the simulator', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
  });
  after(() => sim.close());
  beforeEach(() => {
    sim.setFaults({});
    sim.setCameras([
      { device: 'camera0', status: 'CONNECTED' },
      { device: 'camera1', status: 'DISCONNECTED' },
    ]);
  });

  describe('auth_flow', () => {
    it('succeeds, timing connect, upgrade, authenticate and the call', async () => {
      const run = await runOnce(configFor(sim.url, ALL), 'auth_flow');
      assertSuccess(run);
      assert.deepEqual(
        run.steps.map((s) => s.step),
        ['connect', 'upgrade', 'authenticate', 'call'],
      );
      assert.ok(run.steps.every((s) => s.ok && s.durationMs >= 0));
    });

    it('degraded_after: a slow call marks a successful run degraded; a fast one does not', async () => {
      sim.setFaults({ methodLatencyMs: { ping: 120 } });
      const probes = `      - type: auth_flow
        degraded_after: { call: 100ms }
      - type: auth_flow
        name: relaxed
        degraded_after: { run: 9s }
`;
      const config = configFor(sim.url, probes);
      const slow = await runOnce(config, 'auth_flow');
      assertSuccess(slow);
      assert.equal(slow.degraded, true);
      assert.match(slow.detail!, /^step call took \d+(\.\d)? ms, over degraded_after\.call 100 ms$/);
      const relaxed = await runOnce(config, 'relaxed');
      assertSuccess(relaxed);
      assert.equal(relaxed.degraded, undefined);
      assert.equal(relaxed.detail, undefined);
    });

    it('degraded_after never turns a failure into degraded', async () => {
      sim.setFaults({ methodLatencyMs: { ping: 120 }, refuseValidCredentials: true });
      const run = await runOnce(configFor(sim.url, '      - type: auth_flow\n        degraded_after: 10ms\n'), 'auth_flow');
      assertFailure(run, 'auth_rejected');
      assert.equal(run.degraded, undefined);
    });

    it('valid credentials refused: auth_rejected at authenticate', async () => {
      sim.setFaults({ refuseValidCredentials: true });
      assertFailure(await runOnce(configFor(sim.url, ALL), 'auth_flow'), 'auth_rejected', 'authenticate');
    });

    it('a role other than the expected one: invalid_result', async () => {
      const config = configFor(sim.url, '      - type: auth_flow\n        expect_role: admin\n');
      const run = await runOnce(config, 'auth_flow');
      assertFailure(run, 'invalid_result', 'authenticate');
      assert.match(run.detail!, /role is "viewer", expected "admin"/);
    });

    it('slower than the timeout: timeout, at the step that was running', async () => {
      sim.setFaults({ methodLatencyMs: { ping: 2000 } });
      const config = configFor(sim.url, '      - type: auth_flow\n        timeout: 300ms\n        interval: 1s\n');
      const t0 = Date.now();
      const run = await runOnce(config, 'auth_flow');
      assertFailure(run, 'timeout', 'call');
      assert.ok(Date.now() - t0 < 300 + 1000, 'ended within the timeout plus the close deadline');
    });

    it('rate limited: rate_limited', async () => {
      sim.setFaults({ rateLimited: true });
      assertFailure(await runOnce(configFor(sim.url, ALL), 'auth_flow'), 'rate_limited', 'authenticate');
    });
  });

  describe('camera_list', () => {
    it('succeeds and reports the camera counts', async () => {
      const run = await runOnce(configFor(sim.url, ALL), 'camera_list');
      assertSuccess(run);
      assert.deepEqual(run.values, { cameras: 2, cameras_connected: 1 });
    });

    it('an empty list is healthy', async () => {
      sim.setCameras([]);
      const run = await runOnce(configFor(sim.url, ALL), 'camera_list');
      assertSuccess(run);
      assert.deepEqual(run.values, { cameras: 0, cameras_connected: 0 });
    });

    it('an inconsistent result: invalid_result naming the field', async () => {
      sim.setFaults({ malformedCameraList: true });
      const run = await runOnce(configFor(sim.url, ALL), 'camera_list');
      assertFailure(run, 'invalid_result', 'call');
      assert.match(run.detail!, /"total"/);
    });

    it('fewer connected cameras than min_connected: invalid_result', async () => {
      const config = configFor(sim.url, '      - type: camera_list\n        min_connected: 2\n');
      const run = await runOnce(config, 'camera_list');
      assertFailure(run, 'invalid_result', 'call');
      assert.match(run.detail!, /1 connected, expected at least 2/);
    });
  });

  describe('protected_rejection', () => {
    /** The whole matrix in one run, as `camprobe once` does it, unpaced against the simulator. */
    const FAST = '      - type: protected_rejection\n        once_requests_per_minute: 60000\n';
    const whole = (config: ReturnType<typeof configFor>) => runOnce(config, 'protected_rejection', undefined, { exhaustive: true, timeoutMs: 30_000 });

    it('passes when every cell is refused, and never runs a protected method', async () => {
      const before = { ...sim.stats().executedByMethod };
      const run = await whole(configFor(sim.url, FAST));
      assertSuccess(run);
      const access = run.access!;
      assert.equal(access.checked, access.cells, 'an exhaustive run checks every cell');
      assert.ok(access.cells > 150, `${access.cells} cells`);
      assert.deepEqual(access.findings, []);
      assert.ok(Object.values(access.methods).every((s) => s === 'refused' || s === 'unchecked'));
      // Only the control's read-only calls with the valid credential ran; no cell ever executed.
      const control = ['ping', 'authenticate', 'get_camera_list', 'list_recordings'];
      const after = sim.stats().executedByMethod;
      for (const method of Object.keys(after)) {
        if (!control.includes(method)) assert.equal(after[method], before[method], `${method} executed`);
      }
    });

    it('a protected method answered without valid credentials: security_violation naming each method', async () => {
      sim.setFaults({ exposeProtected: true });
      const run = await whole(configFor(sim.url, FAST));
      assertFailure(run, 'security_violation', 'reject');
      assert.match(run.detail!, /^exposed: \d+ methods: .*get_camera_list to no credential/);
      assert.equal(run.access!.methods.get_server_info, 'exposed');
      // Every credential class and both ways of presenting it, for one admin method.
      const one = await whole(configFor(sim.url, `${FAST}        method: get_metrics\n`));
      assertFailure(one, 'security_violation', 'reject');
      const ways = one.access!.findings.filter((f) => f.method === 'get_metrics').map((f) => `${f.credential} ${f.usage}`);
      for (const what of ['no credential none', 'forged token per_call', 'expired token session', 'unsigned (alg none) token per_call', 'malformed token session', 'viewer token per_call', 'operator token session']) {
        assert.ok(ways.includes(what), `get_metrics exposed to ${what}: ${ways.join('; ')}`);
      }
      assert.equal(run.access!.methods.get_server_info, 'exposed');
    });

    it('a service that refuses everyone is not a pass: the control fails first', async () => {
      sim.setFaults({ refuseValidCredentials: true });
      assertFailure(await whole(configFor(sim.url, FAST)), 'auth_rejected', 'control');
    });

    it('a refusal with a code outside reject_codes: rejection_unconfirmed, never rpc_error', async () => {
      const config = configFor(sim.url, `${FAST}        reject_codes: [-32001]\n`);
      const run = await whole(config);
      assertFailure(run, 'rejection_unconfirmed', 'reject');
      assert.match(run.detail!, /-32003/);
    });
  });

  it('with the service down every probe fails with a connection reason, never a pass', async () => {
    const down = await startSimulator({ jwtSecret: SECRET });
    const url = down.url;
    await down.close();
    const config = configFor(url, ALL);
    for (const probe of ['auth_flow', 'camera_list', 'protected_rejection']) {
      assertFailure(await runOnce(config, probe), 'connect_refused', 'connect');
    }
  });
});

describe('the runner survives probes that misbehave', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
  });
  after(() => sim.close());

  const throwing: ProbeDefinition = {
    type: 'throws',
    description: 'a buggy script',
    optionsSchema: { type: 'object', additionalProperties: false },
    async run(ctx) {
      await ctx.connect();
      throw new TypeError('cannot read properties of undefined');
    },
  };
  const hanging: ProbeDefinition = {
    type: 'hangs',
    description: 'a script that ignores its abort signal',
    optionsSchema: { type: 'object', additionalProperties: false },
    async run(ctx) {
      await ctx.connect();
      await new Promise(() => undefined);
    },
  };
  let leakAsBug = false;
  const leaky: ProbeDefinition = {
    type: 'leaks',
    description: 'echoes a token into its error',
    optionsSchema: { type: 'object', additionalProperties: false },
    async run(ctx) {
      const token = await ctx.credentials.valid();
      if (leakAsBug) {
        throw new Error(`bug while holding ${token} and ${SECRET}`);
      }
      throw new ProbeError('rpc_error', `service said: bad token ${token} (secret ${SECRET})`);
    },
  };

  it('a probe that throws a bug: internal, its connection closed', async () => {
    withProbeTypes([throwing]);
    const run = await runOnce(configFor(sim.url, '      - type: throws\n'), 'throws');
    assertFailure(run, 'internal');
    assert.match(run.detail!, /TypeError/);
    assert.equal(sim.stats().openConnections, 0);
  });

  it('a probe that never settles: timeout at its deadline, its connection closed', async () => {
    withProbeTypes([hanging]);
    const t0 = Date.now();
    const run = await runOnce(configFor(sim.url, '      - type: hangs\n        timeout: 200ms\n        interval: 1s\n'), 'hangs');
    assertFailure(run, 'timeout');
    assert.ok(Date.now() - t0 < 200 + 1000);
    assert.equal(sim.stats().openConnections, 0);
  });

  it('tokens and secrets in a failure detail are redacted, in the record and in the log', async () => {
    withProbeTypes([leaky]);
    const { logger, lines } = captureLogger();
    const run = await runOnce(configFor(sim.url, '      - type: leaks\n'), 'leaks', logger);
    assertFailure(run, 'rpc_error');
    assert.ok(!run.detail!.includes(SECRET), run.detail);
    assert.ok(!/eyJ[A-Za-z0-9_-]+\./.test(run.detail!), run.detail);
    assert.match(run.detail!, /\[REDACTED\]/);
    let log = lines.join('');
    assert.ok(log.includes('probe run failed'));
    assert.ok(!log.includes(SECRET) && !/eyJ[A-Za-z0-9_-]+\./.test(log), log);

    // The same secrets thrown as a plain Error (a bug): the stack logged is redacted too.
    leakAsBug = true;
    lines.length = 0;
    const bug = await runOnce(configFor(sim.url, '      - type: leaks\n'), 'leaks', logger);
    assertFailure(bug, 'internal');
    log = lines.join('');
    assert.ok(log.includes('probe threw an unexpected error'), log);
    assert.ok(!log.includes(SECRET) && !/eyJ[A-Za-z0-9_-]+\./.test(log) && !bug.detail!.includes(SECRET), log);
  });
});

describe('assertCannotSucceed', () => {
  const target = configFor('ws://127.0.0.1:1/ws', '      - type: auth_flow\n').targets[0]!;
  it('refuses a credential strong enough for the method', () => {
    assert.throws(() => assertCannotSucceed(target, 'get_camera_list', 'viewer', false), /could succeed/);
    assert.throws(() => assertCannotSucceed(target, 'get_server_info', 'admin', false), /could succeed/);
    assert.throws(() => assertCannotSucceed(target, 'take_snapshot', 'operator', true), /could succeed/);
  });
  it('refuses a side-effecting method with no known harmless params unless explicitly allowed, even with a weak credential', () => {
    assert.throws(() => assertCannotSucceed(target, 'set_retention_policy', 'viewer', false), /side effects/);
    assert.throws(() => assertCannotSucceed(target, 'cleanup_old_files', undefined, false), /side effects/);
    assert.doesNotThrow(() => assertCannotSucceed(target, 'cleanup_old_files', 'viewer', true));
    // Called only with params naming a camera that cannot exist: harmless even if wrongly authorised.
    assert.doesNotThrow(() => assertCannotSucceed(target, 'take_snapshot', 'viewer', false));
  });
  it('allows an invalid or too-weak credential on a read-only method', () => {
    assert.doesNotThrow(() => assertCannotSucceed(target, 'get_server_info', undefined, false));
    assert.doesNotThrow(() => assertCannotSucceed(target, 'get_server_info', 'operator', false));
  });
});
