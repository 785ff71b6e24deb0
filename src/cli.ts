#!/usr/bin/env node
/**
 * The `camprobe` command: reads the command line and the environment (once, here), then
 * runs a command. The words live in cli/: usage.ts (help, options, usage errors),
 * start-errors.ts (why camprobe could not start, and what to do), summary.ts (check-config).
 *
 *   camprobe [run] [--config FILE] [--shard I/N]          run the daemon (its shard of the targets)
 *   camprobe check-config [--config FILE] [--shard I/N]   validate the configuration, list it, exit
 *   camprobe demo [--port N]             simulator and daemon together, every probe green
 *   camprobe once [--config FILE] [...]  run the probes once, report, exit (for CI)
 *   camprobe help | version
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { fileURLToPath } from 'node:url';
import { defaultConfigPaths } from './config/load.js';
import { loadConfig, loadConfigWithScripts } from './probes/load-config.js';
import { parseShard, POD_INDEX_ENV, type Shard } from './config/shard.js';
import { startDaemon, type Daemon } from './daemon.js';
import { createLogger, isLogFormat, logDestination, LOG_FORMATS, type LogOutput } from './logger.js';
import { runSelected, selectProbes, SelectionError } from './once.js';
import { BUILTIN_PROBES } from './probes/registry.js';
import { isReporter, renderReport, REPORTERS, summarize, useColour, type ReporterName } from './report/index.js';
import { startSimulator, type Simulator } from './simulator/simulator.js';
import { describeStartError, noDefaultConfig, type StartContext } from './cli/start-errors.js';
import { configSummary } from './cli/summary.js';
import { HELP, parseCommandLine, usageLine } from './cli/usage.js';
import { COMMIT, VERSION } from './version.js';

/** How long a clean stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 10_000;

/** What every command runs with, from the command line and the environment (read here, once). */
interface Invocation extends StartContext {
  configPath: string;
  port: number | undefined;
  shard: Shard | undefined;
  logs: LogOutput;
  logLevel: string | undefined;
  env: NodeJS.ProcessEnv;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const line = parseCommandLine(argv);
  if ('usage' in line) return usageError(line.usage);
  const { command, values } = line;
  if (command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === 'version') {
    process.stdout.write(`camprobe ${VERSION} (commit ${COMMIT}, node ${process.version})\n`);
    return 0;
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (values.port.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) return usageError('--port must be an integer from 0 to 65535');
  }
  let shard: Shard | undefined;
  if (values.shard !== undefined) {
    try {
      // HOSTNAME: Kubernetes sets it to the pod's name (and a test can); else the system's.
      shard = parseShard(values.shard, { podIndex: process.env[POD_INDEX_ENV], hostname: process.env.HOSTNAME || hostname() });
    } catch (err) {
      return usageError((err as Error).message);
    }
  }
  // The variable is read only by the commands that log, so a bad one never fails check-config.
  const format = values['log-format'] ?? (command === 'check-config' ? undefined : env.CAMPROBE_LOG_FORMAT || undefined);
  if (format !== undefined && !isLogFormat(format)) {
    const from = values['log-format'] !== undefined ? '--log-format' : 'CAMPROBE_LOG_FORMAT';
    return usageError(`${from} must be ${LOG_FORMATS.join(' or ')}, not ${JSON.stringify(format)}`);
  }
  // once writes its report to stdout: its logs go to stderr.
  const fd = command === 'once' ? 2 : 1;
  const stream = fd === 1 ? process.stdout : process.stderr;
  const logs: LogOutput = { format: format ?? (stream.isTTY ? 'pretty' : 'json'), fd, colour: useColour(stream, env) };

  const configPath = values.config ?? defaultConfig(command === 'demo');
  if (configPath === undefined) {
    process.stderr.write(noDefaultConfig());
    return 2;
  }
  const run: Invocation = { configPath, configGiven: values.config !== undefined, portGiven: port !== undefined, port, shard, logs, logLevel: env.CAMPROBE_LOG_LEVEL, env };
  if (command === 'check-config') return checkConfig(run);
  if (command === 'once') {
    const reporter = values.reporter ?? 'pretty';
    if (!isReporter(reporter)) return usageError(`--reporter must be one of ${REPORTERS.join(', ')}`);
    return runOnceCommand(run, { targets: values.target ?? [], probes: values.probe ?? [], reporter, output: values.output });
  }
  return runDaemon(run, command === 'demo');
}

function usageError(problem: string): number {
  process.stderr.write(usageLine(problem));
  return 2;
}

/**
 * The configuration used without --config: the system's file, else the packaged one; the
 * demo always uses the packaged one (it points it at its own simulator).
 */
function defaultConfig(demo: boolean): string | undefined {
  const [system, packaged] = defaultConfigPaths();
  const candidates = demo ? [packaged] : [system, packaged];
  return candidates.find((path): path is string => path !== undefined && existsSync(path));
}

async function checkConfig(run: Invocation): Promise<number> {
  try {
    const config = await loadConfig(run.configPath, { probeTypes: BUILTIN_PROBES, env: run.env });
    process.stdout.write(configSummary(resolve(run.configPath), config, run.shard ?? config.shard));
    return 0;
  } catch (err) {
    return reportStartError(err, run);
  }
}

