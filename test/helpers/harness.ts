/** Runs real probes against the real simulator, with a config parsed like the daemon's. */
import type { ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import type { Config, TargetConfig } from '../../src/config/types.js';
import type { Daemon } from '../../src/daemon.js';
import { BUILTIN_PROBES } from '../../src/probes/registry.js';
import { createRunner, type RunOptions } from '../../src/runner/create-runner.js';
import type { AnyProbeDefinition } from '../../src/probes/types.js';
import type { RunRecord } from '../../src/core/outcome.js';

export const SECRET = 'canary-secret-7f3a9c1e5b2d4f60';
export const silentLogger = pino({ level: 'silent' });

/** A config with one target at `url`; `probes` is the YAML list of probes (indented 6). */
export function configFor(url: string, probes: string, extra = ''): Config {
  return parseConfig(configYaml(url, probes, extra), { source: 'test', env: { CAMERA_SERVICE_JWT_SECRET: SECRET }, probeTypes: probeTypes() });
}

/** The text of {@link configFor}'s config, `extra` being top-level YAML. */
export function configYaml(url: string, probes: string, extra = ''): string {
  return `
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
    role: viewer
    ttl: 1m
${extra}
targets:
  - name: sim
    url: ${url}
    probes:
${probes}
`;
}

let extraTypes = new Map<string, AnyProbeDefinition>();
/** Registers probe types for one test (user-script-like probes). */
export function withProbeTypes(types: AnyProbeDefinition[]): void {
  extraTypes = new Map(types.map((t) => [t.type, t]));
}
function probeTypes(): Map<string, AnyProbeDefinition> {
  return new Map([...BUILTIN_PROBES, ...extraTypes]);
}

/** Runs the target's probe named `probe` once and returns its record. */
export async function runOnce(config: Config, probe: string, logger = silentLogger, runOpts: RunOptions = {}): Promise<RunRecord> {
  const target: TargetConfig = config.targets[0]!;
  const probeConfig = target.probes.find((p) => p.name === probe)!;
  const runner = createRunner({ credentials: config.credentials, probeTypes: probeTypes(), logger, env: { CAMERA_SERVICE_JWT_SECRET: SECRET } });
  const run = await runner.run(target, probeConfig, runOpts);
  if (!run) throw new Error('run was stopped');
  return run;
}

/** A debug-level logger whose JSON lines are kept in `lines`, for assertions on the log. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  );
  return { logger, lines };
}

/** Resolves with the next recorded run of `probe` that satisfies `pred`. */
export function nextRun(daemon: Daemon, probe: string, pred: (r: RunRecord) => boolean = () => true): Promise<RunRecord> {
  return new Promise((resolve) => {
    const listener = (run: RunRecord) => {
      if (run.probe === probe && pred(run)) {
        daemon.events.off('run', listener);
        resolve(run);
      }
    };
    daemon.events.on('run', listener);
  });
}

/**
 * Collects a child's stdout and stderr; `waitFor(re)` resolves with the first match
 * found after `from` (an offset into `text()`), and rejects if the child exits first.
 */
export function watchOutput(child: ChildProcess): { text: () => string; waitFor: (re: RegExp, from?: number) => Promise<RegExpMatchArray> } {
  let out = '';
  const waiters = new Set<() => void>();
  const feed = (d: Buffer) => {
    out += String(d);
    for (const w of [...waiters]) w();
  };
  child.stdout?.on('data', feed);
  child.stderr?.on('data', feed);
  return {
    text: () => out,
    waitFor: (re, from = 0) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = out.slice(from).match(re);
          if (m) {
            waiters.delete(check);
            child.off('exit', onExit);
            resolve(m);
          }
        };
        const onExit = (code: number | null) => {
          waiters.delete(check);
          reject(new Error(`child exited (${code}) before printing ${re}:\n${out}`));
        };
        child.once('exit', onExit);
        waiters.add(check);
        check();
      }),
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
