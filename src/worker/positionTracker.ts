// The newest V2 position (stream id and serial) of each channel as this worker has seen them, so that it can number
// the messages of a publish it admitted and delivers at once itself, instead of waiting for the primary's answer
// with their positions (docs/benchmarks.md "Session 25": that wait made V2 fan-out 0.83× V1).
//
// Why the numbers match the primary's: the worker numbers a publish only once it may deliver it here
// (LocalPublishOrder.claim), that is once every request stamped before it has been handled by the primary and
// applied here, or numbered here. So this worker has seen the position of every earlier message of the channel,
// and the primary adopts the numbers it is given (StreamRegistry.adopt) in the same stamp order. Only messages
// outside the stamp order could come between: client events, which private and presence channels carry, and
// messages whose order Redis fixes. So only public channels are numbered here, and only on a single host.
// A channel this worker has no recent position for (first publish, or idle for half the replay window) is
// numbered by the primary as before.
import { AppChannelMap } from '../channels/appChannelMap.ts';

interface Latest {
  streamId: string;
  serial: number;
  /** Date.now() when it was learned or assigned. */
  at: number;
}

export class PositionTracker {
  private readonly latest = new AppChannelMap<string, Latest>();

  constructor(
    /** Past this age a channel's position is not used (the primary forgets streams idle for the replay window). */
    private readonly maxAgeMs: number,
  ) {
    setInterval(() => this.sweep(Date.now()), Math.max(1000, maxAgeMs)).unref();
  }

  /** A position the primary gave (a hand-over or an answer), in the order it gave them. */
  learn(appId: string, channel: string, streamId: string, serial: number, now: number): void {
    const l = this.latest.get(appId, channel);
    if (l) {
      l.streamId = streamId;
      l.serial = serial;
      l.at = now;
    } else this.latest.set(appId, channel, { streamId, serial, at: now });
  }

  /** Whether the channel's next position can be assigned here. */
  knows(appId: string, channel: string, now: number): boolean {
    const l = this.latest.get(appId, channel);
    return l !== undefined && now - l.at < this.maxAgeMs;
  }

  /** The channel's next position (only after knows()). */
  next(appId: string, channel: string, now: number): Latest {
    const l = this.latest.get(appId, channel) as Latest;
    l.serial++;
    l.at = now;
    return l;
  }

  /** The channel's position is not known any more (the primary did not take a publish that it numbered). */
  forget(appId: string, channel: string): void {
    this.latest.delete(appId, channel);
  }

  private sweep(now: number): void {
    for (const [appId, channel, l] of this.latest.entries()) if (now - l.at >= this.maxAgeMs) this.latest.delete(appId, channel);
  }
}
