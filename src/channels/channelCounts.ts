// Subscriber counts per occupied channel, shared by all threads without round trips. Each worker owns a
// region of an Int32Array over a SharedArrayBuffer and gives every channel it holds a slot there; it is
// the only writer of its region (Atomics.store), and the primary reads counts with Atomics.load.
// Which slot holds which channel travels to the primary in channel-occupied/-vacated messages; a slot is
// reused only after the primary has acknowledged the vacate, so a count is never read under a stale name.

export class ChannelCounts {
  private readonly counts: Int32Array;
  private readonly free: number[] = [];
  private nextUnused = 0;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly slotsPerWorker: number,
    private readonly workerIndex: number,
  ) {
    this.counts = new Int32Array(buffer);
  }

  static allocate(workerCount: number, slotsPerWorker: number): SharedArrayBuffer {
    return new SharedArrayBuffer(4 * workerCount * slotsPerWorker);
  }

  /** Worker side: a free slot of this worker's region, or -1 when the region is full. */
  takeSlot(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    return this.nextUnused < this.slotsPerWorker ? this.nextUnused++ : -1;
  }

  /** Worker side: the slot may hold another channel again (the primary has forgotten the old one). */
  releaseSlot(slot: number): void {
    this.free.push(slot);
  }

  set(slot: number, count: number): void {
    Atomics.store(this.counts, this.workerIndex * this.slotsPerWorker + slot, count);
  }

  /** Primary side. */
  read(worker: number, slot: number): number {
    return Atomics.load(this.counts, worker * this.slotsPerWorker + slot);
  }
}
