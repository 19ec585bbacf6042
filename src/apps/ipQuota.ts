// Concurrent connections per client address, shared by every worker thread. Addresses are hashed into a
// fixed table of Int32 buckets (Atomics), so the memory is constant whatever the number of clients; two
// addresses that share a bucket share its count, which can only make the cap stricter, never looser.

const BUCKETS = 1 << 18; // 1 MiB of Int32

export class IpQuota {
  private readonly counts: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.counts = new Int32Array(buffer);
  }

  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(4 * BUCKETS);
  }

  static bucket(address: string): number {
    // FNV-1a, 32 bit
    let h = 0x811c9dc5;
    for (let i = 0; i < address.length; i++) {
      h ^= address.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0) & (BUCKETS - 1);
  }

  /** Takes a place for the address's bucket; false (and nothing taken) when it is at `limit`. */
  acquire(bucket: number, limit: number): boolean {
    if (Atomics.add(this.counts, bucket, 1) + 1 > limit) {
      Atomics.sub(this.counts, bucket, 1);
      return false;
    }
    return true;
  }

  release(bucket: number): void {
    Atomics.sub(this.counts, bucket, 1);
  }
}
