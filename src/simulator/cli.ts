#!/usr/bin/env node
/**
 * Runs the camera-service simulator as a process, for the demo and the soak test.
 *
 *   node dist/src/simulator/cli.js --port 8002 --secret-env CAMERA_SERVICE_JWT_SECRET --cameras 2
 *
 * Prints one line with the listening URL, then serves until SIGINT/SIGTERM.
 * Secrets are only ever read from the environment (never argv, which `ps` shows).
 */
import { parseArgs } from 'node:util';
import { SIM_DEFAULT_METHOD_ROLES, startSimulator, validateFaults } from './simulator.js';
import type { SimApiKey, SimCamera, SimulatorOptions } from './simulator.js';
import { CREDENTIAL_CLASSES, FAULT_HELP } from './faults.js';

const USAGE = `usage: cli.js [options]
  --host HOST                     default 127.0.0.1
  --port PORT                     default 8002 (0: any free port)
  --path PATH                     WebSocket path, default /ws
  --secret-env VAR                env var holding the HS256 secret, default CAMERA_SERVICE_JWT_SECRET
  --api-key-env VAR:ROLE          env var holding an API key and its role (repeatable)
  --cameras N                     number of cameras, default 2 (even: CONNECTED, odd: DISCONNECTED)
  --max-connections N             default 100
  --rate-limit-per-minute N       default 0 (off)
  --notification-interval-ms N    camera_status_update to each authenticated session, default 0 (off)
  --ping-interval-ms N            WebSocket ping frame to each connection, default 30000 (0: off)
  --faults JSON                   initial faults, e.g. '{"latencyMs":200}' (see below)
  --help

GET /control/stats counts what the clients did (connections, requests, by method).
POST /control/notify with {"method": "camera_status_update", "params": {...}} sends that
notification now to the connections that should get it and answers {"sent": N}.

faults: a JSON object with any of these fields. PUT /control/faults replaces the set at
run time; GET /control/faults shows it ("current") and these ("available"). A method
must be one the simulator knows; credential: ${CREDENTIAL_CLASSES.join(' | ')};
role: viewer | operator | admin.
${faultLines()}`;

/** One line per fault: name, JSON type, what it does. */
function faultLines(): string {
  const width = Math.max(...Object.keys(FAULT_HELP).map((name) => name.length));
  return Object.entries(FAULT_HELP)
    .map(([name, [type, summary]]) => `  ${name.padEnd(width)}  ${type}: ${summary}`)
    .join('\n');
}

class UsageError extends Error {}

function parseCount(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${flag} must be a non-negative integer, got "${value}"`);
  return n;
}

function cameras(count: number): SimCamera[] {
  return Array.from({ length: count }, (_, i) => ({
    device: `camera${i}`,
    status: i % 2 === 0 ? 'CONNECTED' : 'DISCONNECTED',
    name: `Camera ${i}`,
    resolution: '1920x1080',
    fps: 30,
  }));
}

function apiKeys(specs: string[], env: NodeJS.ProcessEnv): SimApiKey[] {
  return specs.map((spec) => {
    const [variable, role] = spec.split(':');
    if (!variable || (role !== 'viewer' && role !== 'operator' && role !== 'admin')) {
      throw new UsageError(`--api-key-env must be VAR:viewer|operator|admin, got "${spec}"`);
    }
    const key = env[variable];
    if (!key) throw new UsageError(`environment variable ${variable} (API key) is not set`);
    return { key, role };
  });
}

/** Turns argv and the environment into simulator options; throws UsageError on any mistake. */
function optionsFromArgs(argv: string[], env: NodeJS.ProcessEnv): SimulatorOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      path: { type: 'string' },
      'secret-env': { type: 'string' },
      'api-key-env': { type: 'string', multiple: true },
      cameras: { type: 'string' },
      'max-connections': { type: 'string' },
      'rate-limit-per-minute': { type: 'string' },
      'notification-interval-ms': { type: 'string' },
      'ping-interval-ms': { type: 'string' },
      faults: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const secretEnv = values['secret-env'] ?? 'CAMERA_SERVICE_JWT_SECRET';
  const jwtSecret = env[secretEnv];
  if (!jwtSecret) throw new UsageError(`environment variable ${secretEnv} (JWT secret) is not set`);
  const options: SimulatorOptions = {
    host: values.host ?? '127.0.0.1',
    port: parseCount('port', values.port, 8002),
    path: values.path ?? '/ws',
    jwtSecret,
    apiKeys: apiKeys(values['api-key-env'] ?? [], env),
    cameras: cameras(parseCount('cameras', values.cameras, 2)),
    maxConnections: parseCount('max-connections', values['max-connections'], 100),
    rateLimitPerMinute: parseCount('rate-limit-per-minute', values['rate-limit-per-minute'], 0),
    notificationIntervalMs: parseCount('notification-interval-ms', values['notification-interval-ms'], 0),
    pingIntervalMs: parseCount('ping-interval-ms', values['ping-interval-ms'], 30_000),
  };
  if (values.faults !== undefined) {
    let input: unknown;
    try {
      input = JSON.parse(values.faults);
    } catch {
      throw new UsageError('--faults must be JSON');
    }
    const checked = validateFaults(input, SIM_DEFAULT_METHOD_ROLES);
    if ('error' in checked) throw new UsageError(`--faults: ${checked.error}`);
    options.faults = checked.faults;
  }
  return options;
}

async function main(): Promise<void> {
  let options: SimulatorOptions | 'help';
  try {
    options = optionsFromArgs(process.argv.slice(2), process.env);
  } catch (err) {
    // parseArgs throws TypeErrors with a code for unknown/malformed flags: usage mistakes too.
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const sim = await startSimulator(options);
  process.stdout.write(`camera-service simulator listening on ${sim.url} (http ${sim.httpUrl})\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal means the user does not want to wait for a clean stop.
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    sim.close().then(
      () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      },
      (err: unknown) => {
        process.stderr.write(`simulator did not close cleanly: ${String(err)}\n`);
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
