// A worker's subscriber count per channel, published to the primary through the shared ChannelCounts:
// the count is stored on every change, and only a channel's first subscriber and its release send a
// message.
//
// A channel whose last local subscriber left keeps its slot (count 0) for LINGER_MS before it is
// released. Subscriptions that flap (a page reload, an unsubscribe followed by a subscribe to the same
// channel) then cost no cross-thread message at all; the churn benchmark found one message per subscribe
// and per unsubscribe to be the largest cost of a subscription on a worker. Queries read the count (0:
// not occupied), so they see the channel leave at once; only channel_vacated waits, as Sockudo's does.
import { AppChannelMap } from '../channels/appChannelMap.ts';
import type { ChannelCounts } from '../channels/channelCounts.ts';
import type { WorkerToPrimary } from '../ipc/messages.ts';
import { LARGE_FANOUT } from './fanoutHold.ts';

/**
 * How long an empty channel keeps its slot before the primary is told it was vacated: Sockudo's channel_vacated
 * delay (3 s after the count reaches 0, if it is still 0).
 */
export const LINGER_MS = 3000;

interface Held {
  app: number;
  channel: string;
  slot: number;
  count: number;
  /** When the count last dropped to 0 (meaningful while it is 0). */
  emptySince: number;
}

export class LocalChannels {
  /** (app index, channel) → its slot and count. */
  private readonly held = new AppChannelMap<number, Held>();
  /** Held channels whose count is 0, oldest first. */
  private readonly empty = new Set<Held>();
  /** Channels with at least LARGE_FANOUT local subscribers (publishes to them may be held: fanoutHold.ts). */
  private readonly large = new Set<Held>();

  constructor(
    private readonly counts: ChannelCounts,
    private readonly worker: number,
    private readonly toPrimary: (m: WorkerToPrimary) => void,
  ) {}

  /** Counts one more local subscriber; false when this worker cannot track another channel. */
  add(app: number, channel: string): boolean {
    const h = this.held.get(app, channel);
    if (h) {
      if (h.count === 0) this.empty.delete(h);
      this.counts.set(h.slot, ++h.count);
      if (h.count === LARGE_FANOUT) this.large.add(h);
      return true;
    }
    const slot = this.counts.takeSlot();
    if (slot < 0) {
      // Out of slots: give back the lingering ones now, so the next subscriptions find room.
      this.sweep(Number.POSITIVE_INFINITY);
      return false;
    }
    this.held.set(app, channel, { app, channel, slot, count: 1, emptySince: 0 });
    this.counts.set(slot, 1);
    this.toPrimary({ type: 'channel-occupied', worker: this.worker, app, channel, slot });
    return true;
  }

  remove(app: number, channel: string, now = Date.now()): void {
    const h = this.held.get(app, channel);
    if (!h || h.count === 0) return;
    this.counts.set(h.slot, --h.count);
    if (h.count === LARGE_FANOUT - 1) this.large.delete(h);
    if (h.count > 0) return;
    h.emptySince = now;
    this.empty.add(h);
  }

  /** Whether any channel has at least LARGE_FANOUT subscribers here. */
  anyLarge(): boolean {
    return this.large.size > 0;
  }

  /** Whether the channel has at least LARGE_FANOUT subscribers here (no lookup while no channel has). */
  isLarge(app: number, channel: string): boolean {
    if (this.large.size === 0) return false;
    const h = this.held.get(app, channel);
    return h !== undefined && this.large.has(h);
  }

  /** Releases channels that stayed empty for LINGER_MS (called by the worker's periodic sweep). */
  sweep(now: number): void {
    for (const h of this.empty) {
      if (now - h.emptySince < LINGER_MS) return; // the rest emptied later
      this.empty.delete(h);
      this.held.delete(h.app, h.channel);
      this.toPrimary({ type: 'channel-vacated', worker: this.worker, app: h.app, channel: h.channel, slot: h.slot });
    }
  }

  /** The primary has forgotten the channel that used this slot. */
  released(slot: number): void {
    this.counts.releaseSlot(slot);
  }
}
