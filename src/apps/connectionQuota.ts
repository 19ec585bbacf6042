// Connection counts shared by every worker thread (Int32Array over a SharedArrayBuffer, updated with
// Atomics), so the host-wide and per-app connection limits hold whichever thread accepts a socket.

/** Slot 0 counts every connection on the host; slot 1 + i counts app i. */
export class ConnectionQuota {
  private readonly counts: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.counts = new Int32Array(buffer);
  }

  static allocate(appCount: number): SharedArrayBuffer {
    return new SharedArrayBuffer(4 * (appCount + 1));
  }

  /** Takes a place, or returns which limit refused it (0 = unlimited). */
  acquire(appIndex: number, appLimit: number, hostLimit: number): 'ok' | 'app' | 'host' {
    const host = Atomics.add(this.counts, 0, 1) + 1;
    if (hostLimit > 0 && host > hostLimit) {
      Atomics.sub(this.counts, 0, 1);
      return 'host';
    }
    const app = Atomics.add(this.counts, 1 + appIndex, 1) + 1;
    if (appLimit > 0 && app > appLimit) {
      Atomics.sub(this.counts, 1 + appIndex, 1);
      Atomics.sub(this.counts, 0, 1);
      return 'app';
    }
    return 'ok';
  }

  release(appIndex: number): void {
    Atomics.sub(this.counts, 1 + appIndex, 1);
    Atomics.sub(this.counts, 0, 1);
  }

  appConnections(appIndex: number): number {
    return Atomics.load(this.counts, 1 + appIndex);
  }

  total(): number {
    return Atomics.load(this.counts, 0);
  }
}
