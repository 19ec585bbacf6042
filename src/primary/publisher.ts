// Publish ordering and fan-out: each event is serialized once per protocol version, here on the primary,
// and handed to every worker in one message per request, so per-channel order is the order of acceptance.
import { TTLCache } from '@isaacs/ttlcache';
import type { TopicFrame } from '../ipc/messages.ts';
import type { PublishEvent } from '../http/events.ts';
import { isCacheChannel } from '../protocol/channels.ts';
import { type ProtocolVersion, channelEvent } from '../protocol/frames.ts';
import { publishTopic, topicFor } from '../protocol/topics.ts';

export interface WorkerLink {
  readonly index: number;
  publish(frames: TopicFrame[]): void;
}

const VERSIONS: readonly ProtocolVersion[] = [1, 2];

export class Publisher {
  /** Last HTTP-published frame of each cache channel, `${appId}\n${channel}` → frame (for channel queries). */
  readonly cache = new TTLCache<string, string>({ max: 100_000 });

  constructor(
    private readonly workers: () => readonly WorkerLink[],
    private readonly cacheTtlMs: number,
  ) {}

  /**
   * Every worker gets the frames: a native uWS publish on a topic nobody on that thread holds costs almost
   * nothing, and sending to all avoids racing a subscribe that is still on its way to the primary.
   */
  publish(appIndex: number, appId: string, events: readonly PublishEvent[]): void {
    const frames: TopicFrame[] = [];
    for (const e of events) {
      for (const channel of e.channels) {
        // Protocol V2 delivers the same frame until V2-only fields (message_id, serial) are added.
        const frame = channelEvent(e.name, channel, e.data);
        const cacheTtlMs = isCacheChannel(channel) ? this.cacheTtlMs : undefined;
        if (cacheTtlMs) this.cache.set(`${appId}\n${channel}`, frame, { ttl: cacheTtlMs });
        for (const v of VERSIONS) frames.push({ app: appIndex, topic: publishTopic(v, appId, channel), frame, exclude: e.socketId, cacheTtlMs });
      }
    }
    this.broadcast(frames);
  }

  /** Frames built per protocol version (presence notifications and the like) for one channel. */
  publishToChannel(appIndex: number, appId: string, channel: string, frame: (v: ProtocolVersion) => string, exclude?: string): void {
    this.broadcast(VERSIONS.map((v) => ({ app: appIndex, topic: topicFor(v, appId, channel), frame: frame(v), exclude })));
  }

  /** Hands ready frames to every worker, or to every worker but one (which has delivered them already). */
  broadcast(frames: TopicFrame[], exceptWorker = -1): void {
    for (const w of this.workers()) if (w.index !== exceptWorker) w.publish(frames);
  }
}
