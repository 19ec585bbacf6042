// One host-wide order for API requests. A worker may answer a publish before the primary has delivered it
// (worker/publishAdmission.ts), so a client can see its 200 and send the next request through another worker
// while the first is still on its way to the primary. Each worker stamps every request it hands over with a
// number from one shared counter, and the primary takes them in that order: a request answered before another
// was sent is always processed first. A gap only lasts until its request, posted in the same turn as its
// stamp, arrives (a worker that dies ends the process).

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

/** On the primary: runs stamped work in stamp order, holding anything that arrives ahead of its turn. */
export class InOrder {
  private readonly early = new Map<number, () => void>();

  /**
   * `onError` gets whatever a piece of work throws, so one failure cannot stop the ones after it; `next` is the
   * first stamp (the counter starts at 0).
   */
  constructor(
    private readonly onError: (err: unknown) => void,
    private next = 0,
  ) {}

  /** How many arrived ahead of their turn and wait for an earlier stamp. */
  get waiting(): number {
    return this.early.size;
  }

  run(stamp: number, work: () => void): void {
    if (stamp !== this.next) {
      this.early.set(stamp, work);
      return;
    }
    this.runOne(work);
    for (let held = this.early.get(this.next); held; held = this.early.get(this.next)) {
      this.early.delete(this.next);
      this.runOne(held);
    }
  }

  private runOne(work: () => void): void {
    this.next = (this.next + 1) | 0;
    try {
      work();
    } catch (err) {
      this.onError(err);
    }
  }
}
