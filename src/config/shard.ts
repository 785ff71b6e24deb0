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

/**
 * Where `--shard auto/N` learns which replica it is, without per-pod configuration: its
 * pod's ordinal in a StatefulSet. Kubernetes names a StatefulSet's pods, and so their
 * host names, NAME-0 … NAME-(N-1); from 1.28 on it also labels each pod with
 * `apps.kubernetes.io/pod-index`, which the downward API can put in POD_INDEX_ENV.
 */
export interface PodIdentity {
  /** The value of POD_INDEX_ENV; unset or empty: use the host name. */
  podIndex?: string | undefined;
  /** The host name (Kubernetes sets HOSTNAME to the pod's name). */
  hostname?: string | undefined;
}

/** The environment variable `--shard auto/N` reads the pod's ordinal from first. */
export const POD_INDEX_ENV = 'CAMPROBE_POD_INDEX';

/**
 * Parses `--shard i/N` (0-based i), or `--shard auto/N`, which takes i from `pod`. Throws
 * a RangeError naming the problem, and for `auto` what it read and how to fix it.
 */
export function parseShard(text: string, pod: PodIdentity = {}): Shard {
  const auto = /^auto\/(\d{1,4})$/.exec(text.trim());
  if (auto) return autoShard(Number(auto[1]), pod);
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(text.trim());
  if (!m) throw new RangeError(`--shard must be INDEX/TOTAL with a 0-based index, e.g. 0/3, or auto/TOTAL, got ${JSON.stringify(text.slice(0, 32))}`);
  const shard = { index: Number(m[1]), total: Number(m[2]) };
  const problem = shardProblem(shard);
  if (problem) throw new RangeError(`--shard ${shard.index}/${shard.total}: ${problem}`);
  return shard;
}

function autoShard(total: number, pod: PodIdentity): Shard {
  const flag = `--shard auto/${total}`;
  const totalProblem = shardProblem({ index: 0, total });
  if (totalProblem) throw new RangeError(`${flag}: ${totalProblem}`);
  let index: number;
  let source: string;
  if (pod.podIndex !== undefined && pod.podIndex !== '') {
    source = `${POD_INDEX_ENV}=${JSON.stringify(pod.podIndex.slice(0, 32))}`;
    if (!/^\d{1,4}$/.test(pod.podIndex)) {
      throw new RangeError(
        `${flag}: ${source} is not a pod ordinal (0, 1, 2 …): feed it from the pod's label apps.kubernetes.io/pod-index ` +
          `(downward API), or unset it to read the ordinal from the host name`,
      );
    }
    index = Number(pod.podIndex);
  } else {
    // The first DNS label: a pod with setHostnameAsFQDN has NAME-ORDINAL.SERVICE.NAMESPACE….
    const host = (pod.hostname ?? '').split('.')[0] ?? '';
    source = `the host name ${JSON.stringify((pod.hostname ?? '').slice(0, 64))}`;
    const m = /^.+-(\d{1,4})$/.exec(host);
    if (!m) {
      throw new RangeError(
        `${flag}: cannot tell which replica this is: ${POD_INDEX_ENV} is not set and ${source} does not end in ` +
          `-ORDINAL as a StatefulSet pod's does (camprobe-0, camprobe-1, …). Run it as a StatefulSet pod, set ` +
          `${POD_INDEX_ENV} from the pod's label apps.kubernetes.io/pod-index (downward API), or give the index: --shard I/${total}`,
      );
    }
    index = Number(m[1]);
  }
  const problem = shardProblem({ index, total });
  if (problem) {
    throw new RangeError(
      `${flag}: ${source} gives index ${index}, but ${problem}: the StatefulSet has more replicas than ${total}; ` +
        `make N in auto/N equal to its replicas`,
    );
  }
  return { index, total };
}
