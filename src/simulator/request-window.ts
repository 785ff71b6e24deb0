/**
 * Counts requests in a sliding window (60 s for the simulator) and remembers the most ever
 * seen in one, exactly, in bounded memory: arrivals in the same millisecond share one
 * entry, so the window never holds more than `windowMs` entries whatever the rate.
 */
export class RequestWindow {
  /** [millisecond, requests in it], oldest first, from `head` on. */
  private entries: Array<[number, number]> = [];
  private head = 0;
  private inWindow = 0;
  private peakCount = 0;

  constructor(private readonly windowMs: number) {}

  /** Counts one request at `now` (milliseconds, never going back). */
  add(now: number): void {
    const ms = Math.floor(now);
    this.expire(ms);
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined && this.entries.length > this.head && last[0] === ms) last[1] += 1;
    else this.entries.push([ms, 1]);
    this.inWindow += 1;
    if (this.inWindow > this.peakCount) this.peakCount = this.inWindow;
  }

  /** Requests within the window ending at `now`: (now - windowMs, now]. */
  count(now: number): number {
    this.expire(Math.floor(now));
    return this.inWindow;
  }

  /** The most requests any window held since start or the last reset. */
  peak(): number {
    return this.peakCount;
  }

  reset(): void {
    this.entries = [];
    this.head = 0;
    this.inWindow = 0;
    this.peakCount = 0;
  }

  private expire(ms: number): void {
    for (let first = this.entries[this.head]; first !== undefined && first[0] <= ms - this.windowMs; first = this.entries[this.head]) {
      this.inWindow -= first[1];
      this.head += 1;
    }
    // Drop the expired prefix now and then, so the array does not grow with the run.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
