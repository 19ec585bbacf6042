// Publishes to a large local audience, held for a moment while publishes stream, so that several reach uWS in
// one turn and each socket gets them in one write. A worker's sends are its main cost in a fan-out (one
// syscall per socket per turn, whatever it carries), so frames per write is what fan-out throughput follows.
// Before this, a stream of publishes reached that batching only through the primary's round trip; holding
// here batches more, without the round trip: fan-out to 5,000 subscribers 2.0–2.5× the deliveries per second,
// and publish → receive at 50 publishes/s 0.75× (docs/benchmarks.md, "Session 22").
//
// What is held: publishes the worker admitted, the primary's hand-overs of other workers' (or other hosts')
// publishes, and its own publishes that came back through the primary behind held ones (ChannelDelivery).
// A held publish goes out once no other has come for QUIET_MS and every one held is `ready` (a publish with a
// V2 audience is ready once the primary has given it its V2 position: its V2 frames go out with the rest). When
// every one held is ready, never later than `maxHoldMs` after the first. Past that, the ready ones at the front
// go and the rest start a new maximum with the next one held; a front still not ready gets one more quiet time,
// then everything goes. So a publish whose answer is late waits at most about 3 × `maxHoldMs` + QUIET_MS (V2
// fan-out 2.0×, docs/benchmarks.md "Session 23"). Whoever delivers anything else on this thread flushes first
// (ChannelDelivery), so the order of frames on every topic is the order of admission.

/** A held publish goes out once no other has been held for this long. */
export const QUIET_MS = 1;

/** Subscribers of a channel on a worker from which publishes to it may be held (smaller fan-outs gain nothing). */
export const LARGE_FANOUT = 512;

export class FanoutHold<T> {
  private held: T[] = [];
  private firstAt = 0;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Part of what was held went out: the next publish held starts the maximum again (ready or not, the rest wait with it). */
  private restart = false;
  /** The front was not ready when the maximum passed, and got one more quiet time. */
  private graceTaken = false;

  constructor(
    /** The longest a publish is held while others keep coming, when all are ready (see above); 0 holds nothing. */
    private readonly maxHoldMs: number,
    /** Delivers what was held, oldest first. */
    private readonly deliver: (held: readonly T[]) => void,
    /** Whether a held item has all it needs to go out (else the quiet time waits for it, up to the maximum). */
    private readonly ready: (item: T) => boolean = () => true,
  ) {}

  get enabled(): boolean {
    return this.maxHoldMs > 0;
  }

  get size(): number {
    return this.held.length;
  }

  /** The held items, oldest first (read-only: to find one that is waiting for something). */
  get items(): readonly T[] {
    return this.held;
  }

  hold(item: T): void {
    const now = performance.now();
    if (this.held.length === 0 || this.restart) {
      this.firstAt = now;
      this.restart = false;
    }
    this.lastAt = now;
    this.held.push(item);
    this.timer ??= setTimeout(this.due, QUIET_MS);
  }

  /** Delivers everything held, now. */
  flush(): void {
    this.stopTimer();
    this.graceTaken = false;
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    this.deliver(held);
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly due = (): void => {
    this.timer = undefined;
    const now = performance.now();
    const overdue = now - this.firstAt >= this.maxHoldMs;
    const unready = this.held.findIndex((item) => !this.ready(item));
    if (unready === -1 && (overdue || now - this.lastAt >= QUIET_MS)) return this.flush();
    if (!overdue) {
      this.timer = setTimeout(this.due, QUIET_MS);
      return;
    }
    if (unready === 0) {
      // Nothing at the front is ready. The timer may have come late, right after uWS wrote a fan-out, with what the
      // front waits for already in the port: one more quiet time (a turn reads the port), then everything goes.
      if (this.graceTaken) return this.flush();
      this.graceTaken = true;
      this.timer = setTimeout(this.due, QUIET_MS);
      return;
    }
    const ready = this.held.slice(0, unready);
    this.held = this.held.slice(unready);
    this.firstAt = now;
    this.restart = true;
    this.graceTaken = false;
    this.timer = setTimeout(this.due, QUIET_MS);
    this.deliver(ready);
  };
}
