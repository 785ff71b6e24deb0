/** The access matrix's pure parts: cells, uncovered cells, the sweep plan, verdicts, standing state. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildMatrix,
  cellKey,
  groupCost,
  judge,
  MatrixState,
  planSweep,
  sharedSweep,
  type Cell,
  type MatrixScope,
} from '../src/probes/access-matrix.js';
import { DOCUMENTED_METHOD_ROLES, DOCUMENTED_SIDE_EFFECT_METHODS } from '../src/config/methods.js';

const SCOPE: MatrixScope = {
  methods: DOCUMENTED_METHOD_ROLES,
  sideEffectMethods: DOCUMENTED_SIDE_EFFECT_METHODS,
  usages: ['per_call', 'session'],
};
const MINT = { canMint: true, role: 'viewer' } as const;

describe('access matrix cells', () => {
  it('every method of the documented table × every refused credential, both ways', () => {
    const { cells, uncovered } = buildMatrix(SCOPE, MINT);
    // 18 methods; per method: none (1) + 4 bad tokens × 2 usages, plus 2 usages per lower role.
    const perMethod = (role: string) => 9 + 2 * ['viewer', 'operator', 'admin'].indexOf(role);
    const all = Object.values(DOCUMENTED_METHOD_ROLES).reduce((n, r) => n + perMethod(r), 0);
    assert.equal(cells.length + uncovered.length, all);
    // set_retention_policy and cleanup_old_files act on everything: no harmless params exist.
    assert.deepEqual([...new Set(uncovered.map((c) => c.method))].sort(), ['cleanup_old_files', 'set_retention_policy']);
    assert.equal(uncovered.length, 2 * perMethod('admin'));
    assert.equal(new Set(cells.map(cellKey)).size, cells.length, 'a cell twice');
    const admin = cells.filter((c) => c.method === 'get_server_info' && c.credential === 'role_too_low');
    assert.deepEqual(admin.map((c) => `${c.role} ${c.usage}`), ['viewer per_call', 'viewer session', 'operator per_call', 'operator session']);
    assert.equal(cells.filter((c) => c.method === 'ping' && c.credential === 'role_too_low').length, 0);
  });

  it('a static viewer token covers what it can and says why the rest is uncovered', () => {
    const { cells, uncovered } = buildMatrix(SCOPE, { canMint: false, role: 'viewer' });
    assert.ok(cells.every((c) => c.credential !== 'expired'));
    assert.ok(cells.filter((c) => c.credential === 'role_too_low').every((c) => c.role === 'viewer'));
    const why = new Set(uncovered.map((c) => c.why));
    assert.ok(why.has('an expired token needs the signing secret (jwt_secret)'));
    assert.ok(why.has('a operator token needs the signing secret; the static credential is viewer') || why.has('an operator token needs the signing secret; the static credential is viewer'));
  });

  it('method: and cases: narrow the matrix', () => {
    const { cells } = buildMatrix({ ...SCOPE, method: 'get_metrics', cases: ['none', 'forged'] }, MINT);
    assert.deepEqual(cells.map((c) => `${c.method} ${c.credential} ${c.usage}`), [
      'get_metrics none none',
      'get_metrics forged per_call',
      'get_metrics forged session',
    ]);
  });
});

describe('sweep plan', () => {
  const { cells } = buildMatrix(SCOPE, MINT);
  for (const runs of [1, 3, 10, 60, 1000]) {
    it(`${runs} run(s): every cell exactly once, in at most ${runs} batches of about equal cost`, () => {
      const batches = planSweep(cells, runs);
      assert.ok(batches.length <= runs && batches.length >= 1);
      const seen = batches.flatMap((b) => b.flatMap((g) => g.cells.map(cellKey)));
      assert.deepEqual([...seen].sort(), cells.map(cellKey).sort());
      const costs = batches.map((b) => b.reduce((n, g) => n + groupCost(g), 0));
      const total = costs.reduce((a, b) => a + b, 0);
      // Splitting sessions costs an extra authenticate each; the plan keeps that small.
      assert.ok(total <= cells.length + 6 + batches.length, `total ${total}`);
      const even = Math.ceil(total / batches.length);
      assert.ok(Math.max(...costs) <= even + 2, `costs ${costs.join(',')}`);
      for (const batch of batches) {
        for (const group of batch) {
          if (group.kind === 'session') assert.ok(group.cells.every((c) => c.usage === 'session' && c.credential === group.credential && c.role === group.role));
          else assert.ok(group.cells.every((c) => c.usage !== 'session'));
        }
      }
    });
  }
});

describe('verdicts', () => {
  const codes = [-32001, -32003];
  it('judges a refusal, a result, drift and an unconfirmed rejection', () => {
    assert.deepEqual(judge({ ok: false, error: { code: -32003, message: 'Insufficient permissions' } }, codes), { state: 'refused' });
    assert.deepEqual(judge({ ok: true }, codes), { state: 'exposed', got: 'a result' });
    assert.deepEqual(judge({ ok: false, error: { code: -32601, message: 'Method not found' } }, codes), { state: 'missing', got: 'error -32601 Method not found' });
    assert.deepEqual(judge({ ok: false, error: { code: -32603, message: 'Internal error' } }, codes), { state: 'unconfirmed', got: 'error -32603 Internal error' });
    assert.deepEqual(judge({ ok: false, error: { code: -32004, message: 'Camera not found' } }, codes), { state: 'unconfirmed', got: 'error -32004 Camera not found' });
  });

  it('a method stays exposed until the exposed cell is checked again and refused', () => {
    const forged: Cell = { method: 'get_metrics', credential: 'forged', usage: 'per_call' };
    const none: Cell = { method: 'get_metrics', credential: 'none', usage: 'none' };
    const state = new MatrixState([forged, none]);
    state.record(forged, { state: 'exposed', got: 'a result' });
    state.record(none, { state: 'refused' });
    assert.deepEqual(state.methodStates(['get_metrics', 'ping']), { get_metrics: 'exposed', ping: 'unchecked' });
    assert.deepEqual(state.findings(10), [{ method: 'get_metrics', credential: 'forged token', usage: 'per_call', state: 'exposed', got: 'a result' }]);
    state.record(forged, { state: 'refused' });
    assert.deepEqual(state.methodStates(['get_metrics']), { get_metrics: 'refused' });
    assert.deepEqual(state.findings(10), []);
  });

  it('an unchanged standing is the same object run after run; a change is a new one', () => {
    const forged: Cell = { method: 'get_metrics', credential: 'forged', usage: 'per_call' };
    const state = new MatrixState([forged]);
    state.record(forged, { state: 'refused' });
    const first = state.methodStates(['get_metrics']);
    state.record(forged, { state: 'refused' });
    assert.equal(state.methodStates(['get_metrics']), first, 'kept by every run in the history once, not once per run');
    state.record(forged, { state: 'exposed', got: 'a result' });
    const changed = state.methodStates(['get_metrics']);
    assert.notEqual(changed, first);
    assert.deepEqual(first, { get_metrics: 'refused' }, 'an earlier answer is never changed under its holder');
    assert.deepEqual(changed, { get_metrics: 'exposed' });
    // A cell of another matrix is not this state's to record.
    state.record({ ...forged }, { state: 'refused' });
    assert.deepEqual(state.methodStates(['get_metrics']), { get_metrics: 'exposed' });
  });
});

describe('shared sweeps', () => {
  it('targets with the same table, options and credential share one matrix and plan; any difference gets its own', () => {
    const a = sharedSweep(SCOPE, MINT, 40);
    const b = sharedSweep({ ...SCOPE, methods: { ...DOCUMENTED_METHOD_ROLES } }, { ...MINT }, 40);
    assert.equal(a, b, 'equal inputs, one object');
    assert.equal(a.matrix.cells.length, 170);
    assert.equal(a.plan.length, 40);
    assert.equal(a.uncoveredWhy.reduce((n, w) => n + w.cells, 0), a.matrix.uncovered.length);
    assert.deepEqual(a.methods, Object.keys(DOCUMENTED_METHOD_ROLES).sort());
    // Every planned cell is a cell of the matrix (the state finds it by identity).
    for (const cell of a.plan.flat().flatMap((g) => g.cells)) assert.ok(a.index.has(cell));
    assert.notEqual(sharedSweep(SCOPE, MINT, 20), a, 'another plan length');
    assert.notEqual(sharedSweep(SCOPE, { canMint: false, role: 'viewer' }, 40), a, 'another ability');
    assert.notEqual(sharedSweep({ ...SCOPE, methods: { ...DOCUMENTED_METHOD_ROLES, get_metrics: 'viewer' } }, MINT, 40), a, 'another table');
  });
});
