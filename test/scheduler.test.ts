import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { once, EventEmitter } from 'node:events';
import pino from 'pino';
import { nextSlot, planJob, Scheduler, type Job } from '../src/scheduler/scheduler.js';
import { validate } from 'node-cron';

const silent = pino({ level: 'silent' });

describe('planJob', () => {
  it('turns intervals into valid cron expressions with a stable phase inside the interval', () => {
    for (const intervalMs of [1000, 5000, 15000, 30000, 60000, 300000, 3600000, 6 * 3600000]) {
      for (const target of ['a', 'b', 'camera-host-17']) {
        const plan = planJob({ target, probe: 'auth_flow', intervalMs }, 2000);
        assert.ok(validate(plan.cron), `${plan.cron} is a valid cron expression`);
        assert.ok(plan.offsetMs >= 0 && plan.offsetMs < 1000);
        assert.ok(plan.firstDelayMs >= 0 && plan.firstDelayMs < Math.min(2000, intervalMs));
        assert.deepEqual(planJob({ target, probe: 'auth_flow', intervalMs }, 2000), plan, 'same job, same plan');
      }
    }
    assert.equal(planJob({ target: 'x', probe: 'p', intervalMs: 15000 }, 2000).cron.split(' ')[0]!.split(',').length, 4);
  });

  it('spreads many targets over the interval instead of one instant', () => {
    const starts = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = planJob({ target: `t${i}`, probe: 'camera_list', intervalMs: 15000 }, 2000);
      starts.add(`${p.cron.split(' ')[0]}+${Math.floor(p.offsetMs / 100)}`);
    }
    assert.ok(starts.size > 100, `200 jobs land on ${starts.size} distinct 100 ms slots`);
  });

  it('nextSlot is the first grid instant strictly after now', () => {
    assert.equal(nextSlot(10_000, 1000, 250), 10_250);
    assert.equal(nextSlot(10_250, 1000, 250), 11_250);
    assert.equal(nextSlot(10_249, 15_000, 14_999), 14_999);
  });

  it('keeps an explicit cron schedule as given', () => {
    const p = planJob({ target: 't', probe: 'p', intervalMs: 60000, schedule: '0 * * * * *' }, 2000);
    assert.equal(p.cron, '0 * * * * *');
  });
});

describe('Scheduler', () => {
  it('runs a job promptly at start, then on its cron ticks at its phase', async () => {
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
    const plan = planJob(job, 1);
    assert.equal((runs[1]! - plan.offsetMs) % 1000, 0, 'second run scheduled on a cron tick plus the phase offset');
    assert.equal((runs[1]! - plan.slotMs!) % 1000, 0, 'on the k * interval + slot grid');
    await scheduler.stop();
    assert.equal(scheduler.inFlight(), 0);
  });

  it('counts a skipped tick while a run is still going', async () => {
    const events = new EventEmitter();
    let calls = 0;
    const job: Job = {
      target: 't',
      probe: 'hang',
      intervalMs: 1000,
      run: (signal) =>
        new Promise<void>((resolve) => {
          calls++;
          events.emit('run');
          if (calls === 1) return resolve();
          // The second run hangs until the scheduler aborts it on stop.
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    };
    let skips = 0;
    const scheduler = new Scheduler({
      logger: silent,
      startSpreadMs: 1,
      onSkip: () => {
        skips++;
        events.emit('skip');
      },
    });
    scheduler.add(job);
    await once(events, 'run');
    await once(events, 'run');
    await once(events, 'skip');
    assert.equal(calls, 2, 'no run started while the previous one was in flight');
    assert.ok(skips >= 1);
    await scheduler.stop();
    assert.equal(scheduler.inFlight(), 0, 'stop aborted the hanging run');
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
      assert.equal(plan.slotMs, undefined, 'a cron job has no interval grid');
      assert.equal((runs[1]! - plan.offsetMs) % 1000, 0);
    } finally {
      await scheduler.stop();
    }
  });

  it('counts the ticks missed while the process was stalled, then keeps to the grid', async () => {
    const events = new EventEmitter();
    const runs: number[] = [];
    const job: Job = {
      target: 't',
      probe: 'stall',
      intervalMs: 1000,
      run: async (_signal, scheduledAtMs) => {
        runs.push(scheduledAtMs);
        events.emit('run');
      },
    };
    let skips = 0;
    const scheduler = new Scheduler({ logger: silent, startSpreadMs: 1, onSkip: () => skips++ });
    scheduler.add(job);
    try {
      await once(events, 'run'); // the start-up run
      await once(events, 'run'); // the first scheduled run: the grid is armed
      // A stalled event loop (a synchronous 2.5 s): the next tick passes unseen, the one
      // after it is due by the time the loop runs again.
      const until = Date.now() + 2500;
      while (Date.now() < until);
      await once(events, 'run');
      assert.ok(skips >= 1 && skips <= 2, `${skips} skipped`);
      const plan = planJob(job, 1);
      assert.equal((runs[2]! - plan.slotMs!) % 1000, 0, 'the late run keeps its grid instant');
      assert.equal(runs[2]! - runs[1]!, (skips + 1) * 1000, 'one run for the instant it woke up in, none for the missed ones');
    } finally {
      await scheduler.stop();
    }
  });

  it('remove() stops one job and aborts its run; stop() leaves no timer behind', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const events = new EventEmitter();
    const aborted: string[] = [];
    const mk = (probe: string): Job => ({
      target: 't',
      probe,
      intervalMs: 5000,
      run: (signal) =>
        new Promise<void>((resolve) => {
          events.emit(`run:${probe}`);
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
    const scheduler = new Scheduler({ logger: silent, startSpreadMs: 1, onSkip: () => undefined });
    const a = once(events, 'run:a');
    const b = once(events, 'run:b');
    scheduler.add(mk('a'));
    scheduler.add(mk('b'));
    await Promise.all([a, b]);
    await scheduler.remove('t', 'a');
    assert.deepEqual(aborted, ['a']);
    assert.equal(scheduler.has('t', 'a'), false);
    assert.equal(scheduler.has('t', 'b'), true);
    await scheduler.stop();
    assert.deepEqual(aborted.sort(), ['a', 'b']);
    const afterCount = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    assert.ok(afterCount <= before, `timers before ${before}, after ${afterCount}`);
  });
});
