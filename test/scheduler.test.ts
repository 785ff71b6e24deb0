import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { once, EventEmitter } from 'node:events';
import pino from 'pino';
import { nextSlot, planJob, Scheduler, type Job, type Plan } from '../src/scheduler/scheduler.js';
import { FakeClock } from './helpers/fake-clock.js';

const silent = pino({ level: 'silent' });
/** An instant on no round number, so a grid that ignored the phase would show. */
const START_MS = Date.UTC(2026, 0, 5, 9, 0, 0) + 4_321;

function intervalPlan(plan: Plan): Extract<Plan, { kind: 'interval' }> {
  assert.equal(plan.kind, 'interval');
  return plan as Extract<Plan, { kind: 'interval' }>;
}

/** A job that records the instants it was scheduled for and the clock when it ran. */
function recordingJob(probe: string, intervalMs: number, clock: { now(): number }) {
  const runs: Array<{ scheduledAtMs: number; ranAtMs: number }> = [];
  const job: Job = {
    target: 't',
    probe,
    intervalMs,
    run: async (_signal, scheduledAtMs) => {
      runs.push({ scheduledAtMs, ranAtMs: clock.now() });
    },
  };
  return { job, runs };
}

describe('planJob', () => {
  it('gives any interval a stable phase inside it', () => {
    for (const intervalMs of [1000, 5000, 7000, 15000, 45000, 60000, 90000, 300000, 3600000, 6 * 3600000, 25 * 3600000]) {
      for (const target of ['a', 'b', 'camera-host-17']) {
        const plan = intervalPlan(planJob({ target, probe: 'auth_flow', intervalMs }, 2000));
        assert.equal(plan.intervalMs, intervalMs);
        assert.ok(Number.isInteger(plan.slotMs) && plan.slotMs >= 0 && plan.slotMs < intervalMs, `slot ${plan.slotMs} inside ${intervalMs}`);
        assert.ok(plan.firstDelayMs >= 0 && plan.firstDelayMs < Math.min(2000, intervalMs));
        assert.deepEqual(planJob({ target, probe: 'auth_flow', intervalMs }, 2000), plan, 'same job, same plan');
      }
    }
  });

  it('spreads many targets over the interval instead of one instant', () => {
    for (const intervalMs of [7000, 15000]) {
      const starts = new Set<number>();
      for (let i = 0; i < 200; i++) {
        starts.add(Math.floor(intervalPlan(planJob({ target: `t${i}`, probe: 'camera_list', intervalMs }, 2000)).slotMs / 100));
      }
      const slots = intervalMs / 100;
      assert.ok(starts.size > Math.min(100, 0.8 * slots), `every ${intervalMs} ms, 200 jobs land on ${starts.size} of ${slots} 100 ms slots`);
    }
  });

  it('nextSlot is the first grid instant strictly after now', () => {
    assert.equal(nextSlot(10_000, 1000, 250), 10_250);
    assert.equal(nextSlot(10_250, 1000, 250), 11_250);
    assert.equal(nextSlot(10_249, 15_000, 14_999), 14_999);
    assert.equal(nextSlot(START_MS, 7000, 3), Math.ceil((START_MS - 3 + 1) / 7000) * 7000 + 3);
  });

  it('keeps an explicit cron schedule as given, its phase under a second', () => {
    const plan = planJob({ target: 't', probe: 'p', intervalMs: 60000, schedule: '0 * * * * *' }, 2000);
    assert.equal(plan.kind, 'cron');
    assert.equal(plan.kind === 'cron' ? plan.cron : '', '0 * * * * *');
    assert.ok(plan.kind === 'cron' && plan.offsetMs >= 0 && plan.offsetMs < 1000);
  });

  it('refuses an interval that is not a positive number of milliseconds', () => {
    for (const intervalMs of [0, -1000, Number.NaN]) {
      assert.throws(() => planJob({ target: 't', probe: 'p', intervalMs }, 2000), /job t\/p: the interval must be a positive number of milliseconds/);
    }
  });
});

