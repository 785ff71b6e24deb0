/** createRunner and the runner's parts that need no network: probes here never connect. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redactor } from '../src/core/secrets.js';
import type { ProbeDefinition } from '../src/probes/types.js';
import { createRunner } from '../src/runner/create-runner.js';
import { configFor, SECRET, silentLogger, withProbeTypes } from './helpers/harness.js';

const NOWHERE = 'ws://127.0.0.1:9/ws';
const noOptions = { type: 'object', additionalProperties: false } as const;

const steady: ProbeDefinition = {
  type: 'steady',
  description: 'a call step and a value, no network',
  optionsSchema: noOptions,
  values: { answer: 'the answer' },
  run: async (ctx) => {
    await ctx.step('call', async () => undefined);
    ctx.setValue('answer', 42);
  },
};

const waits: ProbeDefinition = {
  type: 'waits',
  description: 'waits in its call step until aborted',
  optionsSchema: noOptions,
  run: (ctx) => ctx.step('call', () => new Promise<void>(() => undefined)),
};

describe('createRunner', () => {
  const types = () => new Map<string, ProbeDefinition>([['steady', steady], ['waits', waits]]);

  it('reads every credential at once, so the redactor knows the secrets before any run', () => {
    const config = configFor(NOWHERE, '      - type: auth_flow\n');
    const redactor = new Redactor();
    createRunner({ credentials: config.credentials, probeTypes: types(), logger: silentLogger, redactor, env: { CAMERA_SERVICE_JWT_SECRET: SECRET } });
    assert.equal(redactor.redact(`x ${SECRET} y`), 'x [REDACTED] y');
    assert.throws(
      () => createRunner({ credentials: config.credentials, probeTypes: types(), logger: silentLogger, env: {} }),
      /environment variable CAMERA_SERVICE_JWT_SECRET is not set/,
    );
  });

  it('prepare names the target when its probe type or credential is not loaded', () => {
    withProbeTypes([steady]);
    const config = configFor(NOWHERE, '      - type: steady\n');
    const target = config.targets[0]!;
    const probe = target.probes[0]!;
    const env = { CAMERA_SERVICE_JWT_SECRET: SECRET };
    const runner = createRunner({ credentials: config.credentials, probeTypes: new Map(), logger: silentLogger, env });
    assert.throws(() => runner.prepare(target, probe), /^Error: target sim: probe type steady is not registered$/);
    const noCredentials = createRunner({ credentials: {}, probeTypes: types(), logger: silentLogger, env });
    assert.throws(() => noCredentials.prepare(target, probe), /^Error: target sim: credential service is not loaded$/);
  });

  it('a prepared probe runs again and again, each run timed, with its values and scheduled instant', async () => {
    withProbeTypes([steady]);
    const config = configFor(NOWHERE, '      - type: steady\n');
    const target = config.targets[0]!;
    const runner = createRunner({ credentials: config.credentials, probeTypes: types(), logger: silentLogger, env: { CAMERA_SERVICE_JWT_SECRET: SECRET } });
    const prepared = runner.prepare(target, target.probes[0]!);
    assert.equal(prepared.definition, steady);
    for (const scheduledAtMs of [1_000, 2_000]) {
      const run = await prepared.run({ scheduledAtMs });
      assert.ok(run);
      assert.deepEqual([run.result, run.reason, run.scheduledAtMs, run.values], ['success', 'ok', scheduledAtMs, { answer: 42 }]);
      assert.deepEqual(run.steps.map((s) => [s.step, s.ok]), [['call', true]]);
    }
    const once = await runner.run(target, target.probes[0]!);
    assert.equal(once?.scheduledAtMs, undefined, 'a run nobody scheduled has no scheduled instant');
  });

  it('a run past its deadline is a timeout in the step it was in; a stopped one is not recorded', async () => {
    withProbeTypes([waits]);
    const config = configFor(NOWHERE, '      - type: waits\n        timeout: 50ms\n        interval: 1s\n');
    const target = config.targets[0]!;
    const runner = createRunner({ credentials: config.credentials, probeTypes: types(), logger: silentLogger, env: { CAMERA_SERVICE_JWT_SECRET: SECRET } });
    const prepared = runner.prepare(target, target.probes[0]!);
    const timedOut = await prepared.run();
    assert.deepEqual([timedOut?.reason, timedOut?.step, timedOut?.detail], ['timeout', 'call', 'no result within the 50 ms timeout']);

    const stop = new AbortController();
    const stopped = prepared.run({ stopSignal: stop.signal });
    stop.abort();
    assert.equal(await stopped, undefined);
    assert.equal(await prepared.run({ stopSignal: stop.signal }), undefined, 'a signal aborted before the run starts stops it at once');
  });
});
