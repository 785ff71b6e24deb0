/**
 * Wires the daemon together: configuration, credentials, metrics, history, the
 * scheduler running every (target, probe), and the HTTP server. Every resource opened
 * here is closed by `stop()`.
 */
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createCredentialProvider, type CredentialProvider } from './auth/credentials.js';
import { loadConfigWithScripts } from './config/load.js';
import type { Config, TargetConfig } from './config/types.js';
import { buildHttpServer } from './http/server.js';
import { RunHistory } from './metrics/history.js';
import { ProbeMetrics } from './metrics/metrics.js';
import { BUILTIN_PROBES } from './probes/registry.js';
import { runProbe } from './probes/runner.js';
import type { ProbeDefinition, RunRecord } from './probes/types.js';
import { Redactor } from './redact.js';
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
  /** DNS seam for tests. */
  resolver?: Resolver;
}

export interface Daemon {
  readonly config: Config;
  readonly metrics: ProbeMetrics;
  readonly history: RunHistory;
  readonly http: FastifyInstance;
  /** `http://host:port` the HTTP server listens on. */
  readonly address: string;
  /** Emits `run` with each recorded RunRecord, after metrics and history have it. */
  readonly events: EventEmitter<{ run: [RunRecord] }>;
  /** Stops scheduling, aborts runs in flight, closes the HTTP server. Idempotent. */
  stop(): Promise<void>;
}

/** Loads the configuration (throwing ConfigError when it is invalid) and starts everything. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const env = opts.env ?? process.env;
  const { config, probeTypes } = await loadConfigWithScripts(opts.configPath, { env, probeTypes: opts.probeTypes ?? BUILTIN_PROBES });
  const log = opts.logger;
  log.level = config.log.level;

  const redactor = new Redactor();
  const providers = new Map<string, CredentialProvider>();
  for (const [name, cfg] of Object.entries(config.credentials)) {
    providers.set(name, createCredentialProvider(cfg, redactor, env));
  }
  for (const target of config.targets) {
    if (target.url.startsWith('wss:') && target.tls.insecure_skip_verify) {
      log.warn({ target: target.name }, 'TLS certificate verification is OFF for this target (tls.insecure_skip_verify)');
    }
  }

  const metrics = new ProbeMetrics({ version: VERSION, commit: COMMIT });
  const events = new EventEmitter<{ run: [RunRecord] }>();
  const history = new RunHistory(config.history);
  const scheduler = new Scheduler({
    logger: log,
    onSkip: (job) => {
      metrics.recordSkip(job.target, job.probe);
      log.warn({ target: job.target, probe: job.probe }, 'run skipped: the previous run is still in flight');
    },
  });

  let running = false;
  const http = buildHttpServer({
    metrics,
    history,
    logger: log,
    isReady: () => (running ? { ready: true } : { ready: false, reason: 'scheduler not running' }),
  });
  const host = config.server.host;
  const port = opts.port ?? config.server.port;
  await http.listen({ host, port });
  const bound = http.server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  const address = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;

  for (const target of config.targets) scheduleTarget(target);
  running = true;
  log.info(
    { version: VERSION, commit: COMMIT, address, targets: config.targets.length, probes: config.targets.reduce((n, t) => n + t.probes.length, 0) },
    'camprobe started',
  );

  function scheduleTarget(target: TargetConfig): void {
    const credentials = providers.get(target.credential);
    if (!credentials) throw new Error(`target ${target.name}: credential ${target.credential} is not loaded`);
    for (const probe of target.probes) {
      const definition = probeTypes.get(probe.type);
      if (!definition) throw new Error(`target ${target.name}: probe type ${probe.type} is not registered`);
      metrics.addProbe({ target: target.name, probe: probe.name, type: probe.type, values: definition.values ?? {} });
      scheduler.add({
        target: target.name,
        probe: probe.name,
        intervalMs: probe.interval_ms,
        ...(probe.schedule ? { schedule: probe.schedule } : {}),
        run: async (signal, scheduledAtMs) => {
          const run = await runProbe(
            { definition, probe, target, stopSignal: signal, scheduledAtMs },
            { credentials, logger: log, redactor, ...(opts.resolver ? { resolver: opts.resolver } : {}) },
          );
          if (!run) return;
          metrics.recordRun(run);
          history.add(run);
          events.emit('run', run);
        },
      });
    }
  }

  let stopping: Promise<void> | undefined;
  return {
    config,
    metrics,
    history,
    http,
    address,
    events,
    stop() {
      stopping ??= (async () => {
        running = false;
        await scheduler.stop();
        await http.close();
        log.info('camprobe stopped');
      })();
      return stopping;
    },
  };
}
