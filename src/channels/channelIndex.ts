// The primary's map of occupied channels: which workers hold each channel and in which count slot, so
// queries get host-wide subscription counts by reading shared memory instead of asking every worker.
import type { ChannelCounts } from './channelCounts.ts';

export class ChannelIndex {
  /** appId → channel → (worker index → slot) */
  private readonly apps = new Map<string, Map<string, Map<number, number>>>();

  constructor(private readonly counts: ChannelCounts) {}

  occupied(appId: string, channel: string, worker: number, slot: number): void {
    let channels = this.apps.get(appId);
    if (!channels) this.apps.set(appId, (channels = new Map()));
    let slots = channels.get(channel);
    if (!slots) channels.set(channel, (slots = new Map()));
    slots.set(worker, slot);
  }

  vacated(appId: string, channel: string, worker: number): void {
    const channels = this.apps.get(appId);
    const slots = channels?.get(channel);
    if (!channels || !slots) return;
    slots.delete(worker);
    if (slots.size === 0) channels.delete(channel);
  }

  /** Whether any worker of this host holds the channel. */
  has(appId: string, channel: string): boolean {
    return this.apps.get(appId)?.has(channel) ?? false;
  }

  subscriptionCount(appId: string, channel: string): number {
    const slots = this.apps.get(appId)?.get(channel);
    if (!slots) return 0;
    let total = 0;
    for (const [worker, slot] of slots) total += this.counts.read(worker, slot);
    return total;
  }

  /** Occupied channel names of an app (optionally with a prefix). */
  *channels(appId: string, prefix = ''): Iterable<string> {
    for (const name of this.apps.get(appId)?.keys() ?? []) if (name.startsWith(prefix)) yield name;
  }
}
