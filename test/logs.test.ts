/**
 * The daemon's log as a new user reads it, from the real command: a start line naming
 * each target and its probes, then one line per change of state at the level it
 * deserves, nothing per run above debug, no secret anywhere; JSON on a pipe, pretty when
 * asked (a flag or the environment).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../src/simulator/simulator.js';
import { SECRET, watchOutput } from './helpers/harness.js';

const CLI = join(process.cwd(), 'dist/src/cli.js');
const QUERY_CANARY = 'query-canary-77f1';
type Line = Record<string, unknown>;
type Child = ChildProcessByStdio<null, Readable, Readable>;

function start(configPath: string, args: string[] = [], env: Record<string, string> = {}): Child {
  return spawn(process.execPath, [CLI, 'run', '-c', configPath, ...args], {
    env: { PATH: process.env.PATH ?? '', CAMERA_SERVICE_JWT_SECRET: SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function stop(child: Child): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  assert.deepEqual(await exited, [0, null]);
}

/** The child's JSON lines, and a way to wait until `count` of them match (rejecting if it exits first). */
function jsonLines(child: Child) {
  const lines: Line[] = [];
  let text = '';
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (raw) => {
    text += `${raw}\n`;
    lines.push(JSON.parse(raw) as Line);
    for (const w of [...waiters]) w();
  });
  return {
    lines,
    text: () => text,
    until(what: string, pred: (l: Line) => boolean, count = 1): Promise<Line[]> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.filter(pred);
          if (found.length < count) return;
          waiters.delete(check);
          child.off('exit', onExit);
          resolve(found);
        };
        const onExit = () => reject(new Error(`camprobe exited before ${count} × ${what}:\n${text}`));
        child.once('exit', onExit);
        waiters.add(check);
        check();
      });
    },
  };
}

const about = (probe: string, msg: string) => (l: Line) => l.probe === probe && l.msg === msg;

describe('the daemon log', () => {
  let sim: Simulator;
  let dir: string;
  let configPath: string;
  before(async () => {
    sim = await startSimulator({ jwtSecret: SECRET });
    dir = mkdtempSync(join(tmpdir(), 'camprobe-logs-'));
    configPath = join(dir, 'camprobe.yaml');
    writeFileSync(
      configPath,
      `server: { host: 127.0.0.1, port: 0 }
log:
  level: \${CAMPROBE_LOG_LEVEL:-info}
defaults: { interval: 1s, timeout: 800ms }
credentials:
  service:
    jwt_secret: { env: CAMERA_SERVICE_JWT_SECRET }
targets:
  - name: sim
    url: ${sim.url}?access_token=${QUERY_CANARY}
    probes: [{ type: auth_flow }, { type: protected_rejection }]
`,
    );
  });
  after(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells the story: targets at start, then one line per change of state, at its level', async () => {
    sim.setFaults({});
    const child = start(configPath, [], { CAMPROBE_LOG_LEVEL: 'debug' });
    try {
      const log = jsonLines(child);
      const [started] = await log.until('the start line', (l) => l.msg === 'camprobe started');
      const port = new URL(sim.url).port;
      assert.deepEqual(started!.probing, [`sim ws://127.0.0.1:${port}/ws?…: auth_flow every 1s, protected_rejection every 1s`]);
      await log.until('auth_flow up', about('auth_flow', 'probe up'));
      await log.until('protected_rejection up', about('protected_rejection', 'probe up'));

      // The same failure, run after run: one warning, the rest at debug.
      sim.setFaults({ refuseValidCredentials: true });
      await log.until('three failed auth_flow runs', (l) => about('auth_flow', 'probe run failed')(l) && l.reason === 'auth_rejected', 3);
      const down = log.lines.filter(about('auth_flow', 'probe down'));
      assert.equal(down.length, 1, log.text());
      assert.equal(down[0]!.level, 40);
      assert.equal(down[0]!.reason, 'auth_rejected');
      assert.match(String(down[0]!.detail), /\S/);

      sim.setFaults({});
      const [recovered] = await log.until('auth_flow recovered', about('auth_flow', 'probe recovered'));
      assert.equal(recovered!.level, 30);
      assert.equal(recovered!.reason_was, 'auth_rejected');
      assert.ok(Number(recovered!.failed_runs) >= 3, String(recovered!.failed_runs));
      assert.ok(Number(recovered!.down_for_ms) >= 1000, String(recovered!.down_for_ms));
      assert.match(String(recovered!.down_for), /^\d+(m\d+)?s$|^\d+m$/);

      // A security finding is an error, not a warning like a refused connection.
      sim.setFaults({ exposeProtected: true });
      const [violation] = await log.until('protected_rejection down', (l) => about('protected_rejection', 'probe down')(l) && l.level === 50);
      assert.ok(['security_violation', 'rejection_unconfirmed'].includes(String(violation!.reason)), String(violation!.reason));
      // (Its recovery waits for the access matrix to check every exposed cell again: a whole sweep.)

      const perRunAboveDebug = log.lines.filter((l) => String(l.msg).startsWith('probe run') && Number(l.level) > 20);
      assert.deepEqual(perRunAboveDebug, [], 'each run is logged at debug only');
      assert.ok(!log.text().includes(SECRET) && !log.text().includes(QUERY_CANARY), 'no secret, no query string');
      assert.doesNotMatch(log.text(), /eyJ[A-Za-z0-9_-]+\./);
    } finally {
      sim.setFaults({});
      await stop(child);
    }
  });

  it('pretty with --log-format or CAMPROBE_LOG_FORMAT: one plain line per event on a pipe; the flag wins', async () => {
    for (const [args, env] of [[['--log-format', 'pretty'], {}], [[], { CAMPROBE_LOG_FORMAT: 'pretty' }]] as const) {
      const child = start(configPath, [...args], env);
      try {
        const out = watchOutput(child);
        await out.waitFor(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: sim\/auth_flow probe up \{"duration_ms":[\d.]+\}$/m);
        const text = out.text();
        assert.match(text, /^\[[\d:.]+\] INFO: camprobe started \{.*"probing":\["sim ws:\/\/127\.0\.0\.1:\d+\/ws\?…: auth_flow every 1s, protected_rejection every 1s"\]\}$/m);
        assert.doesNotMatch(text, /^\{/m, 'no JSON lines');
        assert.doesNotMatch(text, /\u001b\[/, 'no colour on a pipe');
        assert.ok(!text.includes(SECRET) && !text.includes(QUERY_CANARY));
      } finally {
        await stop(child);
      }
    }
    const json = start(configPath, ['--log-format', 'json'], { CAMPROBE_LOG_FORMAT: 'pretty' });
    try {
      await jsonLines(json).until('a JSON line', (l) => l.msg === 'probe up');
    } finally {
      await stop(json);
    }
  });
});
