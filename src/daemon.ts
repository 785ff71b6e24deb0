/**
 * The daemon: configuration, credentials, metrics, history, the scheduler running every
 * (target, probe), and the HTTP server, wired together. Every resource opened here is
 * closed by `stop()`. The parts live in src/daemon/: the jobs (job-set.ts), what a reload
 * changes (reload-plan.ts) and doing it (reloader.ts), where runs go (run-sink.ts).
 */
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Shard } from './config/shard.js';
import type { Config, TargetConfig } from './config/types.js';
import type { RunRecord } from './core/outcome.js';
import { Redactor } from './core/secrets.js';
import { buildHttpServer } from './http/server.js';
import { RunHistory } from './metrics/history.js';
import { ProbeMetrics } from './metrics/metrics.js';
import type { ProbeTypes } from './probes/load-config.js';
import { BUILTIN_PROBES } from './probes/registry.js';
import type { Resolver } from './rpc/client.js';
import { Scheduler } from './scheduler/scheduler.js';
import { StatusBoard } from './status/board.js';
import { COMMIT, VERSION } from './version.js';
import { JobSet } from './daemon/job-set.js';
import { loadDaemonConfig, type Loaded } from './daemon/loaded.js';
import { Reloader, type ReloadResult } from './daemon/reloader.js';
import { describeTargets } from './daemon/describe.js';
import { daemonSink } from './daemon/run-sink.js';

export type { ReloadResult } from './daemon/reloader.js';

/** How to start the daemon; the configuration file says the rest. */
export interface DaemonOptions {
  configPath: string;
  logger: Logger;
  env?: Record<string, string | undefined>;
  /** Probe types besides those of `probe_scripts_dir`; defaults to the built-in ones. */
  probeTypes?: ProbeTypes;
  /** Overrides the configured listen port (tests use 0). */
  port?: number;
  /** When the port is in use, listen on any free port instead of failing (the demo). */
  portFallback?: boolean;
  /** This replica's shard (`--shard`); overrides the config's `shard`. */
  shard?: Shard;
  /** DNS seam for tests. */
  resolver?: Resolver;
}

/** A running daemon. */
export interface Daemon {
  /** The configuration running now (replaced by a successful reload). */
  readonly config: Config;
  /** The shard in effect and the configured targets it owns (all of them when not sharded). */
  readonly shard: Shard;
  readonly targets: readonly TargetConfig[];
  readonly metrics: ProbeMetrics;
  readonly history: RunHistory;
  /** What the status page (`/`, `/api/status`) shows. */
  readonly status: StatusBoard;
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

/** Loads the configuration (throwing ConfigError when it is invalid) and starts everything. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const log = opts.logger;
  const redactor = new Redactor();
  const env = opts.env ?? process.env;
  const probeTypes = opts.probeTypes ?? BUILTIN_PROBES;
  const { configPath, shard, resolver } = opts;
  const load = () => loadDaemonConfig({ configPath, env, probeTypes, shard, resolver, logger: log, redactor });
  const first = await load();
  log.level = first.config.log.level;

  const location = first.config.location;
  const metrics = new ProbeMetrics({ version: VERSION, commit: COMMIT, ...(location ? { location } : {}) });
  metrics.recordConfigLoad(true);
  metrics.setShard(first.shard, first.targets.length);
  const events = new EventEmitter<{ run: [RunRecord] }>();
  const history = new RunHistory(first.config.history);
  const status = new StatusBoard();
  const scheduler = new Scheduler({
    logger: log,
    onSkip: (job) => {
      metrics.recordSkip(job.target, job.probe);
      log.warn({ target: job.target, probe: job.probe }, 'run skipped: the previous run is still in flight');
    },
  });
  const jobs = new JobSet({ scheduler, metrics, sink: daemonSink({ metrics, history, status, events, logger: log }) });
  const configs = new Reloader(first, { load, jobs, metrics, logger: log, redactor });

  let running = false;
  const http = buildHttpServer({
    metrics,
    history,
    status,
    logger: log,
    isReady: () => (running ? { ready: true } : { ready: false, reason: 'scheduler not running' }),
    authorizer: () => configs.loaded.authorizer,
    requestTimeoutMs: first.config.server.request_timeout_ms,
  });
  const address = await listen(http, first.config.server.host, opts.port ?? first.config.server.port, opts.portFallback ? log : undefined);
  configs.start();
  running = true;
  logStarted(log, first, address, jobs.size, redactor);

  let stopping: Promise<void> | undefined;
  return {
    get config() {
      return configs.loaded.config;
    },
    get shard() {
      return configs.loaded.shard;
    },
    get targets() {
      return configs.loaded.targets;
    },
    metrics,
    history,
    status,
    http,
    address,
    events,
    reload: () => (stopping ? Promise.resolve({ ok: false, error: 'camprobe is stopping' }) : configs.reload()),
    stop() {
      stopping ??= (async () => {
        running = false;
        await configs.idle();
        await scheduler.stop();
        await jobs.closeAll();
        await http.close();
        log.info('camprobe stopped');
      })();
      return stopping;
    },
  };
}

/**
 * Starts the HTTP server; resolves with the `http://host:port` it listens on. With
 * `fallback`, a port in use is replaced by any free one (and a warning says so); without,
 * the error (EADDRINUSE, with `address` and `port`) is the caller's to explain.
 */
async function listen(http: FastifyInstance, host: string, port: number, fallback: Logger | undefined): Promise<string> {
  try {
    await http.listen({ host, port });
  } catch (err) {
    if (!fallback || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      await http.close();
      throw err;
    }
    fallback.warn({ port }, `port ${port} is in use: listening on a free port instead`);
    await http.listen({ host, port: 0 });
  }
  const bound = http.server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
}

/** One line: where camprobe listens, and what it probes (each target, its URL without secrets, its probes and how often). */
function logStarted(log: Logger, loaded: Loaded, address: string, probes: number, redactor: Redactor): void {
  const { config, shard, targets, authorizer } = loaded;
  log.info(
    {
      version: VERSION,
      commit: COMMIT,
      address,
      ...(config.location ? { location: config.location } : {}),
      ...(shard.total > 1 ? { shard: `${shard.index}/${shard.total}`, configured_targets: config.targets.length } : {}),
      targets: targets.length,
      probes,
      http_auth: authorizer && config.server.auth ? Object.keys(config.server.auth)[0] : 'none',
      probing: describeTargets(targets, redactor),
    },
    'camprobe started',
  );
}
