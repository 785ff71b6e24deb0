import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publicUrl } from '../src/core/secrets.js';
import { closest, didYouMean, editDistance } from '../src/core/text.js';
import { describeTargets } from '../src/daemon/describe.js';
import { configFor } from './helpers/harness.js';

test('edit distance: insertions, deletions, substitutions and neighbour swaps cost 1 each, case ignored', () => {
  assert.equal(editDistance('url', 'urll'), 1);
  assert.equal(editDistance('jwt_secert', 'jwt_secret'), 1, 'a swap');
  assert.equal(editDistance('prot', 'port'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('URL', 'url'), 0);
  assert.equal(editDistance('', 'abc'), 3);
});

test('closest: one edit per three characters at most, first of equals wins, nothing far', () => {
  assert.equal(closest('expect_rol', ['type', 'name', 'expect_role']), 'expect_role');
  assert.equal(closest('sever', ['server', 'log', 'history']), 'server');
  assert.equal(closest('secret', ['jwt_secret', 'user_id', 'role', 'ttl']), undefined);
  assert.equal(closest('verify', ['ca_file', 'cert_file', 'key_file', 'insecure_skip_verify']), undefined);
  assert.equal(closest('x', ['y', 'z']), undefined, 'replacing every letter is no misspelling');
  assert.equal(closest('rl', ['url', 'ttl']), 'url');
  assert.equal(closest('abcdef', ['abcxyz']), undefined, 'three edits in six characters is too many');
  assert.equal(didYouMean('chek-config', ['run', 'check-config', 'demo']), 'did you mean "check-config"?');
  assert.equal(didYouMean('frobnicate', ['run', 'check-config']), '');
});

test('publicUrl: no user info, query or fragment; a removed query is marked', () => {
  assert.equal(publicUrl('wss://cams.example.net:8443/ws'), 'wss://cams.example.net:8443/ws');
  assert.equal(publicUrl('ws://user:pw@cams/ws?access_token=abc&x=1#frag'), 'ws://cams/ws?…');
  assert.equal(publicUrl('not a url'), '(not a URL)');
});

test('the start line lists 20 targets at most, then how many more', () => {
  const config = configFor('ws://127.0.0.1:1/ws?token=q', '      - { type: auth_flow, interval: 7s, timeout: 5s }\n      - { type: rpc, name: nightly, method: ping, schedule: "0 0 3 * * *" }\n');
  const target = config.targets[0]!;
  assert.deepEqual(describeTargets([target]), ['sim ws://127.0.0.1:1/ws?…: auth_flow every 7s, nightly (rpc) on cron 0 0 3 * * *']);
  const many = Array.from({ length: 23 }, (_, i) => ({ ...target, name: `t${i}` }));
  const lines = describeTargets(many);
  assert.equal(lines.length, 21);
  assert.equal(lines[20], '… and 3 more targets (camprobe check-config lists them all)');
});
