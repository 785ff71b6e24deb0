// scratch: quick steady-state heap snapshots (not committed)
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Worker, benchConfig, startSimProcess, stopAll, sleep } from '../dist/bench/lib.js';
const n = Number(process.argv[2] ?? 200), waitMs = Number(process.argv[3] ?? 40000), out = process.argv[4] ?? '/tmp/mem';
const sim = await startSimProcess();
async function start(count) {
  const dir = mkdtempSync(join(tmpdir(), 'mem-'));
  const p = join(dir, 'c.yaml');
  writeFileSync(p, (process.env.EXTRA ?? '') + benchConfig({ urls: [sim.wsUrl], count, interval: '1s', timeout: '800ms', probes: ['auth_flow','camera_list','protected_rejection','session'] }));
  const w = await Worker.start('daemon-worker.js', [p], ['--expose-gc', ...(process.env.FLAGS ?? '').split(' ').filter(Boolean)]);
  return w;
}
const big = await start(n), one = await start(1);
await sleep(waitMs);
for (const [name, w, c] of [['fleet', big, n], ['one', one, 1]]) {
  const m = await w.ask({ op: 'memory' });
  const live = await w.ask({ op: 'live-heap' });
  console.log(name, 'rss MB', (m.rss/2**20).toFixed(1), 'heapTotal', (m.heapTotal/2**20).toFixed(1), 'live', (live.heapUsed/2**20).toFixed(1), 'external', (m.external/2**20).toFixed(1), 'ab', (m.arrayBuffers/2**20).toFixed(1));
  if (!process.env.NOSNAP) await w.ask({ op: 'snapshot', path: join(out, `${name}.heapsnapshot`) });
}
await big.ask({ op: 'stop' }); await one.ask({ op: 'stop' });
await stopAll();
