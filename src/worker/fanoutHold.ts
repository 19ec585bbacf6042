// Publishes to a large local audience, held for a moment while publishes stream, so that several reach uWS in
// one turn and each socket gets them in one write. A worker's sends are its main cost in a fan-out (one
// syscall per socket per turn, whatever it carries), so frames per write is what fan-out throughput follows.
// Before this, a stream of publishes reached that batching only through the primary's round trip; holding
// here batches more, without the round trip: fan-out to 5,000 subscribers 2.0–2.5× the deliveries per second,
// and publish → receive at 50 publishes/s 0.75× (docs/benchmarks.md, "Session 22").
//
// A held publish goes out once no other has come for QUIET_MS, and never later than `maxHoldMs` after the
// first one held. Whoever delivers anything else on this thread flushes first (ChannelDelivery), so the order
// of frames on every topic is the order of admission.

/** A held publish goes out once no other has been held for this long. */
export const QUIET_MS = 1;

/** V1 subscribers of a channel on a worker from which publishes to it may be held (smaller fan-outs gain nothing). */
export const LARGE_FANOUT = 512;

export class FanoutHold<T> {
  private held: T[] = [];
  private firstAt = 0;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** The longest a publish is held while others keep coming; 0 holds nothing. */
    private readonly maxHoldMs: number,
    /** Delivers what was held, oldest first. */
    private readonly deliver: (held: readonly T[]) => void,
  ) {}

  get enabled(): boolean {
    return this.maxHoldMs > 0;
  }

  get size(): number {
    return this.held.length;
  }

  hold(item: T): void {
    const now = performance.now();
    if (this.held.length === 0) this.firstAt = now;
    this.lastAt = now;
    this.held.push(item);
    this.timer ??= setTimeout(this.due, QUIET_MS);
  }

  /** Delivers everything held, now. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    this.deliver(held);
  }

  private readonly due = (): void => {
    this.timer = undefined;
    const now = performance.now();
    if (now - this.lastAt < QUIET_MS && now - this.firstAt < this.maxHoldMs) {
      this.timer = setTimeout(this.due, QUIET_MS);
      return;
    }
    this.flush();
  };
}
