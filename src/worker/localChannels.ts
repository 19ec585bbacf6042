// A worker's subscriber count per channel, published to the primary through the shared ChannelCounts:
// the count is stored on every change, and only the first and last subscriber send a message.
import type { ChannelCounts } from '../channels/channelCounts.ts';
import type { WorkerToPrimary } from '../ipc/messages.ts';

interface Held {
  slot: number;
  count: number;
}

export class LocalChannels {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly counts: ChannelCounts,
    private readonly worker: number,
    private readonly toPrimary: (m: WorkerToPrimary) => void,
  ) {}

  /** Counts one more local subscriber; false when this worker cannot track another channel. */
  add(app: number, channel: string): boolean {
    const key = `${app}\n${channel}`;
    let h = this.held.get(key);
    if (!h) {
      const slot = this.counts.takeSlot();
      if (slot < 0) return false;
      h = { slot, count: 0 };
      this.held.set(key, h);
      this.counts.set(slot, 1);
      h.count = 1;
      this.toPrimary({ type: 'channel-occupied', worker: this.worker, app, channel, slot });
      return true;
    }
    this.counts.set(h.slot, ++h.count);
    return true;
  }

  remove(app: number, channel: string): void {
    const key = `${app}\n${channel}`;
    const h = this.held.get(key);
    if (!h) return;
    this.counts.set(h.slot, --h.count);
    if (h.count > 0) return;
    this.held.delete(key);
    this.toPrimary({ type: 'channel-vacated', worker: this.worker, app, channel, slot: h.slot });
  }

  /** The primary has forgotten the channel that used this slot. */
  released(slot: number): void {
    this.counts.releaseSlot(slot);
  }
}
