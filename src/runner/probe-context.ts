/**
 * What a probe sees of its run (ProbeContext): the runner's timing, connections, values
 * and errors, handed to the probe's `run`. Its members are plain functions, not methods:
 * probe scripts may destructure them.
 */
import type { Logger } from 'pino';
import type { CredentialProvider } from '../auth/credentials.js';
import type { TargetConfig } from '../config/types.js';
import { ProbeError, REASONS, type AccessReport, type SessionReport } from '../core/outcome.js';
import type { ProbeContext, ProbeDefinition } from '../probes/types.js';
import { connectRpc, type Resolver, type RpcConnection } from '../rpc/client.js';
import { loadTls } from '../rpc/tls.js';
import type { ContractWatch } from './contract-watch.js';
import type { HeldConnections } from './held.js';
import type { StepTimer } from './step-timer.js';

/** One run's parts the context is made of. */
export interface RunParts {
  definition: Pick<ProbeDefinition, 'type' | 'values'>;
  target: TargetConfig;
  options: Record<string, unknown>;
  credentials: CredentialProvider;
  resolver: Resolver | undefined;
  /** Aborted at the deadline or on stop. */
  signal: AbortSignal;
  steps: StepTimer;
  contract: ContractWatch | undefined;
  /** Every connection handed out, for the runner to close when the run ends. */
  connections: Set<RpcConnection>;
  /** Connections held across runs, owned by the prepared probe. */
  held: HeldConnections;
  /** What the probe reported with `setValue`. */
  values: Record<string, number>;
  /** What the probe reported with `reportAccess`. */
  reports: { access?: AccessReport; session?: SessionReport };
  memory: Map<string, unknown>;
  exhaustive: boolean;
  intervalMs: number;
  /** The run's logger, made on first use. */
  log: () => Logger;
}

/** The context handed to the probe's `run`, over the run's parts. */
export function probeContext(run: RunParts): ProbeContext<Record<string, unknown>> {
  const { definition, target } = run;
  return {
    target,
    options: run.options,
    signal: run.signal,
    credentials: run.credentials,
    get log() {
      return run.log();
    },
    memory: run.memory,
    exhaustive: run.exhaustive,
    intervalMs: run.intervalMs,
    reportAccess: (report) => {
      run.reports.access = report;
    },
    reportSession: (report) => {
      run.reports.session = report;
    },
    connect: () => connect(run),
    connectHeld: () => connectHeld(run),
    step: (name, fn) => run.steps.time(name, fn),
    setValue: (name, value) => {
      if (!definition.values || !(name in definition.values)) {
        throw new ProbeError('internal', `probe type ${definition.type} did not declare the value "${name}"`);
      }
      run.values[name] = value;
    },
    error: (reason, message) =>
      // Scripts are plain JavaScript: the reason may be anything.
      REASONS.includes(reason) && reason !== ('ok' as string)
        ? new ProbeError(reason, String(message))
        : new ProbeError('internal', `unknown failure reason ${JSON.stringify(String(reason)).slice(0, 40)}: ${String(message)}`),
  };
}

/**
 * A connection that outlives the run: it ends when the holder closes. The attempt itself
 * still ends at the run's deadline, so a target that hangs the handshake leaks nothing.
 */
async function connectHeld(run: RunParts): Promise<RpcConnection> {
  const lifetime = new AbortController();
  const abort = () => lifetime.abort(run.signal.aborted ? run.signal.reason : run.held.signal.reason);
  run.signal.addEventListener('abort', abort, { once: true });
  run.held.signal.addEventListener('abort', abort, { once: true });
  try {
    const conn = await open(run, lifetime.signal);
    run.held.add(conn);
    // The holder lives for the probe's whole life: one listener per connection would pile up.
    conn.onEnd(() => run.held.signal.removeEventListener('abort', abort));
    return conn;
  } catch (err) {
    run.held.signal.removeEventListener('abort', abort);
    throw err;
  } finally {
    // Past the attempt only the holder ends it: the run's deadline no longer applies.
    run.signal.removeEventListener('abort', abort);
  }
}

async function connect(run: RunParts): Promise<RpcConnection> {
  const conn = await open(run, run.signal);
  run.connections.add(conn);
  run.contract?.watch(conn);
  return conn;
}

async function open(run: RunParts, signal: AbortSignal): Promise<RpcConnection> {
  const { target } = run;
  const tlsOptions = loadTls(target.url, target.tls);
  return connectRpc({
    url: target.url,
    signal,
    maxFrameBytes: target.client.max_frame_bytes,
    closeTimeoutMs: target.client.close_timeout_ms,
    ...(tlsOptions ? { tls: tlsOptions } : {}),
    ...(run.resolver ? { resolver: run.resolver } : {}),
    onPhase: run.steps.onPhase,
  });
}
