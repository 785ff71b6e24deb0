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
  return new RunContext(run);
}

/**
 * A class rather than an object literal for one reason: `log` is a getter (the run's
 * logger is made on first use), and an object literal with a getter is built on V8's slow
 * path, a cost every run paid (docs/performance.md, change 8). The getter lives on the
 * prototype; every other member is an own property, a plain function or value, so
 * destructuring still works.
 */
class RunContext implements ProbeContext<Record<string, unknown>> {
  readonly target: TargetConfig;
  readonly options: Record<string, unknown>;
  readonly signal: AbortSignal;
  readonly credentials: CredentialProvider;
  readonly memory: Map<string, unknown>;
  readonly exhaustive: boolean;
  readonly intervalMs: number;
  readonly reportAccess: ProbeContext['reportAccess'];
  readonly reportSession: ProbeContext['reportSession'];
  readonly connect: ProbeContext['connect'];
  readonly connectHeld: ProbeContext['connectHeld'];
  readonly step: ProbeContext['step'];
  readonly setValue: ProbeContext['setValue'];
  readonly error: ProbeContext['error'];
  private readonly makeLog: () => Logger;

  constructor(run: RunParts) {
    const { definition } = run;
    this.target = run.target;
    this.options = run.options;
    this.signal = run.signal;
    this.credentials = run.credentials;
    this.memory = run.memory;
    this.exhaustive = run.exhaustive;
    this.intervalMs = run.intervalMs;
    this.makeLog = run.log;
    this.reportAccess = (report) => {
      run.reports.access = report;
    };
    this.reportSession = (report) => {
      run.reports.session = report;
    };
    this.connect = () => connect(run);
    this.connectHeld = () => connectHeld(run);
    this.step = (name, fn) => run.steps.time(name, fn);
    this.setValue = (name, value) => {
      if (!definition.values || !(name in definition.values)) {
        throw new ProbeError('internal', `probe type ${definition.type} did not declare the value "${name}"`);
      }
      run.values[name] = value;
    };
    this.error = (reason, message) =>
      // Scripts are plain JavaScript: the reason may be anything.
      REASONS.includes(reason) && reason !== ('ok' as string)
        ? new ProbeError(reason, String(message))
        : new ProbeError('internal', `unknown failure reason ${JSON.stringify(String(reason)).slice(0, 40)}: ${String(message)}`);
  }

  get log(): Logger {
    return this.makeLog();
  }
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

/** Not async: it hands back connectRpc's promise rather than wrapping it in another. */
function open(run: RunParts, signal: AbortSignal): Promise<RpcConnection> {
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
