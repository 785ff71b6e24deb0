/** A scheduler clock whose time moves only when the test says so. */
import type { Clock } from '../../src/scheduler/scheduler.js';

export class FakeClock implements Clock {
  private nowMs: number;
  private nextId = 1;
  private readonly timers = new Map<number, { atMs: number; fn: () => void }>();

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { atMs: this.nowMs + Math.max(0, delayMs), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers set and neither fired nor cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Time passes and no timer fires: the event loop was blocked. */
  stall(ms: number): void {
    this.nowMs += ms;
  }

  /**
   * Moves time forward by `ms`, firing each timer due on the way at its own instant (or
   * now, when the clock has passed it) and letting what it started settle before the next.
   */
  async advance(ms: number): Promise<void> {
    const endMs = this.nowMs + ms;
    for (let next = this.due(endMs); next; next = this.due(endMs)) {
      this.timers.delete(next.id);
      this.nowMs = Math.max(this.nowMs, next.atMs);
      next.fn();
      // Runs that resolve at once (the tests' jobs) settle within a turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.nowMs = endMs;
  }

  /** The earliest timer due by `endMs`; the first set among those due at the same instant. */
  private due(endMs: number): { id: number; atMs: number; fn: () => void } | undefined {
    let found: { id: number; atMs: number; fn: () => void } | undefined;
    for (const [id, t] of this.timers) {
      if (t.atMs <= endMs && (!found || t.atMs < found.atMs)) found = { id, ...t };
    }
    return found;
  }
}
