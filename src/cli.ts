#!/usr/bin/env node
/**
 * The `camprobe` command.
 *
 *   camprobe [run] [--config FILE] [--shard I/N]          run the daemon (its shard of the targets)
 *   camprobe check-config [--config FILE] [--shard I/N]   validate the configuration and exit
 *   camprobe demo [--port N]             simulator and daemon together, every probe green
 *   camprobe once [--config FILE] [...]  run the probes once, report, exit (for CI)
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, PACKAGED_CONFIG_PATH as DEFAULT_CONFIG_PATH } from './config/load.js';
import { loadConfig, loadConfigWithScripts } from './probes/load-config.js';
import { parseShard, selectShard, type Shard } from './config/shard.js';
import { startDaemon, type Daemon } from './daemon.js';
import { createLogger } from './logger.js';
import { runSelected, selectProbes, SelectionError } from './once.js';
import { BUILTIN_PROBES } from './probes/registry.js';
import { isReporter, renderReport, REPORTERS, summarize, useColour, type ReporterName } from './report/index.js';
import { startSimulator, type Simulator } from './simulator/simulator.js';
import { COMMIT, VERSION } from './version.js';

const HELP = `camprobe ${VERSION}: synthetic monitor for the camera service's JSON-RPC WebSocket API

Usage:
  camprobe [run] [--config FILE] [--shard I/N]          run the daemon (default config: ${DEFAULT_CONFIG_PATH})
  camprobe check-config [--config FILE] [--shard I/N]   validate the configuration, print a summary, exit
  camprobe demo [--port N]                              start a simulated camera service and the daemon against it
  camprobe once [--config FILE] [--target NAME ...] [--probe NAME ...]
                [--reporter pretty|json|junit] [--output FILE]
                                          run each selected probe once against the running service
                                          and exit: 0 all passed, 1 any failed, 2 usage or config error
  camprobe --help | --version

Options:
  -c, --config FILE   configuration file (YAML)
  -p, --port N        HTTP port for /metrics (overrides the config; demo default 9464)
      --shard I/N     probe only shard I (0-based) of N: the targets whose name hashes to I
                      (overrides the config's shard; run N replicas with 0/N … N-1/N)
  -t, --target NAME   once: only this target (repeatable)
      --probe NAME    once: only probes with this name (repeatable)
  -r, --reporter R    once: pretty (default; coloured on a terminal unless NO_COLOR is set), json or junit
  -o, --output FILE   once: write the report to FILE (the pretty table still goes to stdout)
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
        target: { type: 'string', short: 't', multiple: true },
        probe: { type: 'string', multiple: true },
        reporter: { type: 'string', short: 'r' },
        output: { type: 'string', short: 'o' },
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
  if (positionals.length > 1 || !['run', 'check-config', 'demo', 'once'].includes(command)) {
    process.stderr.write(`camprobe: unknown command "${positionals.join(' ')}"\n\n${HELP}`);
    return 2;
  }
  const onceOnly = (['target', 'probe', 'reporter', 'output'] as const).filter((k) => values[k] !== undefined);
  if (command !== 'once' && onceOnly.length > 0) {
    process.stderr.write(`camprobe: --${onceOnly[0]} is an option of "camprobe once"\n`);
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
  if (values.shard !== undefined && (command === 'once' || command === 'demo')) {
    process.stderr.write(`camprobe: --shard is an option of "camprobe run" and "camprobe check-config"\n`);
    return 2;
  }
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
  if (command === 'once') {
    const reporter = values.reporter ?? 'pretty';
    if (!isReporter(reporter)) {
      process.stderr.write(`camprobe: --reporter must be one of ${REPORTERS.join(', ')}\n`);
      return 2;
    }
    return runOnceCommand({ configPath, targets: values.target ?? [], probes: values.probe ?? [], reporter, output: values.output });
  }
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

interface OnceCommand {
  configPath: string;
  targets: string[];
  probes: string[];
  reporter: ReporterName;
  output: string | undefined;
}

async function runOnceCommand(cmd: OnceCommand): Promise<number> {
  // Logs go to stderr, quiet by default: stdout is the report.
  const logger = createLogger(process.env.CAMPROBE_LOG_LEVEL ?? 'error', pino.destination(2));
  let loaded;
  let selected;
  try {
    loaded = await loadConfigWithScripts(cmd.configPath, { probeTypes: BUILTIN_PROBES });
    selected = selectProbes(loaded.config, cmd.targets, cmd.probes);
  } catch (err) {
    if (err instanceof SelectionError) {
      process.stderr.write(`camprobe: ${err.message}\n`);
      return 2;
    }
    return reportStartError(err);
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const t0 = performance.now();
  let runs;
  try {
    runs = await runSelected({ ...loaded, selected, logger, stopSignal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const summary = summarize(runs, performance.now() - t0);
  if (cmd.output !== undefined) {
    try {
      await writeFile(cmd.output, renderReport(cmd.reporter, runs, summary, { colour: false }));
    } catch (err) {
      process.stderr.write(`camprobe: cannot write --output ${cmd.output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 2;
    }
  }
  const toStdout = cmd.output === undefined ? cmd.reporter : 'pretty';
  process.stdout.write(renderReport(toStdout, runs, summary, { colour: toStdout === 'pretty' && useColour(process.stdout, process.env) }));
  if (stop.signal.aborted) {
    process.stderr.write(`camprobe: interrupted: ${selected.length - runs.length} of ${selected.length} probes did not finish\n`);
    return 1;
  }
  return summary.failed > 0 ? 1 : 0;
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
