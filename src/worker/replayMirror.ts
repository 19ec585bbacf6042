// A worker's copy of each channel's recent V2 messages (the hot replay buffer): every worker receives
// every publish, so any worker can serve a resume or a rewind on its own, synchronously, which is what
// makes replay-then-live free of gaps and duplicates (no live message can interleave).
import { AppChannelMap } from '../channels/appChannelMap.ts';
import type { V2Message } from './v2Message.ts';

/** A recorded message: one with a position (stream_id and serial). */
export type ReplayEntry = V2Message & { readonly serial: number };

interface ChannelReplay {
  channel: string;
  streamId: string;
  serial: number;
  /** The event name of the last message: consecutive messages often share it. */
  event: string;
  entries: ReplayEntry[];
}

export type SinceResult =
  | { ok: true; entries: ReplayEntry[]; streamId: string; serial: number; lastMessageId?: string }
  | { ok: false; code: 'stream_reset' | 'position_expired'; reason: string; currentStreamId?: string; oldest?: number; newest?: number };

export class ReplayMirror {
  private readonly channels = new AppChannelMap<string, ChannelReplay>();

  constructor(
    private readonly maxSize: number,
    private readonly ttlMs: number,
  ) {}

  record(appId: string, message: V2Message): void {
    if (message.streamId === undefined || message.serial === undefined) return;
    let r = this.channels.get(appId, message.channel);
    if (!r || r.streamId !== message.streamId) {
      r = { channel: message.channel, streamId: message.streamId, serial: 0, event: message.event, entries: [] };
      this.channels.set(appId, message.channel, r);
    }
    if (message.event !== r.event) r.event = message.event;
    message.share(r.channel, r.event, r.streamId);
    r.serial = message.serial;
    r.entries.push(message as ReplayEntry);
    // Trim in chunks: one splice per maxSize/4 messages instead of a shift for every message.
    if (r.entries.length > this.maxSize + Math.max(1, this.maxSize >> 2)) r.entries.splice(0, r.entries.length - this.maxSize);
  }

  /** The channel's current position, for subscription_succeeded; undefined when nothing is retained. */
  position(appId: string, channel: string, now: number): { streamId: string; serial: number } | undefined {
    const r = this.live(appId, channel, now);
    return r && { streamId: r.streamId, serial: r.serial };
  }

  /** Messages after `serial` on `streamId`, or why they cannot be had. */
  since(appId: string, channel: string, streamId: string, serial: number, now: number): SinceResult {
    const r = this.live(appId, channel, now);
    if (!r) return { ok: false, code: 'position_expired', reason: 'recovery_window_exceeded' };
    const fail = (code: 'stream_reset' | 'position_expired', reason: string): SinceResult => ({
      ok: false,
      code,
      reason,
      currentStreamId: r.streamId,
      oldest: this.kept(r)[0]?.serial,
      newest: r.serial,
    });
    if (r.streamId !== streamId) return fail('stream_reset', 'stream_id_mismatch');
    if (serial > r.serial) return fail('stream_reset', 'position_ahead_of_stream');
    const entries = this.kept(r).filter((e) => e.serial > serial);
    const expectedCount = r.serial - serial;
    if (entries.length !== expectedCount) return fail('position_expired', 'recovery_window_exceeded');
    return { ok: true, entries, streamId: r.streamId, serial: r.serial, lastMessageId: r.entries.at(-1)?.messageId };
  }

  /** The last `count` messages, or those of the last `seconds`, oldest first. */
  recent(appId: string, channel: string, want: { count?: number; seconds?: number }, now: number): ReplayEntry[] {
    const r = this.live(appId, channel, now);
    if (!r) return [];
    const kept = this.kept(r);
    if (want.seconds !== undefined) return kept.filter((e) => now - e.publishedAt <= (want.seconds as number) * 1000);
    return kept.slice(-(want.count as number));
  }

  /** The retained window: the last max_buffer_size messages (the array may briefly hold a few more). */
  private kept(r: ChannelReplay): ReplayEntry[] {
    return r.entries.length > this.maxSize ? r.entries.slice(-this.maxSize) : r.entries;
  }

  /** Drops expired entries everywhere (called periodically). */
  sweep(now: number): void {
    for (const [appId, channel] of this.channels.entries()) this.live(appId, channel, now);
  }

  private live(appId: string, channel: string, now: number): ChannelReplay | undefined {
    const r = this.channels.get(appId, channel);
    if (!r) return undefined;
    const cutoff = now - this.ttlMs;
    let drop = 0;
    while (drop < r.entries.length && r.entries[drop].publishedAt < cutoff) drop++;
    if (drop > 0) r.entries.splice(0, drop);
    if (r.entries.length === 0) {
      // Nothing left to replay: forget the stream (the primary forgets it after the same idle time).
      this.channels.delete(appId, channel);
      return undefined;
    }
    return r;
  }
}
