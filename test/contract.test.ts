/** Contract validation: every answer checked against the shipped OpenRPC document. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ConfigError } from '../src/config/load.js';
import type { RunRecord } from '../src/core/outcome.js';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { configFor, runOnce, SECRET } from './helpers/harness.js';

const DOC = join(process.cwd(), 'config/camera-service.openrpc.json');
const CONTRACT = `contract: { openrpc: ${DOC} }`;
const PROBES = `      - type: auth_flow
      - type: camera_list
      - type: protected_rejection
      - type: rpc
        name: server_info
        method: get_server_info
        credential: admin
      - type: rpc
        name: status_unknown
        method: get_camera_status
        params: { device: nope }
        expect: error
`;

function assertSuccess(run: RunRecord): void {
  assert.equal(run.result, 'success', `${run.probe}: expected success, got ${run.reason}: ${run.detail ?? ''}`);
}

describe('contract validation (OpenRPC)', () => {
  let sim: Simulator;
  let dir: string;
  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
    dir = mkdtempSync(join(tmpdir(), 'camprobe-contract-'));
  });
  after(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    sim.setFaults({});
    sim.setCameras([
      { device: 'camera0', status: 'CONNECTED', name: 'Camera 0', resolution: '1920x1080', fps: 30 },
      { device: '/dev/video1', status: 'DISCONNECTED' },
    ]);
  });

  it('a conforming service passes every probe, old and new device names alike', async () => {
    const config = configFor(sim.url, PROBES, CONTRACT);
    assert.equal(config.targets[0]!.contract?.openrpc, DOC);
    for (const probe of ['auth_flow', 'camera_list', 'protected_rejection', 'server_info', 'status_unknown']) {
      assertSuccess(await runOnce(config, probe));
    }
  });

  it('an answer off the contract fails with contract_violation, naming the JSON pointer and what was expected', async () => {
    const config = configFor(sim.url, PROBES, CONTRACT);
    sim.setCameras([{ device: 'camera0', status: 'BROKEN' as 'ERROR' }]);
    const run = await runOnce(config, 'camera_list');
    assert.equal(run.reason, 'contract_violation', run.detail);
    assert.equal(run.step, 'call');
    assert.equal(
      run.detail,
      'get_camera_list answered /result/cameras/0/status: must be one of "CONNECTED", "DISCONNECTED", "ERROR" (contract camera-service.openrpc.json)',
    );
    sim.setCameras([{ device: 'camera0', status: 'CONNECTED', fps: 'thirty' as unknown as number }]);
    const fps = await runOnce(config, 'camera_list');
    assert.equal(fps.reason, 'contract_violation');
    assert.match(fps.detail!, /^get_camera_list answered \/result\/cameras\/0\/fps: must be number/);
    // The same answers without a contract: camera_list's own checks pass them.
    assertSuccess(await runOnce(configFor(sim.url, PROBES), 'camera_list'));
  });

  it("a probe's own verdict comes first: a malformed list is invalid_result, an exposed method a security_violation", async () => {
    const config = configFor(sim.url, PROBES, CONTRACT);
    sim.setFaults({ malformedCameraList: true });
    assert.equal((await runOnce(config, 'camera_list')).reason, 'invalid_result');
    sim.setFaults({ exposeProtected: true });
    assert.equal((await runOnce(config, 'protected_rejection')).reason, 'security_violation');
  });

  it('an error code the method does not declare is a violation; standard JSON-RPC errors always pass', async () => {
    const doc = JSON.parse(readFileSync(DOC, 'utf8'));
    const method = doc.methods.find((m: { name: string }) => m.name === 'get_camera_status');
    method.errors = [{ code: -32001, message: 'auth' }];
    const path = join(dir, 'strict.openrpc.json');
    writeFileSync(path, JSON.stringify(doc));
    const config = configFor(sim.url, PROBES + `      - type: rpc\n        name: status_bad_params\n        method: get_camera_status\n        expect: error\n`, `contract: { openrpc: ${path} }`);
    const run = await runOnce(config, 'status_unknown');
    assert.equal(run.reason, 'contract_violation');
    assert.equal(
      run.detail,
      'get_camera_status answered /error/code -32004: must be one of the declared errors -32001 or a standard JSON-RPC error (contract strict.openrpc.json)',
    );
    assertSuccess(await runOnce(config, 'status_bad_params')); // -32602
  });

  it('a target may name its own document; a broken one is refused at load, naming the field', () => {
    const missing = join(dir, 'missing.json');
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{ "openrpc": ');
    const badSchema = join(dir, 'bad-schema.json');
    writeFileSync(badSchema, JSON.stringify({ openrpc: '1.2.6', methods: [{ name: 'ping', params: [], result: { name: 'r', schema: { type: 'pong' } } }] }));
    const text = (target: string) => `      - type: auth_flow\n    contract: { openrpc: ${target} }\n`;
    const problems = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
      }
      return [];
    };
    assert.deepEqual(problems(() => configFor(sim.url, text(missing), `contract: { openrpc: ${notJson} }`)), [
      `contract.openrpc: ${JSON.stringify(notJson)} is not JSON: Unexpected end of JSON input`,
      `targets[0].contract.openrpc: ${JSON.stringify(missing)} cannot read it: ENOENT`,
    ]);
    assert.deepEqual(problems(() => configFor(sim.url, text(badSchema))), [
      `targets[0].contract.openrpc: ${JSON.stringify(badSchema)} /methods/0/result/schema (ping): schema is invalid: data/allOf/0/type must be equal to one of the allowed values, data/allOf/0/type must be array, data/allOf/0/type must match a schema in anyOf`,
    ]);
    const copy = join(dir, 'copy.openrpc.json');
    writeFileSync(copy, readFileSync(DOC));
    const own = configFor(sim.url, text(copy), CONTRACT);
    assert.equal(own.targets[0]!.contract?.openrpc, copy, "the target's own document wins over the top-level one");
  });
});
