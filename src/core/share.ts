/**
 * Sharing equal values instead of holding copies: at a thousand targets, the same method
 * table, label set or unchanged report part held once per target or per kept run adds up
 * to megabytes (docs/performance.md, the fleet).
 */

/**
 * The value kept under `key` in `cache`, made by `make` the first time. Bounded: past
 * `max` entries the oldest is forgotten (whoever holds it keeps it).
 */
export function shared<K, V>(cache: Map<K, V>, key: K, max: number, make: () => V): V {
  const kept = cache.get(key);
  if (kept !== undefined) return kept;
  const made = make();
  if (cache.size >= max) cache.delete(cache.keys().next().value as K);
  cache.set(key, made);
  return made;
}

/**
 * `prev` when it holds the same values as `now` (same keys in the same order, equal by
 * ===), else a copy of `now`, never `now` itself, which its owner may go on changing.
 */
export function sameOr<T extends object>(prev: T | undefined, now: T): T {
  if (prev !== undefined) {
    const a = Object.entries(prev);
    const b = Object.entries(now);
    if (a.length === b.length && a.every(([k, v], i) => b[i]![0] === k && b[i]![1] === v)) return prev;
  }
  return (Array.isArray(now) ? [...now] : { ...now }) as T;
}
