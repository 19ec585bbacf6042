// A worker's copy of each channel's recent V2 messages (the hot replay buffer): every worker receives
// every publish, so any worker can serve a resume or a rewind on its own, synchronously, which is what
// makes replay-then-live free of gaps and duplicates (no live message can interleave).
import { AppChannelMap } from '../channels/appChannelMap.ts';
import { type ReplayEntry, ReplayLog } from './replayLog.ts';
import type { V2Message } from './v2Message.ts';

export type { ReplayEntry } from './replayLog.ts';

export type SinceResult =
  | { ok: true; entries: ReplayEntry[]; streamId: string; serial: number; lastMessageId?: string }
  | { ok: false; code: 'stream_reset' | 'position_expired'; reason: string; currentStreamId?: string; oldest?: number; newest?: number };

export class ReplayMirror {
  private readonly channels = new AppChannelMap<string, ReplayLog>();

  constructor(
    private readonly maxSize: number,
    private readonly ttlMs: number,
  ) {}

  record(appId: string, message: V2Message): void {
    if (message.streamId === undefined || message.serial === undefined) return;
    let log = this.channels.get(appId, message.channel);
    if (!log || log.streamId !== message.streamId) {
      log = new ReplayLog(message.channel, message.streamId, this.maxSize);
      this.channels.set(appId, message.channel, log);
    }
    log.push(message, message.serial);
  }

  /** The channel's current position, for subscription_succeeded; undefined when nothing is retained. */
  position(appId: string, channel: string, now: number): { streamId: string; serial: number } | undefined {
    const log = this.live(appId, channel, now);
    return log && { streamId: log.streamId, serial: log.serial };
  }

  /** Messages after `serial` on `streamId`, or why they cannot be had. */
  since(appId: string, channel: string, streamId: string, serial: number, now: number): SinceResult {
    const log = this.live(appId, channel, now);
    if (!log) return { ok: false, code: 'position_expired', reason: 'recovery_window_exceeded' };
    const fail = (code: 'stream_reset' | 'position_expired', reason: string): SinceResult => ({
      ok: false,
      code,
      reason,
      currentStreamId: log.streamId,
      oldest: log.serialAt(0),
      newest: log.serial,
    });
    if (log.streamId !== streamId) return fail('stream_reset', 'stream_id_mismatch');
    if (serial > log.serial) return fail('stream_reset', 'position_ahead_of_stream');
    let from = 0;
    while (from < log.count && log.serialAt(from) <= serial) from++;
    // Contiguous: exactly the serials after `serial` up to the newest are held.
    if (log.count - from !== log.serial - serial) return fail('position_expired', 'recovery_window_exceeded');
    return { ok: true, entries: log.entries(from), streamId: log.streamId, serial: log.serial, lastMessageId: log.newestMessageId() };
  }

  /** The last `count` messages, or those of the last `seconds`, oldest first. */
  recent(appId: string, channel: string, want: { count?: number; seconds?: number }, now: number): ReplayEntry[] {
    const log = this.live(appId, channel, now);
    if (!log) return [];
    if (want.seconds !== undefined) {
      const oldest = now - want.seconds * 1000;
      let from = 0;
      while (from < log.count && log.timeAt(from) < oldest) from++;
      return log.entries(from);
    }
    return log.entries(Math.max(0, log.count - (want.count as number)));
  }

  /** Drops expired entries everywhere (called periodically). */
  sweep(now: number): void {
    for (const [appId, channel] of this.channels.entries()) this.live(appId, channel, now);
  }

  private live(appId: string, channel: string, now: number): ReplayLog | undefined {
    const log = this.channels.get(appId, channel);
    if (!log) return undefined;
    log.expire(now - this.ttlMs);
    if (log.count === 0) {
      // Nothing left to replay: forget the stream (the primary forgets it after the same idle time).
      this.channels.delete(appId, channel);
      return undefined;
    }
    return log;
  }
}