async function runDaemon(run: Invocation, demo: boolean): Promise<number> {
  const { env } = run;
  const logger = createLogger(run.logLevel ?? 'info', logDestination(run.logs));
  let simulator: Simulator | undefined;
  let daemon: Daemon | undefined;
  let daemonEnv: Record<string, string | undefined> = env;
  // From here on a signal is held, not fatal: one that arrives while the daemon starts (a
  // supervisor's SIGHUP or SIGTERM right after the start line) is acted on once it runs.
  const early = holdSignals();
  try {
    if (demo) {
      // A secret for this demo only: the simulator verifies what the daemon mints with it.
      const secret = randomBytes(32).toString('base64url');
      simulator = await startSimulator({ jwtSecret: secret, notificationIntervalMs: 5000 });
      daemonEnv = { ...env, CAMERA_SERVICE_URL: simulator.url, CAMERA_SERVICE_JWT_SECRET: secret };
      logger.info({ url: simulator.url, faults: `${simulator.httpUrl}/control/faults` }, 'demo: simulated camera service started');
    }
    // The demo must start wherever it is tried: a port in use is swapped for a free one, unless --port asked for it.
    const portFallback = demo && run.port === undefined;
    daemon = await startDaemon({ configPath: run.configPath, logger, env: daemonEnv, portFallback, ...(run.port !== undefined ? { port: run.port } : {}), ...(run.shard ? { shard: run.shard } : {}) });
  } catch (err) {
    early.release();
    await simulator?.close();
    return reportStartError(err, run);
  }
  if (simulator) process.stdout.write(demoBanner(daemon, simulator));
  return untilStopped(daemon, simulator, logger, early);
}

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Signals received before untilStopped takes over. */
interface HeldSignals {
  /** The first stop signal, if any, and whether a SIGHUP came; stops holding. */
  release(): { stop: string | undefined; hup: boolean };
}

function holdSignals(): HeldSignals {
  let stop: string | undefined;
  let hup = false;
  const onStop = (signal: string) => (stop ??= signal);
  const onHup = () => (hup = true);
  process.on('SIGHUP', onHup);
  for (const signal of STOP_SIGNALS) process.on(signal, onStop);
  return {
    release() {
      process.off('SIGHUP', onHup);
      for (const signal of STOP_SIGNALS) process.off(signal, onStop);
      return { stop, hup };
    },
  };
}

function demoBanner(daemon: Daemon, simulator: Simulator): string {
  const port = new URL(daemon.address).port;
  const asked = daemon.config.server.port;
  const moved = asked !== 0 && String(asked) !== port ? ` (port ${asked} was in use)` : '';
  const faults = `${simulator.httpUrl}/control/faults`;
  return (
    `\ncamprobe demo running on port ${port}${moved}\n` +
    `  status:    ${daemon.address}/   (open it in a browser)\n` +
    `  metrics:   curl -s ${daemon.address}/metrics | grep camprobe_probe_success\n` +
    `  runs:      curl -s ${daemon.address}/api/runs\n` +
    `  faults:    curl -s ${faults}   (the current ones and every one available)\n` +
    `  inject:    curl -X PUT -H 'content-type: application/json' -d '{"exposeProtected":true}' ${faults}\n` +
    `  stop:      Ctrl-C\n\n`
  );
}

/** Runs until SIGTERM or SIGINT, reloading on SIGHUP; resolves with the exit code. */
function untilStopped(running: Daemon, simulator: Simulator | undefined, logger: Logger, early: HeldSignals): Promise<number> {
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
    const held = early.release();
    if (held.stop !== undefined) shutdown(held.stop);
    else if (held.hup) reload();
  });
}

interface OnceCommand {
  targets: string[];
  probes: string[];
  reporter: ReporterName;
  output: string | undefined;
}

async function runOnceCommand(run: Invocation, cmd: OnceCommand): Promise<number> {
  // Logs go to stderr, quiet by default: stdout is the report.
  const logger = createLogger(run.logLevel ?? 'error', logDestination(run.logs));
  let loaded;
  let selected;
  try {
    loaded = await loadConfigWithScripts(run.configPath, { probeTypes: BUILTIN_PROBES, env: run.env });
    selected = selectProbes(loaded.config, cmd.targets, cmd.probes);
  } catch (err) {
    if (err instanceof SelectionError) {
      process.stderr.write(`camprobe: ${err.message}\n`);
      return 2;
    }
    return reportStartError(err, run);
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
  process.stdout.write(renderReport(toStdout, runs, summary, { colour: toStdout === 'pretty' && useColour(process.stdout, run.env) }));
  if (stop.signal.aborted) {
    process.stderr.write(`camprobe: interrupted: ${selected.length - runs.length} of ${selected.length} probes did not finish\n`);
    return 1;
  }
  return summary.failed > 0 ? 1 : 0;
}

function reportStartError(err: unknown, ctx: StartContext): number {
  const { text, code } = describeStartError(err, ctx);
  process.stderr.write(text);
  return code;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`camprobe: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
