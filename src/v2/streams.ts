// Per-channel message positions for Protocol V2, assigned by the primary in publish order: a stream_id
// (changes when continuity is lost) and a serial from 1. Idle streams are forgotten after the replay
// window, so memory follows active channels only.
import { randomUUID } from 'node:crypto';
import { AppChannelMap } from '../channels/appChannelMap.ts';

interface Stream {
  streamId: string;
  serial: number;
  lastUsed: number;
}

export class StreamRegistry {
  private readonly streams = new AppChannelMap<string, Stream>();

  next(appId: string, channel: string, now: number): { streamId: string; serial: number } {
    let s = this.streams.get(appId, channel);
    if (!s) this.streams.set(appId, channel, (s = { streamId: randomUUID(), serial: 0, lastUsed: now }));
    s.serial++;
    s.lastUsed = now;
    return { streamId: s.streamId, serial: s.serial };
  }

  /**
   * A worker opened `streamId` for a channel a V2 client subscribed to with no stream kept there (at serial 0). It
   * becomes the channel's stream unless one is in use here (not idle for `idleMs`); returns the one that stands.
   */
  open(appId: string, channel: string, streamId: string, now: number, idleMs: number): { streamId: string; serial: number } {
    let s = this.streams.get(appId, channel);
    if (!s || now - s.lastUsed > idleMs) this.streams.set(appId, channel, (s = { streamId, serial: 0, lastUsed: now }));
    else s.lastUsed = now;
    return { streamId: s.streamId, serial: s.serial };
  }

  /**
   * A position a worker assigned (worker/positionTracker.ts), in the same stamp order as next(): the channel
   * continues from it, and it is the position returned. A serial not past the stream's current one can only come
   * from a request the primary stopped waiting for (ipc/requestOrder.ts, GAP_TIMEOUT_MS) and numbered others
   * past meanwhile: the message then gets the next serial instead, so the stream never goes back.
   */
  adopt(appId: string, channel: string, streamId: string, serial: number, now: number): { streamId: string; serial: number } {
    const s = this.streams.get(appId, channel);
    if (!s) {
      this.streams.set(appId, channel, { streamId, serial, lastUsed: now });
      return { streamId, serial };
    }
    if (s.streamId === streamId && serial <= s.serial) return this.next(appId, channel, now);
    s.streamId = streamId;
    s.serial = serial;
    s.lastUsed = now;
    return { streamId, serial };
  }

  /** Forgets streams idle for longer than `idleMs`; a later publish starts a new stream. */
  sweep(now: number, idleMs: number): void {
    for (const [appId, channel, s] of this.streams.entries()) if (now - s.lastUsed > idleMs) this.streams.delete(appId, channel);
  }

  get size(): number {
    return this.streams.size;
  }
}
