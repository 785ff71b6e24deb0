/** core/share.ts: equal values held once. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sameOr, shared } from '../src/core/share.js';

describe('shared', () => {
  it('makes a value once per key and forgets the oldest past the bound', () => {
    const cache = new Map<string, { n: number }>();
    let made = 0;
    const get = (key: string) => shared(cache, key, 2, () => ({ n: ++made }));
    const a = get('a');
    assert.equal(get('a'), a);
    get('b');
    get('c');
    assert.deepEqual([...cache.keys()], ['b', 'c'], 'the oldest went');
    assert.notEqual(get('a'), a, 'made again once forgotten');
    assert.equal(made, 4);
  });
});

describe('sameOr', () => {
  it('the earlier object while the values are equal, else a copy, never the live one', () => {
    const live = { x: 1, y: 2 };
    const first = sameOr(undefined, live);
    assert.notEqual(first, live);
    assert.equal(sameOr(first, live), first);
    live.y = 3;
    const second = sameOr(first, live);
    assert.deepEqual([first, second], [{ x: 1, y: 2 }, { x: 1, y: 3 }]);
    const list = ['s'];
    assert.notEqual(sameOr(undefined, list), list);
    assert.ok(Array.isArray(sameOr(undefined, list)));
  });
});
