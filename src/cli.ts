#!/usr/bin/env node
/**
 * The `camprobe` command.
 *
 *   camprobe [run] [--config FILE] [--shard I/N]          run the daemon (its shard of the targets)
 *   camprobe check-config [--config FILE] [--shard I/N]   validate the configuration and exit
 *   camprobe demo [--port N]             simulator and daemon together, every probe green
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from './config/load.js';
import { parseShard, selectShard, type Shard } from './config/shard.js';
import { startDaemon, type Daemon } from './daemon.js';
import { createLogger } from './logger.js';
import { BUILTIN_PROBES } from './probes/registry.js';
import { startSimulator, type Simulator } from './simulator/simulator.js';
import { COMMIT, VERSION } from './version.js';

const HELP = `camprobe ${VERSION}: synthetic monitor for the camera service's JSON-RPC WebSocket API

Usage:
  camprobe [run] [--config FILE] [--shard I/N]          run the daemon (default config: ${DEFAULT_CONFIG_PATH})
  camprobe check-config [--config FILE] [--shard I/N]   validate the configuration, print a summary, exit
  camprobe demo [--port N]                start a simulated camera service and the daemon against it
  camprobe --help | --version

Options:
  -c, --config FILE   configuration file (YAML)
  -p, --port N        HTTP port for /metrics (overrides the config; demo default 9464)
  --shard I/N         probe only shard I (0-based) of N: the targets whose name hashes to I
                      (overrides the config's shard; run N replicas with 0/N … N-1/N)
  -h, --help          show this help
  -v, --version       print version and commit

Signals: SIGHUP reloads the configuration (an invalid one is refused, the running one stays).
         SIGTERM and SIGINT stop cleanly (runs in flight are aborted, sockets closed).
Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
`;

/** How long a clean stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 10_000;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        shard: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    process.stderr.write(`camprobe: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`camprobe ${VERSION} (commit ${COMMIT}, node ${process.version})\n`);
    return 0;
  }
  const command = positionals[0] ?? 'run';
  if (positionals.length > 1 || !['run', 'check-config', 'demo'].includes(command)) {
    process.stderr.write(`camprobe: unknown command "${positionals.join(' ')}"\n\n${HELP}`);
    return 2;
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`camprobe: --port must be an integer from 0 to 65535\n`);
      return 2;
    }
  }
  let shard: Shard | undefined;
  if (values.shard !== undefined) {
    try {
      shard = parseShard(values.shard);
    } catch (err) {
      process.stderr.write(`camprobe: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const configPath = values.config ?? DEFAULT_CONFIG_PATH;

  if (command === 'check-config') return checkConfig(configPath, shard);
  return runDaemon(configPath, command === 'demo', port, shard);
}

async function checkConfig(configPath: string, shardFlag: Shard | undefined): Promise<number> {
  try {
    const config = await loadConfig(configPath, { probeTypes: BUILTIN_PROBES });
    const probes = config.targets.reduce((n, t) => n + t.probes.length, 0);
    process.stdout.write(`${configPath}: OK (${config.targets.length} targets, ${probes} probes)\n`);
    const shard = shardFlag ?? config.shard;
    if (shard.total > 1) {
      const owned = selectShard(config.targets, shard);
      process.stdout.write(`shard ${shard.index}/${shard.total} owns ${owned.length} of ${config.targets.length} targets:\n`);
      for (const t of owned) process.stdout.write(`  ${t.name}\n`);
    }
    return 0;
  } catch (err) {
    return reportStartError(err);
  }
}

async function runDaemon(configPath: string, demo: boolean, port: number | undefined, shard: Shard | undefined): Promise<number> {
  const logger = createLogger(process.env.CAMPROBE_LOG_LEVEL ?? 'info');
  let simulator: Simulator | undefined;
  let daemon: Daemon | undefined;
  let env: Record<string, string | undefined> = process.env;
  try {
    if (demo) {
      // A secret for this demo only: the simulator verifies what the daemon mints with it.
      const secret = randomBytes(32).toString('base64url');
      simulator = await startSimulator({ jwtSecret: secret, notificationIntervalMs: 5000 });
      env = { ...process.env, CAMERA_SERVICE_URL: simulator.url, CAMERA_SERVICE_JWT_SECRET: secret };
      logger.info({ url: simulator.url, faults: `${simulator.httpUrl}/control/faults` }, 'demo: simulated camera service started');
    }
    daemon = await startDaemon({ configPath, logger, env, ...(port !== undefined ? { port } : {}), ...(shard ? { shard } : {}) });
  } catch (err) {
    await simulator?.close();
    return reportStartError(err);
  }
  if (demo) {
    process.stdout.write(
      `\ncamprobe demo running\n  metrics:   ${daemon.address}/metrics\n  runs:      ${daemon.address}/api/runs\n` +
        `  faults:    curl -X PUT -H 'content-type: application/json' -d '{"exposeProtected":true}' ${simulator!.httpUrl}/control/faults\n` +
        `  stop:      Ctrl-C\n\n`,
    );
  }

  const running = daemon;
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'stopping');
      process.off('SIGHUP', reload);
      const force = setTimeout(() => {
        logger.error({ deadline_ms: STOP_DEADLINE_MS }, 'clean stop took too long; exiting');
        resolve(1);
      }, STOP_DEADLINE_MS);
      force.unref();
      Promise.all([running.stop(), simulator?.close()])
        .then(() => resolve(0))
        .catch((err: unknown) => {
          logger.error({ err }, 'error while stopping');
          resolve(1);
        })
        .finally(() => clearTimeout(force));
    };
    // SIGHUP re-reads the configuration; the daemon logs the outcome either way.
    const reload = () => {
      logger.info({ signal: 'SIGHUP' }, 'reloading the configuration');
      void running.reload();
    };
    process.on('SIGHUP', reload);
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

function reportStartError(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`camprobe: ${err.message}\n`);
    return 2;
  }
  const e = err as NodeJS.ErrnoException;
  process.stderr.write(`camprobe: cannot start: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`camprobe: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
