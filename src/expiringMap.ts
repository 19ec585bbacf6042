// A map whose entries expire after a time to live, bounded in size, with every operation in constant time
// (amortized) however many entries it holds: the idempotency store and the cache channels' last events.
//
// Why not @isaacs/ttlcache, which this replaced: it keeps one object key per expiry millisecond and starts every
// purge with a for-in over them, which costs time in proportion to the entries held (23 ms at 120,000 of them
// here). Once a 120 s idempotency window filled at 12k keyed publishes/s, a purge every millisecond took the
// primary thread: publishes fell to 3k/s, with stalls at 160/s (docs/benchmarks.md, "Session 20"). lru-cache's
// TTLs either expire lazily (so a quiet host keeps up to `max` dead entries) or keep a timer per entry.
//
// Here entries with the same TTL expire in the order they were set, so each TTL gets a queue in that order and
// expiry pops queue heads. The TTLs in use are few (the idempotency lease and window, each app's window, the
// cache channel TTL), so a sweep looks at a few heads. A queue is an array with a moving head, not a Map: V8
// leaves a deleted Map entry as a hole that every new iterator steps over until the table is rebuilt, so a Map
// used as a queue made each look at its head cost the entries removed before it (measured: publishes fell
// from 14k/s to under 2k/s once a million idempotency keys were held).
// Every set sweeps, and while entries are held a timer sweeps at most once a second, so a host that goes quiet
// frees them; an empty map keeps no timer (an idle thread is not woken).

/**
 * An entry. Its queue keeps the slot after the key is set again or deleted (a stale slot: `slots` no longer
 * points to it); the queue steps over it at its head, or drops it when stale slots become most of the queue.
 */
interface Slot<K, V> {
  key: K;
  value: V | undefined;
  expiresAt: number;
  queue: ExpiryQueue<K, V>;
}

/** Queues are rebuilt without their stale slots only past this many, so rebuilding stays amortized. */
const COMPACT_MIN = 1024;

/** The slots set with one TTL, in set order (so in expiry order), from `head` on. */
class ExpiryQueue<K, V> {
  items: Slot<K, V>[] = [];
  head = 0;
  /** Stale slots from `head` on. */
  stale = 0;

  /** Steps past the head; the array is cut once the dropped part is most of it (amortized constant time). */
  advance(): void {
    this.head++;
    if (this.head >= COMPACT_MIN && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  get empty(): boolean {
    return this.head >= this.items.length;
  }
}

/** performance.now(): monotonic, and mockable in tests. */
const now = () => performance.now();

/** The sweep timer's shortest delay: at most one wake-up a second for expiry. */
const SWEEP_MIN_MS = 1000;

export class ExpiringMap<K, V> {
  private readonly slots = new Map<K, Slot<K, V>>();
  /** TTL → its slots in expiry order. */
  private readonly queues = new Map<number, ExpiryQueue<K, V>>();
  private sweepTimer: NodeJS.Timeout | undefined;

  /** `max`: entries kept at most; past it, the one that would expire first goes. */
  constructor(private readonly max: number) {}

  /** Sets (or replaces, with a fresh TTL) `key`'s value, to expire `ttlMs` from now. */
  set(key: K, value: V, ttlMs: number): void {
    const t = now();
    this.expire(t);
    let queue = this.queues.get(ttlMs);
    if (!queue) {
      queue = new ExpiryQueue();
      this.queues.set(ttlMs, queue);
    }
    const earlier = this.slots.get(key);
    if (earlier) this.forget(earlier);
    const slot: Slot<K, V> = { key, value, expiresAt: t + ttlMs, queue };
    queue.items.push(slot);
    this.slots.set(key, slot);
    if (this.slots.size > this.max) this.evictSoonest();
    if (!this.sweepTimer) this.scheduleSweep(t);
  }

  /** The value, unless absent or expired. */
  get(key: K): V | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt <= now()) {
      this.forget(slot);
      return undefined;
    }
    return slot.value as V;
  }

  /** Milliseconds `key` has left; 0 when absent or expired. */
  remainingTtl(key: K): number {
    const slot = this.slots.get(key);
    return slot ? Math.max(0, slot.expiresAt - now()) : 0;
  }

  delete(key: K): void {
    const slot = this.slots.get(key);
    if (slot) this.forget(slot);
  }

  /** Entries not expired yet (drops the expired ones first). */
  get size(): number {
    this.expire(now());
    return this.slots.size;
  }

  /** Entries in memory, expired ones not swept yet included. */
  get held(): number {
    return this.slots.size;
  }

  /** Drops every entry expired at `t`. */
  expire(t: number = now()): void {
    for (const [ttl, queue] of this.queues) {
      for (let head = this.current(queue); head && head.expiresAt <= t; head = this.current(queue)) {
        this.slots.delete(head.key);
        queue.advance();
      }
      if (queue.empty) this.queues.delete(ttl);
    }
  }

  /** The queue's first slot still current, stepping over the others (each is stepped over once). */
  private current(queue: ExpiryQueue<K, V>): Slot<K, V> | undefined {
    while (!queue.empty) {
      const slot = queue.items[queue.head];
      if (this.slots.get(slot.key) === slot) return slot;
      queue.stale--;
      queue.advance();
    }
    return undefined;
  }

  /** A sweep when the soonest entry expires, but not sooner than SWEEP_MIN_MS (unref'd: it never holds a thread up). */
  private scheduleSweep(t: number): void {
    const soonest = this.soonest();
    if (!soonest) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      const at = now();
      this.expire(at);
      this.scheduleSweep(at);
    }, Math.max(SWEEP_MIN_MS, Math.ceil(soonest.expiresAt - t)));
    this.sweepTimer.unref();
  }

  /** Over `max`: the entry that would expire first goes. */
  private evictSoonest(): void {
    const soonest = this.soonest();
    if (soonest) this.forget(soonest);
  }

  /**
   * Drops a current slot: it goes stale in its queue, its value is let go at once, and a queue that is mostly
   * stale slots is rebuilt without them (a key set again and again keeps one slot, not one per set).
   */
  private forget(slot: Slot<K, V>): void {
    this.slots.delete(slot.key);
    slot.value = undefined;
    const q = slot.queue;
    if (++q.stale >= COMPACT_MIN && q.stale * 2 >= q.items.length - q.head) {
      q.items = q.items.slice(q.head).filter((s) => this.slots.get(s.key) === s);
      q.head = 0;
      q.stale = 0;
    }
  }

  /** The entry that expires first: the current head of one of the queues. */
  private soonest(): Slot<K, V> | undefined {
    let soonest: Slot<K, V> | undefined;
    for (const queue of this.queues.values()) {
      const head = this.current(queue);
      if (head && (!soonest || head.expiresAt < soonest.expiresAt)) soonest = head;
    }
    return soonest;
  }
}
