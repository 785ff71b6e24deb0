/**
 * Wires the daemon together: configuration, credentials, metrics, history, the
 * scheduler running every (target, probe), and the HTTP server. Every resource opened
 * here is closed by `stop()`.
 */
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError } from './config/load.js';
import { loadConfigWithScripts } from './probes/load-config.js';
import { selectShard, type Shard } from './config/shard.js';
import type { Config, ProbeConfig, TargetConfig } from './config/types.js';
import { createHttpAuthorizer, type HttpAuthorizer } from './http/auth.js';
import { buildHttpServer } from './http/server.js';
import { RunHistory } from './metrics/history.js';
import { ProbeMetrics } from './metrics/metrics.js';
import { BUILTIN_PROBES } from './probes/registry.js';
import { createRunner, type Runner } from './runner/create-runner.js';
import type { ProbeDefinition } from './probes/types.js';
import type { RunRecord } from './core/outcome.js';
import { Redactor } from './core/secrets.js';
import type { Resolver } from './rpc/client.js';
import { Scheduler } from './scheduler/scheduler.js';
import { COMMIT, VERSION } from './version.js';

export interface DaemonOptions {
  configPath: string;
  logger: Logger;
  env?: Record<string, string | undefined>;
  probeTypes?: ReadonlyMap<string, ProbeDefinition<any>>;
  /** Overrides the configured listen port (tests use 0). */
  port?: number;
  /** This replica's shard (`--shard`); overrides the config's `shard`. */
  shard?: Shard;
  /** DNS seam for tests. */
  resolver?: Resolver;
}

export interface Daemon {
  /** The configuration running now (replaced by a successful reload). */
  readonly config: Config;
  /** The shard in effect and the configured targets it owns (all of them when not sharded). */
  readonly shard: Shard;
  readonly targets: readonly TargetConfig[];
  readonly metrics: ProbeMetrics;
  readonly history: RunHistory;
  readonly http: FastifyInstance;
  /** `http://host:port` the HTTP server listens on. */
  readonly address: string;
  /** Emits `run` with each recorded RunRecord, after metrics and history have it. */
  readonly events: EventEmitter<{ run: [RunRecord] }>;
  /**
   * Re-reads the configuration file (what SIGHUP does). An invalid one is refused and the
   * running one stays; otherwise removed probes stop and lose their series and history,
   * changed ones restart, unchanged ones keep their schedule, series and history.
   * Reloads never overlap: one asked for during another runs after it.
   */
  reload(): Promise<ReloadResult>;
  /** Stops scheduling, aborts runs in flight, closes the HTTP server. Idempotent. */
  stop(): Promise<void>;
}

export type ReloadResult =
  | { ok: true; added: string[]; changed: string[]; removed: string[]; unchanged: number }
  | { ok: false; error: string };

/** What a scheduled (target, probe) was built from: equal fingerprints mean nothing to restart. */
interface ScheduledJob {
  type: string;
  fingerprint: string;
}

