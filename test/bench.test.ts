/**
 * The benchmark harness still works: its smoke mode runs every part end to end against
 * real processes and writes both result files. Nothing here checks speed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

describe('bench --smoke', () => {
  it('measures every item and writes latest.json and latest.md', async () => {
    const out = mkdtempSync(join(tmpdir(), 'camprobe-bench-test-'));
    const child = spawn(process.execPath, ['dist/bench/run.js', '--smoke', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, stderr);

    const json = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    assert.equal(json.smoke, true);
    assert.match(json.machine.node, /^v\d+/);
    assert.ok(json.machine.cores >= 1);

    const { cost, fidelity, schedule, scrape, footprint, peer } = json.results;
    // Every run of both clients succeeded against the simulator, and CPU was measured.
    assert.equal(cost.failures, 0);
    assert.ok(cost.camprobe.p50 > 0 && cost.bare.p50 > 0);
    assert.equal(cost.camprobe.n, cost.repetitions);
    // The daemon ran its targets: runs recorded, their drift and call durations measured.
    assert.ok(schedule.runsRecorded > 0);
    assert.equal(schedule.driftMs.n, schedule.runsRecorded);
    assert.ok(fidelity.camprobe.n > 0 && fidelity.bareClientSameTime.n > 0);
    // The call step includes the simulated delay: the error is small against it.
    assert.ok(fidelity.camprobe.p50 > -fidelity.delayMs && fidelity.camprobe.p50 < fidelity.delayMs);
    assert.ok(scrape.seriesPerTarget > 0 && scrape.bytes > 0);
    assert.ok(footprint.rss1MB > 0 && footprint.addedPerTargetKB !== undefined);
    // The peer is measured, or skipped with a reason.
    assert.ok(typeof peer.skipped === 'string' || peer.localFetchCheck.failures === 0, JSON.stringify(peer));
    // The fleet ran every probe type, its simulator counted its traffic, and /metrics
    // answered gzip when asked (the scrape decompressed to the series counted).
    const { fleet } = json.results;
    assert.ok(fleet.runs > 0 && fleet.driftMs.n > 0, JSON.stringify(fleet));
    assert.deepEqual(fleet.failuresByProbeReason, {}, 'every fleet run succeeded against a healthy simulator');
    assert.ok(fleet.cpu.connections > 0 && fleet.cpu.requests > fleet.cpu.connections);
    assert.ok(fleet.cpu.bare.connectUs.n > 0 && fleet.cpu.bare.callUs.n > 0 && fleet.cpu.bare.failures === 0);
    assert.equal(fleet.scrape.gzipped, true);
    assert.ok(fleet.scrape.gzipWireBytes > 0 && fleet.scrape.gzipWireBytes < fleet.scrape.plainBytes);
    assert.ok(fleet.memory.rssMB.fleet > 0 && fleet.memory.rssMB.one > 0 && fleet.memory.liveHeapMB.fleet > 0);
    assert.equal(json.goals.filter((g: { item: string }) => g.item.startsWith('F')).length, 5);

    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    assert.match(md, /\| Item \| Measured/);
    assert.equal(json.goals.length, md.split('\n').filter((l: string) => /^\| F?\d/.test(l)).length);
  });

  it('bench/status.ts measures /api/status on the real board and server', async () => {
    const stdout = await smoke(['dist/bench/status.js', '--smoke']);
    const json = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.equal(json.smoke, true);
    assert.ok(json.probes > 0 && json.bytes > 0 && json.recordUsPerRun > 0);
    for (const k of ['unchanged', 'afterARun', 'notModified']) assert.equal(json.httpMs[k].n, 5, k);
    assert.match(stdout, /\| GET \/api\/status, a run arrived since the last \|/);
  });
});

/** Runs a bench script's smoke mode; resolves with its stdout once it exited 0. */
async function smoke(args: string[]): Promise<string> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, stderr);
  return stdout;
}

describe('bench:scrape --smoke', () => {
  it('scrapes the real server in its own process, plain and gzipped, and the two agree', async () => {
    const stdout = await smoke(['dist/bench/scrape.js', '--smoke', '--levels', '6']);
    const json = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.equal(json.smoke, true);
    // Every probe type fed its runs: the access matrix and the held session add their series.
    assert.ok(json.seriesPerTarget > 150, `series per target: ${json.seriesPerTarget}`);
    for (const k of ['renderInProcessMs', 'httpPlainMs', 'httpGzipMs']) assert.equal(json[k].n, json.rounds, k);
    assert.equal(json.otherLevels['6'].ms.n, json.rounds);
    // gzip was negotiated, and the gzip body decompresses to the plain body.
    assert.deepEqual(json.gzip, { contentEncoding: 'gzip', vary: 'accept-encoding', plainContentEncoding: null, sameAsPlain: true });
    assert.equal(json.bytes.gzipDecompressed, json.bytes.plain);
    assert.equal(json.bytes.renderInProcess, json.bytes.plain, 'the route sends what the writer writes');
    assert.ok(json.bytes.gzip < json.bytes.plain / 5, JSON.stringify(json.bytes));
    assert.match(stdout, /\| GET \/metrics, Accept-Encoding: gzip \(level \d, decompressed\) \|/);
  });
});

describe('bench:matrix --smoke', () => {
  it('runs the whole access matrix against a simulator process and counts its series', async () => {
    const stdout = await smoke(['dist/bench/matrix.js', '--smoke']);
    // The documented table: 170 cells checked, 26 uncovered; one series per method and five gauges.
    assert.match(stdout, /^cells per run: 170 \(uncovered: 26\)$/m);
    assert.match(stdout, /^CPU per cell checked: p50 [\d.]+ µs/m);
    assert.match(stdout, /^series the access report adds to one target: 23 /m);
  });
});

describe('bench:sessions --smoke', () => {
  it('holds sessions against a simulator process and reads memory per session', async () => {
    const stdout = await smoke(['--expose-gc', 'dist/bench/sessions.js', '--smoke']);
    assert.match(stdout, /^# 50 held sessions/m);
    assert.match(stdout, /^RSS per held session: -?[\d.]+ KB/m);
    assert.match(stdout, /^live heap per held session: -?[\d.]+ KB/m);
  });
});