describe('Scheduler on its clock', () => {
  it('a 7 s interval runs on its grid for an hour: evenly spaced, no drift, no skip', async () => {
    const clock = new FakeClock(START_MS);
    const { job, runs } = recordingJob('seven', 7000, clock);
    const scheduler = new Scheduler({ logger: silent, clock, onSkip: () => assert.fail('nothing to skip') });
    scheduler.add(job);
    await clock.advance(3600_000);
    await scheduler.stop();

    const plan = intervalPlan(planJob(job, 2000));
    assert.ok(runs.length >= 514 && runs.length <= 515, `${runs.length} runs in an hour`);
    assert.ok(runs[0]!.scheduledAtMs - START_MS < 2000, 'the first run within the start-up spread');
    const scheduled = runs.slice(1);
    for (const [i, r] of scheduled.entries()) {
      assert.equal((r.scheduledAtMs - plan.slotMs) % 7000, 0, `run ${i + 1} on the k * 7 s + phase grid`);
      assert.equal(r.ranAtMs, r.scheduledAtMs, `run ${i + 1} started at its instant`);
      if (i > 0) assert.equal(r.scheduledAtMs - scheduled[i - 1]!.scheduledAtMs, 7000);
    }
    assert.ok(scheduled[0]!.scheduledAtMs - runs[0]!.scheduledAtMs <= 7000, 'the grid starts right after the start-up run');
  });

  it('jobs keep their instants across a restart, and different jobs get different phases', async () => {
    const instants = async (startMs: number, probe: string, intervalMs: number) => {
      const clock = new FakeClock(startMs);
      const { job, runs } = recordingJob(probe, intervalMs, clock);
      const scheduler = new Scheduler({ logger: silent, clock, onSkip: () => undefined });
      scheduler.add(job);
      await clock.advance(3 * intervalMs);
      await scheduler.stop();
      return runs.slice(1).map((r) => r.scheduledAtMs % intervalMs);
    };
    for (const intervalMs of [7000, 45_000]) {
      const first = await instants(START_MS, 'p', intervalMs);
      const restarted = await instants(START_MS + 1_234_567, 'p', intervalMs);
      assert.equal(new Set([...first, ...restarted]).size, 1, `every ${intervalMs} ms: the same phase before and after the restart`);
      const other = await instants(START_MS, 'another-probe', intervalMs);
      assert.notEqual(other[0], first[0], 'another job, another phase');
    }
  });

  it('counts a skipped tick while a run is still going; stop aborts that run and waits for it', async () => {
    const clock = new FakeClock(START_MS);
    let calls = 0;
    let finished = false;
    const job: Job = {
      target: 't',
      probe: 'hang',
      intervalMs: 1000,
      run: (signal) =>
        new Promise<void>((resolve) => {
          calls++;
          if (calls === 1) return resolve();
          // The second run hangs until the scheduler aborts it.
          signal.addEventListener(
            'abort',
            () => {
              finished = true;
              resolve();
            },
            { once: true },
          );
        }),
    };
    let skips = 0;
    const scheduler = new Scheduler({ logger: silent, clock, onSkip: () => skips++ });
    scheduler.add(job);
    await clock.advance(5000);
    assert.equal(calls, 2, 'no run started while the previous one was in flight');
    assert.ok(skips >= 3, `${skips} ticks skipped`);
    await scheduler.stop();
    assert.equal(finished, true, 'stop aborted the hanging run and waited for it');
  });

  it('counts the ticks missed while the process was stalled, then keeps to the grid', async () => {
    const clock = new FakeClock(START_MS);
    const { job, runs } = recordingJob('stall', 1000, clock);
    let skips = 0;
    const scheduler = new Scheduler({ logger: silent, clock, onSkip: () => skips++ });
    scheduler.add(job);
    try {
      while (runs.length < 2) await clock.advance(100); // the start-up run, then the grid armed
      // A stalled event loop (2.5 s): the next tick passes unseen, the one after it is due
      // by the time the loop runs again.
      clock.stall(2500);
      await clock.advance(0);
      assert.equal(runs.length, 3);
      assert.equal(skips, 1);
      const plan = intervalPlan(planJob(job, 2000));
      assert.equal((runs[2]!.scheduledAtMs - plan.slotMs) % 1000, 0, 'the late run keeps its grid instant');
      assert.equal(runs[2]!.scheduledAtMs - runs[1]!.scheduledAtMs, 2000, 'one run for the instant it woke up in, none for the missed one');
    } finally {
      await scheduler.stop();
    }
  });

  it('remove() stops one job and aborts its run; stop() leaves nothing to fire', async () => {
    const clock = new FakeClock(START_MS);
    const runs = new Map<string, number>();
    const aborted: string[] = [];
    const mk = (probe: string): Job => ({
      target: 't',
      probe,
      intervalMs: 5000,
      run: (signal) =>
        new Promise<void>((resolve) => {
          runs.set(probe, (runs.get(probe) ?? 0) + 1);
          // Only a's first run hangs, until aborted.
          if (probe !== 'a') return resolve();
          signal.addEventListener(
            'abort',
            () => {
              aborted.push(probe);
              resolve();
            },
            { once: true },
          );
        }),
    });
    const scheduler = new Scheduler({ logger: silent, clock, onSkip: () => undefined });
    scheduler.add(mk('a'));
    scheduler.add(mk('b'));
    await clock.advance(2000);
    assert.deepEqual([runs.get('a'), runs.get('b')], [1, 1]);
    await scheduler.remove('t', 'a');
    assert.deepEqual(aborted, ['a']);
    await clock.advance(60_000);
    assert.equal(runs.get('a'), 1, 'a removed: no more runs');
    assert.ok(runs.get('b')! >= 12, 'b still runs');
    await scheduler.stop();
    const before = runs.get('b');
    await clock.advance(60_000);
    assert.equal(runs.get('b'), before, 'stopped: no more runs');
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  it('a job can be added again once removed, but not twice', async () => {
    const clock = new FakeClock(START_MS);
    const { job, runs } = recordingJob('p', 1000, clock);
    const scheduler = new Scheduler({ logger: silent, clock, onSkip: () => undefined });
    scheduler.add(job);
    assert.throws(() => scheduler.add(job), /job t\/p is already scheduled/);
    await scheduler.remove('t', 'p');
    scheduler.add(job);
    await clock.advance(3000);
    assert.ok(runs.length >= 3);
    await scheduler.stop();
  });
});

describe('Scheduler on real time', () => {
  it('runs a job promptly at start, then at its grid instant; stop leaves no timer behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const events = new EventEmitter();
    const runs: number[] = [];
    const job: Job = {
      target: 't',
      probe: 'p',
      intervalMs: 1000,
      run: async (_signal, scheduledAtMs) => {
        runs.push(scheduledAtMs);
        events.emit('run');
      },
    };
    const scheduler = new Scheduler({ logger: silent, startSpreadMs: 1, onSkip: () => assert.fail('nothing to skip') });
    const t0 = Date.now();
    const first = once(events, 'run');
    scheduler.add(job);
    await first;
    assert.ok(runs[0]! - t0 < 100, 'first run promptly at start');
    await once(events, 'run');
    assert.equal((runs[1]! - intervalPlan(planJob(job, 1)).slotMs) % 1000, 0, 'on the k * interval + slot grid');
    await scheduler.stop();
    assert.ok(timers() <= before, `timers before ${before}, after ${timers()}`);
  });

  it('runs a cron schedule job on its cron ticks plus the phase offset', async () => {
    const events = new EventEmitter();
    const runs: number[] = [];
    const job: Job = {
      target: 't',
      probe: 'cron',
      intervalMs: 1000,
      schedule: '* * * * * *',
      run: async (_signal, scheduledAtMs) => {
        runs.push(scheduledAtMs);
        events.emit('run');
      },
    };
    const scheduler = new Scheduler({ logger: silent, startSpreadMs: 1, onSkip: () => undefined });
    scheduler.add(job);
    try {
      await once(events, 'run'); // start-up
      await once(events, 'run'); // the first cron tick
      const plan = planJob(job, 1);
      assert.equal(plan.kind, 'cron', 'a cron job has no interval grid');
      assert.equal((runs[1]! - (plan.kind === 'cron' ? plan.offsetMs : NaN)) % 1000, 0);
    } finally {
      await scheduler.stop();
    }
  });
});
