/**
 * `camprobe once`: every selected (target, probe) run once through the same runner the
 * daemon uses, against the running service. No scheduler, no HTTP server, no metrics.
 */
import type { Logger } from 'pino';
import type { Config, ProbeConfig, TargetConfig } from './config/types.js';
import { createRunner, type RunnableProbe } from './runner/create-runner.js';
import type { RunRecord } from './core/outcome.js';
import { didYouMean } from './core/text.js';
import type { Resolver } from './rpc/client.js';

/** A `--target` or `--probe` names nothing configured. */
export class SelectionError extends Error {
  readonly code = 'CAMPROBE_ERR_SELECTION';
}

export interface Selected {
  target: TargetConfig;
  probe: ProbeConfig;
}

/**
 * The (target, probe) pairs to run, in configuration order. `targets` and `probes` are
 * names; empty means all. A name that matches nothing is an error, never silently ignored:
 * a typo in CI would otherwise test nothing and pass.
 */
export function selectProbes(config: Config, targets: readonly string[] = [], probes: readonly string[] = []): Selected[] {
  const configured = config.targets.map((t) => t.name);
  for (const name of targets) {
    if (!configured.includes(name)) throw new SelectionError(`unknown target "${name}"${hint(name, configured)} (configured: ${configured.join(', ')})`);
  }
  const chosen = config.targets.filter((t) => targets.length === 0 || targets.includes(t.name));
  const available = [...new Set(chosen.flatMap((t) => t.probes.map((p) => p.name)))];
  for (const name of probes) {
    if (!available.includes(name)) {
      const where = targets.length === 0 ? 'any target' : `target ${chosen.map((t) => t.name).join(', ')}`;
      throw new SelectionError(`unknown probe "${name}" in ${where}${hint(name, available)} (configured: ${available.join(', ')})`);
    }
  }
  return chosen.flatMap((target) =>
    target.probes.filter((p) => probes.length === 0 || probes.includes(p.name)).map((probe) => ({ target, probe })),
  );
}

/** `: did you mean "x"?`, or '' when no configured name is close. */
function hint(name: string, names: readonly string[]): string {
  const text = didYouMean(name, names);
  return text === '' ? '' : `: ${text}`;
}

export interface OnceOptions {
  config: Config;
  selected: Selected[];
  probeTypes: ReadonlyMap<string, RunnableProbe>;
  logger: Logger;
  env?: Record<string, string | undefined>;
  /** Aborting it stops the runs in flight; runs not finished are left out. */
  stopSignal?: AbortSignal;
  /** Targets probed at the same time (probes of one target always run one after another). */
  concurrency?: number;
  resolver?: Resolver;
}

/** Runs each selected probe once; resolves with the records in selection order. */
export async function runSelected(opts: OnceOptions): Promise<RunRecord[]> {
  const runner = createRunner({
    credentials: opts.config.credentials,
    probeTypes: opts.probeTypes,
    logger: opts.logger,
    env: opts.env,
    resolver: opts.resolver,
  });

  // One queue per target, so the service sees one probe at a time from us.
  const byTarget = new Map<string, Array<{ index: number; item: Selected }>>();
  opts.selected.forEach((item, index) => {
    const queue = byTarget.get(item.target.name) ?? [];
    queue.push({ index, item });
    byTarget.set(item.target.name, queue);
  });
  const queues = [...byTarget.values()];
  const results: Array<RunRecord | undefined> = new Array(opts.selected.length);

  const worker = async () => {
    for (let queue = queues.shift(); queue; queue = queues.shift()) {
      for (const { index, item } of queue) {
        if (opts.stopSignal?.aborted) return;
        // CI wants everything checked now: probes that share work over runs do all of it.
        results[index] = await runner.run(item.target, item.probe, { stopSignal: opts.stopSignal, exhaustive: true });
      }
    }
  };
  const workers = Math.max(1, Math.min(opts.concurrency ?? 4, queues.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results.filter((r): r is RunRecord => r !== undefined);
}
