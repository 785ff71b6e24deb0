/**
 * Sharding: N replicas split the targets between them, each target probed by exactly
 * one. A target belongs to shard `sha256(name) as uint32 mod total`: stable across
 * processes, Node.js versions and restarts (unlike a JS string hash or a random seed),
 * and independent of the order of the targets in the file, so adding a target moves no
 * other target.
 *
 * Pure functions: the daemon applies `selectShard` to the loaded configuration's targets
 * at start (and a reload can apply it again to the reloaded ones).
 */
import { createHash } from 'node:crypto';

export interface Shard {
  /** 0-based: 0 … total-1. */
  index: number;
  /** Number of replicas, 1 … MAX_SHARDS. */
  total: number;
}

/** One replica owns every target. */
export const NO_SHARDING: Shard = Object.freeze({ index: 0, total: 1 });
export const MAX_SHARDS = 1000;

/** The shard (0 … total-1) that owns the target named `name`. */
export function shardOf(name: string, total: number): number {
  return createHash('sha256').update(name, 'utf8').digest().readUInt32BE(0) % total;
}

/** The targets this shard owns, in their configured order. */
export function selectShard<T extends { name: string }>(targets: readonly T[], shard: Shard): T[] {
  if (shard.total === 1) return [...targets];
  return targets.filter((t) => shardOf(t.name, shard.total) === shard.index);
}

/** Why `shard` is not a valid shard, or undefined when it is. */
export function shardProblem(shard: Shard): string | undefined {
  const { index, total } = shard;
  if (!Number.isInteger(total) || total < 1 || total > MAX_SHARDS) return `total must be an integer from 1 to ${MAX_SHARDS}`;
  if (!Number.isInteger(index) || index < 0 || index >= total) return `index must be an integer from 0 to ${total - 1} (total ${total})`;
  return undefined;
}

/** Parses `--shard i/N` (0-based i). Throws a RangeError naming the problem. */
export function parseShard(text: string): Shard {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(text.trim());
  if (!m) throw new RangeError(`--shard must be INDEX/TOTAL with a 0-based index, e.g. 0/3, got ${JSON.stringify(text.slice(0, 32))}`);
  const shard = { index: Number(m[1]), total: Number(m[2]) };
  const problem = shardProblem(shard);
  if (problem) throw new RangeError(`--shard ${shard.index}/${shard.total}: ${problem}`);
  return shard;
}
