// One host-wide order for API requests. A worker may answer a publish before the primary has delivered it
// (worker/publishAdmission.ts), so a client can see its 200 and send the next request through another worker
// while the first is still on its way to the primary. Each worker stamps every request it hands over with a
// number from one shared counter, and the primary takes them in that order: a request answered before another
// was sent is always processed first. A gap only lasts until its request, posted in the same turn as its
// stamp, arrives (a worker that dies ends the process); should one never come (a bug), the primary skips it
// after `GAP_TIMEOUT_MS` and says so in the log rather than hold every later request.

/** The shared counter: workers stamp requests with it. */
export class RequestSequence {
  private readonly counter: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.counter = new Int32Array(buffer);
  }

  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  }

  /** The next stamp (wraps around with the Int32 counter, as InOrder expects). */
  take(): number {
    return Atomics.add(this.counter, 0, 1);
  }
}

/** How long work may wait for an earlier stamp before that stamp is given up. */
export const GAP_TIMEOUT_MS = 1000;

/** On the primary: runs stamped work in stamp order, holding anything that arrives ahead of its turn. */
export class InOrder {
  private readonly early = new Map<number, () => unknown>();
  private gapTimer: NodeJS.Timeout | undefined;

  /**
   * `onError` gets whatever a piece of work throws, so one failure cannot stop the ones after it, and the
   * stamps given up; `next` is the first stamp (the counter starts at 0).
   */
  constructor(
    private readonly onError: (err: unknown) => void,
    private next = 0,
    private readonly gapTimeoutMs = GAP_TIMEOUT_MS,
  ) {}

  /** The last stamp whose work has started (or been given up); -1 before the first. */
  get startedThrough(): number {
    return (this.next - 1) | 0;
  }

  /** Stamps whose work returned a promise that has not settled yet, in stamp order. */
  private readonly unsettled = new Set<number>();

  /**
   * The last stamp such that the work of every stamp up to it has finished, promises included (or was given
   * up): whatever that work sent anywhere has been sent. -1 before the first.
   */
  get settledThrough(): number {
    for (const stamp of this.unsettled) return (stamp - 1) | 0; // the earliest one still running
    return this.startedThrough;
  }

  /** How many arrived ahead of their turn and wait for an earlier stamp. */
  get waiting(): number {
    return this.early.size;
  }

  /** `work` may return a promise: its stamp counts as settled once that promise has (see settledThrough). */
  run(stamp: number, work: () => unknown): void {
    const ahead = (stamp - this.next) | 0; // distance along the wrapping counter
    if (ahead < 0) {
      this.onError(new Error(`API request stamp ${stamp} arrived after it was given up; processed out of order`));
      const late = this.guarded(work);
      if (late instanceof Promise) late.catch(this.onError); // below settledThrough already: only its failure is news
      return;
    }
    if (ahead > 0) {
      this.early.set(stamp, work);
      this.gapTimer ??= setTimeout(this.skipGap, this.gapTimeoutMs, this.next).unref();
      return;
    }
    this.runOne(work);
    this.drain();
  }

  private drain(): void {
    for (let held = this.early.get(this.next); held; held = this.early.get(this.next)) {
      this.early.delete(this.next);
      this.runOne(held);
    }
    clearTimeout(this.gapTimer);
    this.gapTimer = this.early.size > 0 ? setTimeout(this.skipGap, this.gapTimeoutMs, this.next).unref() : undefined;
  }

  /** The stamps from `missing` up to the earliest one held never arrived: go on without them. */
  private readonly skipGap = (missing: number): void => {
    this.gapTimer = undefined;
    if (missing !== this.next || this.early.size === 0) return;
    let earliest = this.next;
    let distance = Number.POSITIVE_INFINITY;
    for (const stamp of this.early.keys()) {
      const d = (stamp - this.next) | 0; // distance along the wrapping counter
      if (d > 0 && d < distance) [earliest, distance] = [stamp, d];
    }
    this.onError(new Error(`API request stamps ${missing} to ${(earliest - 1) | 0} never reached the primary; going on without them`));
    this.next = earliest;
    this.drain();
  };

  private runOne(work: () => unknown): void {
    const stamp = this.next;
    this.next = (this.next + 1) | 0;
    const result = this.guarded(work);
    if (!(result instanceof Promise)) return;
    this.unsettled.add(stamp);
    result.then(
      () => this.unsettled.delete(stamp),
      (err: unknown) => {
        this.unsettled.delete(stamp);
        this.onError(err);
      },
    );
  }

  private guarded(work: () => unknown): unknown {
    try {
      return work();
    } catch (err) {
      this.onError(err);
      return undefined;
    }
  }
}
