/**
 * Shared pieces of the benchmark harness: child processes (simulator, workers), CPU
 * readings from /proc, statistics, and the config the workers load.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The secret every bench process shares; a bench value, never a real one. */
export const BENCH_SECRET = 'bench-secret-not-a-real-one-5d1c8e2a';
export const BENCH_ENV = { ...process.env, CAMERA_SERVICE_JWT_SECRET: BENCH_SECRET };
/** dist/ root: this file is dist/bench/lib.js once compiled. */
export const DIST = join(import.meta.dirname, '..');

/** One line of the results table. */
export interface Goal {
  item: string;
  figure: string;
  goal: string;
  met: boolean | null;
}

/** What the daemon worker reports of the runs since its last reset. */
export interface RunSummary {
  count: number;
  /** Start drift of each scheduled run, ms. */
  driftMs: number[];
  /** The call step of each successful camera_list run, ms. */
  cameraListCallMs: number[];
  /** Failed runs by `probe:reason`. */
  failuresByProbeReason: Record<string, number>;
}

export interface Spread {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
  /** Interquartile range (p75 - p25). */
  iqr: number;
}

/** Nearest-rank percentile of an ascending array. */
function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    min: r(s[0] ?? NaN),
    p50: r(pct(s, 50)),
    p99: r(pct(s, 99)),
    max: r(s[s.length - 1] ?? NaN),
    iqr: r(pct(s, 75) - pct(s, 25)),
  };
}

export function median(values: number[]): number {
  return spread(values).p50;
}

/** CPU time (user + system) of a process in microseconds, from /proc/<pid>/stat. */
export function procCpuUs(pid: number, ticksPerSecond: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) / ticksPerSecond) * 1e6;
}


/** Every child the harness started, so a failure still stops them all. */
const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map(stopChild));
}

export interface SimProcess {
  child: ChildProcess;
  wsUrl: string;
  httpUrl: string;
}

/** Starts the simulator (src/simulator/cli.ts) in its own process, so its CPU is its own. */
export async function startSimProcess(faults: Record<string, unknown> = {}): Promise<SimProcess> {
  const child = track(
    spawn(
      process.execPath,
      [join(DIST, 'src/simulator/cli.js'), '--port', '0', '--max-connections', '100000', '--faults', JSON.stringify(faults)],
      { env: BENCH_ENV, stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`simulator exited (${String(code)}) before listening`);
  });
  const first = once(lines, 'line').then(([line]) => String(line));
  const line = await Promise.race([first, exited]);
  const m = /listening on (\S+) \(http (\S+)\)/.exec(line);
  if (!m) throw new Error(`unexpected simulator output: ${line}`);
  return { child, wsUrl: m[1]!, httpUrl: m[2]! };
}

/** A worker process (a compiled bench/*.js module) spoken to over IPC, one request at a time. */
export class Worker {
  readonly child: ChildProcess;
  private pending: Array<(msg: any) => void> = [];

  /** Starts the worker and waits for its first message (it is ready). */
  static async start(script: string, args: string[], execArgv: string[] = []): Promise<Worker> {
    const worker = new Worker(script, args, execArgv);
    await new Promise<unknown>((resolve) => worker.pending.push(resolve)).then((msg: any) => {
      if (msg && typeof msg === 'object' && 'error' in msg) throw new Error(String(msg.error));
    });
    return worker;
  }

  private constructor(script: string, args: string[], execArgv: string[]) {
    this.child = track(
      fork(join(DIST, 'bench', script), args, { env: BENCH_ENV, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv }),
    );
    this.child.on('message', (msg) => this.pending.shift()?.(msg));
    this.child.once('exit', (code) => {
      for (const p of this.pending.splice(0)) p({ error: `worker ${script} exited with ${String(code)}` });
    });
  }

  async ask<T>(msg: Record<string, unknown>): Promise<T> {
    const reply = await new Promise<any>((resolve) => {
      this.pending.push(resolve);
      this.child.send(msg);
    });
    if (reply && typeof reply === 'object' && 'error' in reply) throw new Error(String(reply.error));
    return reply as T;
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

/** Serves a worker: each IPC message is handed to `handle`, its result (or error) sent back. */
export function serve(handle: (msg: any) => Promise<unknown>): void {
  process.on('message', (msg) => {
    handle(msg).then(
      (reply) => process.send!(reply ?? {}),
      (err: unknown) => process.send!({ error: err instanceof Error ? err.stack ?? err.message : String(err) }),
    );
  });
  process.on('SIGTERM', () => process.exit(0));
}

/** A config for `count` targets named bench-0000..., spread over `urls`, every probe at `interval`. */
export function benchConfig(opts: {
  urls: string[];
  count: number;
  interval?: string;
  timeout?: string;
  probes?: string[];
  extraProbeYaml?: string;
  logLevel?: string;
}): string {
  const probes = opts.probes ?? ['auth_flow', 'camera_list', 'protected_rejection'];
  const lines = [
    'server: { host: 127.0.0.1, port: 0 }',
    `log: { level: ${opts.logLevel ?? 'info'} }`,
    ...(opts.interval ? [`defaults: { interval: ${opts.interval}, timeout: ${opts.timeout ?? '5s'} }`] : []),
    'credentials:',
    '  service:',
    '    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }',
    'targets:',
  ];
  for (let i = 0; i < opts.count; i++) {
    lines.push(`  - name: ${targetName(i)}`, `    url: ${opts.urls[i % opts.urls.length]}`, '    probes:');
    for (const type of probes) lines.push(`      - type: ${type}`);
    if (opts.extraProbeYaml) lines.push(opts.extraProbeYaml);
  }
  return `${lines.join('\n')}\n`;
}

export function targetName(i: number): string {
  return `bench-${String(i).padStart(4, '0')}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