/** Loads the configuration (throwing ConfigError when it is invalid) and starts everything. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const env = opts.env ?? process.env;
  const builtinTypes = opts.probeTypes ?? BUILTIN_PROBES;
  const log = opts.logger;
  const redactor = new Redactor();

  /** Everything derived from one configuration; built completely before any of it is used. */
  interface Loaded {
    config: Config;
    /** The shard in effect and the configured targets it owns. */
    shard: Shard;
    targets: TargetConfig[];
    /** Runs this configuration's probes with its credentials and probe types. */
    runner: Runner;
    authorizer: HttpAuthorizer | undefined;
  }
  const load = async (): Promise<Loaded> => {
    const { config, probeTypes } = await loadConfigWithScripts(opts.configPath, { env, probeTypes: builtinTypes });
    const shard = opts.shard ?? config.shard;
    const targets = selectShard(config.targets, shard);
    const runner = createRunner({ credentials: config.credentials, probeTypes, logger: log, redactor, env, resolver: opts.resolver });
    const authorizer = config.server.auth ? createHttpAuthorizer(config.server.auth, redactor, env) : undefined;
    return { config, shard, targets, runner, authorizer };
  };

  let current = await load();
  log.level = current.config.log.level;

  const location = current.config.location;
  const metrics = new ProbeMetrics({ version: VERSION, commit: COMMIT, ...(location ? { location } : {}) });
  metrics.recordConfigLoad(true);
  metrics.setShard(current.shard, current.targets.length);
  const events = new EventEmitter<{ run: [RunRecord] }>();
  const history = new RunHistory(current.config.history);
  const scheduler = new Scheduler({
    logger: log,
    onSkip: (job) => {
      metrics.recordSkip(job.target, job.probe);
      log.warn({ target: job.target, probe: job.probe }, 'run skipped: the previous run is still in flight');
    },
  });
  const jobs = new Map<string, ScheduledJob>();

  let running = false;
  const http = buildHttpServer({
    metrics,
    history,
    logger: log,
    isReady: () => (running ? { ready: true } : { ready: false, reason: 'scheduler not running' }),
    authorizer: () => current.authorizer,
    requestTimeoutMs: current.config.server.request_timeout_ms,
  });
  const host = current.config.server.host;
  const port = opts.port ?? current.config.server.port;
  await http.listen({ host, port });
  const bound = http.server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  const address = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;

  for (const target of current.targets) {
    warnInsecure(target);
    for (const probe of target.probes) addJob(target, probe, current);
  }
  running = true;
  log.info(
    {
      version: VERSION,
      commit: COMMIT,
      address,
      ...(location ? { location } : {}),
      ...(current.shard.total > 1
        ? { shard: `${current.shard.index}/${current.shard.total}`, configured_targets: current.config.targets.length }
        : {}),
      targets: current.targets.length,
      probes: jobs.size,
      http_auth: current.authorizer ? Object.keys(current.config.server.auth!)[0] : 'none',
    },
    'camprobe started',
  );

  function warnInsecure(target: TargetConfig): void {
    if (target.url.startsWith('wss:') && target.tls.insecure_skip_verify) {
      log.warn({ target: target.name }, 'TLS certificate verification is OFF for this target (tls.insecure_skip_verify)');
    }
  }

  function fingerprint(target: TargetConfig, probe: ProbeConfig, config: Config): string {
    return JSON.stringify([{ ...target, probes: undefined }, probe, config.credentials[target.credential]]);
  }

  function addJob(target: TargetConfig, probe: ProbeConfig, loaded: Loaded): void {
    const prepared = loaded.runner.prepare(target, probe);
    metrics.addProbe({ target: target.name, probe: probe.name, type: probe.type, values: prepared.definition.values ?? {} });
    jobs.set(jobKey(target.name, probe.name), { type: probe.type, fingerprint: fingerprint(target, probe, loaded.config) });
    scheduler.add({
      target: target.name,
      probe: probe.name,
      intervalMs: probe.interval_ms,
      ...(probe.schedule ? { schedule: probe.schedule } : {}),
      run: async (signal, scheduledAtMs) => {
        const run = await prepared.run({ stopSignal: signal, scheduledAtMs });
        if (!run) return;
        metrics.recordRun(run);
        history.add(run);
        events.emit('run', run);
      },
    });
  }

  async function removeJob(target: string, probe: string, keepSeries: boolean): Promise<void> {
    jobs.delete(jobKey(target, probe));
    await scheduler.remove(target, probe);
    if (keepSeries) return;
    metrics.removeProbe(target, probe);
    history.remove(target, probe);
  }

  async function applyReload(): Promise<ReloadResult> {
    let next: Loaded;
    try {
      next = await load();
    } catch (err) {
      const error = err instanceof ConfigError ? err.message : redactor.redact((err as Error).message);
      metrics.recordConfigLoad(false);
      log.error({ error }, 'configuration reload refused; the running configuration stays');
      return { ok: false, error };
    }
    const before = current.config;
    const wanted = new Map<string, { target: TargetConfig; probe: ProbeConfig }>();
    for (const target of next.targets) {
      for (const probe of target.probes) wanted.set(jobKey(target.name, probe.name), { target, probe });
    }
    const added: string[] = [];
    const changed: string[] = [];
    const removed: string[] = [];
    let unchanged = 0;
    for (const key of [...jobs.keys()]) {
      if (wanted.has(key)) continue;
      const [target, probe] = splitKey(key);
      await removeJob(target, probe, false);
      removed.push(`${target}/${probe}`);
    }
    const warned = new Set<string>();
    for (const [key, { target, probe }] of wanted) {
      const name = `${target.name}/${probe.name}`;
      const old = jobs.get(key);
      if (old?.fingerprint === fingerprint(target, probe, next.config)) {
        unchanged++;
        continue;
      }
      if (old) {
        // Same probe with new settings: restart it; its series and history stay unless
        // it became another type, whose series would mean something else.
        await removeJob(target.name, probe.name, old.type === probe.type);
        changed.push(name);
      } else {
        added.push(name);
      }
      if (!warned.has(target.name)) warnInsecure(target);
      warned.add(target.name);
      addJob(target, probe, next);
    }
    current = next;
    log.level = next.config.log.level;
    metrics.recordConfigLoad(true);
    metrics.setShard(next.shard, next.targets.length);
    const restartOnly = (['host', 'port', 'request_timeout_ms'] as const)
      .filter((k) => before.server[k] !== next.config.server[k])
      .map((k) => `server.${k}`);
    if (JSON.stringify(before.history) !== JSON.stringify(next.config.history)) restartOnly.push('history');
    if (before.location !== next.config.location) restartOnly.push('location');
    if (restartOnly.length > 0) log.warn({ settings: restartOnly }, 'these settings changed but apply only at restart');
    log.info({ added: added.length, changed: changed.length, removed: removed.length, unchanged }, 'configuration reloaded');
    return { ok: true, added, changed, removed, unchanged };
  }

  let reloads: Promise<unknown> = Promise.resolve();
  let stopping: Promise<void> | undefined;
  return {
    get config() {
      return current.config;
    },
    get shard() {
      return current.shard;
    },
    get targets() {
      return current.targets;
    },
    metrics,
    history,
    http,
    address,
    events,
    reload() {
      if (stopping) return Promise.resolve({ ok: false, error: 'camprobe is stopping' });
      const result = reloads.then(applyReload);
      reloads = result.catch(() => undefined);
      return result;
    },
    stop() {
      stopping ??= (async () => {
        running = false;
        await reloads;
        await scheduler.stop();
        await http.close();
        log.info('camprobe stopped');
      })();
      return stopping;
    },
  };
}

function jobKey(target: string, probe: string): string {
  return `${target}\0${probe}`;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('\0');
  return [key.slice(0, i), key.slice(i + 1)];
}
