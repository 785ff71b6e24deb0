/** What a reload changes, worked out from two configurations alone: no daemon, no sockets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/types.js';
import { desiredJobs, planReload, restartOnlySettings, type DesiredJob, type ScheduledJob } from '../src/daemon/reload-plan.js';
import { BUILTIN_PROBES } from '../src/probes/registry.js';
import { SECRET } from './helpers/harness.js';

/** A config with one target per entry of `targets`: name → the YAML flow list of its probes. */
function config(targets: Record<string, string>, opts: { secretVar?: string; top?: string } = {}): Config {
  const list = Object.entries(targets)
    .map(([name, probes]) => `  - { name: ${name}, url: "ws://${name}.example:8002/ws", probes: ${probes} }`)
    .join('\n');
  const text = `${opts.top ?? ''}
credentials:
  service:
    jwt_secret: { env: ${opts.secretVar ?? 'S'} }
targets:
${list}
`;
  return parseConfig(text, { source: 'test', env: { S: SECRET, OTHER: SECRET }, probeTypes: BUILTIN_PROBES });
}

const jobsOf = (c: Config): DesiredJob[] => desiredJobs(c, c.targets);
/** The jobs a daemon would be running after starting `c`. */
const running = (c: Config): ScheduledJob[] =>
  jobsOf(c).map((j) => ({ target: j.target.name, probe: j.probe.name, type: j.probe.type, fingerprint: j.fingerprint }));
const names = (jobs: readonly DesiredJob[]) => jobs.map((j) => `${j.target.name}/${j.probe.name}`);
const TWO = '[{ type: auth_flow }, { type: camera_list }]';

describe('planReload', () => {
  it('from nothing, every job of the configuration is added, in configuration order', () => {
    const next = config({ a: TWO, b: '[{ type: auth_flow }]' });
    const plan = planReload([], jobsOf(next));
    assert.deepEqual(names(plan.add), ['a/auth_flow', 'a/camera_list', 'b/auth_flow']);
    assert.deepEqual([plan.change, plan.remove, plan.keep], [[], [], []]);
  });

  it('the same configuration read again changes nothing', () => {
    const plan = planReload(running(config({ a: TWO, b: TWO })), jobsOf(config({ a: TWO, b: TWO })));
    assert.equal(plan.keep.length, 4);
    assert.deepEqual([plan.add, plan.change, plan.remove], [[], [], []]);
  });

  it('a dropped target is removed, a new one added, the one left alone kept', () => {
    const plan = planReload(running(config({ alpha: TWO, beta: TWO })), jobsOf(config({ beta: TWO, gamma: TWO })));
    assert.deepEqual(plan.remove.map((j) => `${j.target}/${j.probe}`), ['alpha/auth_flow', 'alpha/camera_list']);
    assert.deepEqual(names(plan.add), ['gamma/auth_flow', 'gamma/camera_list']);
    assert.deepEqual(plan.keep.map((j) => `${j.target}/${j.probe}`), ['beta/auth_flow', 'beta/camera_list']);
    assert.deepEqual(plan.change, []);
  });

  it('new settings restart only the probes they concern, keeping their series', () => {
    const plan = planReload(running(config({ a: TWO, b: TWO })), jobsOf(config({ a: '[{ type: auth_flow, timeout: 3s }, { type: camera_list }]', b: TWO })));
    assert.deepEqual(plan.change.map((c) => [`${c.job.target.name}/${c.job.probe.name}`, c.keepSeries]), [['a/auth_flow', true]]);
    assert.equal(plan.change[0]!.job.probe.timeout_ms, 3000, 'the change carries the new settings');
    assert.equal(plan.keep.length, 3);
  });

  it("a target's own settings restart all its probes, and a credential's every probe using it", () => {
    const before = running(config({ a: TWO, b: TWO }));
    const moved = config({ a: TWO, b: TWO });
    const url = planReload(before, [...jobsOf(moved).slice(0, 2), ...desiredJobs(moved, [{ ...moved.targets[1]!, url: 'ws://b.example:9000/ws' }])]);
    assert.deepEqual(names(url.change.map((c) => c.job)), ['b/auth_flow', 'b/camera_list']);
    const secret = planReload(before, jobsOf(config({ a: TWO, b: TWO }, { secretVar: 'OTHER' })));
    assert.equal(secret.change.length, 4);
    assert.equal(secret.keep.length, 0);
  });

  it('a probe that becomes another type under the same name restarts without its series', () => {
    const plan = planReload(running(config({ a: '[{ type: auth_flow, name: check }]' })), jobsOf(config({ a: '[{ type: camera_list, name: check }]' })));
    assert.deepEqual(plan.change.map((c) => [c.job.probe.type, c.keepSeries]), [['camera_list', false]]);
  });

  it('fingerprints leave out the target\'s other probes', () => {
    const plan = planReload(running(config({ a: '[{ type: auth_flow }]' })), jobsOf(config({ a: TWO })));
    assert.deepEqual(names(plan.add), ['a/camera_list']);
    assert.equal(plan.keep.length, 1, 'adding a probe to a target does not restart the others');
  });
});

describe('restartOnlySettings', () => {
  it('names the settings read only at start that changed', () => {
    const base = config({ a: TWO });
    assert.deepEqual(restartOnlySettings(base, config({ a: TWO })), []);
    const moved = config({ a: TWO }, { top: 'server: { port: 9999, request_timeout: 5s }\nhistory: { runs: 7 }\nlocation: eu-west' });
    assert.deepEqual(restartOnlySettings(base, moved), ['server.port', 'server.request_timeout_ms', 'history', 'location']);
  });
});
