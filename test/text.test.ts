import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closest, didYouMean, editDistance } from '../src/core/text.js';

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
