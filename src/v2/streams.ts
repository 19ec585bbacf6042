// Per-channel message positions for Protocol V2, assigned by the primary in publish order: a stream_id
// (changes when continuity is lost) and a serial from 1. Idle streams are forgotten after the replay
// window, so memory follows active channels only.
import { randomUUID } from 'node:crypto';

interface Stream {
  streamId: string;
  serial: number;
  lastUsed: number;
}

export class StreamRegistry {
  /** appId → channel → stream. Two lookups instead of one on a joined key: every published message passes
   * here, and a joined key is a new string to flatten and hash each time (7 % of the primary in many-channels). */
  private readonly byApp = new Map<string, Map<string, Stream>>();

  next(appId: string, channel: string, now: number): { streamId: string; serial: number } {
    let streams = this.byApp.get(appId);
    if (!streams) this.byApp.set(appId, (streams = new Map()));
    let s = streams.get(channel);
    if (!s) streams.set(channel, (s = { streamId: randomUUID(), serial: 0, lastUsed: now }));
    s.serial++;
    s.lastUsed = now;
    return { streamId: s.streamId, serial: s.serial };
  }

  /** Forgets streams idle for longer than `idleMs`; a later publish starts a new stream. */
  sweep(now: number, idleMs: number): void {
    for (const [appId, streams] of this.byApp) {
      for (const [channel, s] of streams) if (now - s.lastUsed > idleMs) streams.delete(channel);
      if (streams.size === 0) this.byApp.delete(appId);
    }
  }

  get size(): number {
    let n = 0;
    for (const streams of this.byApp.values()) n += streams.size;
    return n;
  }
}
