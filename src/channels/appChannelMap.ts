// A map keyed by (app, channel), held as app → channel → value. Per-message and per-subscription lookups used
// to build a joined `${app}\n${channel}` key, a new string to flatten and hash each time (StreamRegistry.next
// alone was 7 % of the primary in many-channels; docs/benchmarks.md, "Session 11"); two lookups on strings
// that already have their hash are cheaper. An app whose last channel goes is dropped, so memory follows the
// channels in use.

export class AppChannelMap<A, V> {
  private readonly apps = new Map<A, Map<string, V>>();

  get(app: A, channel: string): V | undefined {
    return this.apps.get(app)?.get(channel);
  }

  set(app: A, channel: string, value: V): void {
    let channels = this.apps.get(app);
    if (!channels) this.apps.set(app, (channels = new Map()));
    channels.set(channel, value);
  }

  delete(app: A, channel: string): void {
    const channels = this.apps.get(app);
    if (!channels?.delete(channel)) return;
    if (channels.size === 0) this.apps.delete(app);
  }

  /** Every entry; deleting the current one while iterating is allowed (sweeps do). */
  *entries(): IterableIterator<[A, string, V]> {
    for (const [app, channels] of this.apps) for (const [channel, value] of channels) yield [app, channel, value];
  }

  get size(): number {
    let n = 0;
    for (const channels of this.apps.values()) n += channels.size;
    return n;
  }
}
