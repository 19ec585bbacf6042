// Publish ordering and fan-out. Each event is serialized here once per protocol version (V1: event,
// channel, data; V2: plus message_id, stream_id, serial, extras, tags), and handed to every worker in one
// message per request, so per-channel order — and the serial order — is the order of acceptance.
import { randomUUID } from 'node:crypto';
import { TTLCache } from '@isaacs/ttlcache';
import type { Config } from '../config/schema.ts';
import type { PublishEvent } from '../http/events.ts';
import type { TopicFrame, V2Meta } from '../ipc/messages.ts';
import { isCacheChannel } from '../protocol/channels.ts';
import { type ProtocolVersion, channelEvent, channelEventV2 } from '../protocol/frames.ts';
import { SERVER_TO_USER_PREFIX, publishTopic, topicFor } from '../protocol/topics.ts';
import { StreamRegistry } from '../v2/streams.ts';

export interface WorkerLink {
  readonly index: number;
  publish(frames: TopicFrame[]): void;
}

const VERSIONS: readonly ProtocolVersion[] = [1, 2];

/** One channel message before serialization. */
export interface ChannelMessage {
  event: string;
  channel: string;
  data: unknown;
  messageId?: string;
  extras?: Record<string, unknown>;
  tags?: Record<string, string>;
  ephemeral: boolean;
  userId?: string;
}

export class Publisher {
  /** Last HTTP-published frame of each cache channel, `${appId}\n${channel}` → frame (for channel queries). */
  readonly cache = new TTLCache<string, string>({ max: 100_000 });
  readonly streams = new StreamRegistry();
  private readonly cacheTtlMs: number;
  private readonly recovery: boolean;

  constructor(
    private readonly workers: () => readonly WorkerLink[],
    config: Config,
  ) {
    this.cacheTtlMs = config.cache_channel_ttl * 1000;
    this.recovery = config.connection_recovery.enabled;
    const idleMs = config.connection_recovery.buffer_ttl_seconds * 1000;
    setInterval(() => this.streams.sweep(Date.now(), idleMs), Math.max(1000, idleMs / 4)).unref();
  }

  /**
   * Every worker gets the frames: a native uWS publish on a topic nobody on that thread holds costs almost
   * nothing, and sending to all avoids racing a subscribe that is still on its way to the primary.
   */
  publish(appIndex: number, appId: string, events: readonly PublishEvent[]): void {
    const frames: TopicFrame[] = [];
    for (const e of events) {
      for (const channel of e.channels) {
        const v1 = channelEvent(e.name, channel, e.data);
        const cacheTtlMs = isCacheChannel(channel) ? this.cacheTtlMs : undefined;
        if (cacheTtlMs) this.cache.set(`${appId}\n${channel}`, v1, { ttl: cacheTtlMs });
        const message: ChannelMessage = {
          event: e.name,
          channel,
          data: e.data,
          messageId: e.messageId,
          extras: e.extras,
          tags: e.tags,
          ephemeral: e.ephemeral,
        };
        frames.push({ app: appIndex, topic: publishTopic(1, appId, channel), frame: v1, exclude: e.socketId, cacheTtlMs });
        frames.push(this.v2Frame(appIndex, appId, message, e.socketId, cacheTtlMs));
      }
    }
    this.broadcast(frames);
  }

  /** Builds the V2 frame of a channel message, with its position when recovery is on. */
  v2Frame(appIndex: number, appId: string, m: ChannelMessage, exclude?: string, cacheTtlMs?: number): TopicFrame {
    const now = Date.now();
    const userChannel = m.channel.startsWith(SERVER_TO_USER_PREFIX);
    const position = this.recovery && !m.ephemeral && !userChannel ? this.streams.next(appId, m.channel, now) : undefined;
    const messageId = m.messageId ?? randomUUID();
    const frame = channelEventV2(m.event, m.channel, m.data, {
      userId: m.userId,
      messageId,
      streamId: position?.streamId,
      serial: position?.serial,
      extras: m.extras,
      tags: m.tags,
    });
    const headers = m.extras?.headers as Record<string, unknown> | undefined;
    const v2: V2Meta = {
      channel: m.channel,
      event: m.event,
      data: m.data,
      messageId,
      streamId: position?.streamId,
      serial: position?.serial,
      ephemeral: m.ephemeral,
      tags: m.tags,
      headers,
      userId: m.userId,
      publishedAt: now,
    };
    return { app: appIndex, topic: publishTopic(2, appId, m.channel), frame, exclude, cacheTtlMs, v2: userChannel ? undefined : v2 };
  }

  /** Frames built per protocol version (presence notifications and the like) for one channel. */
  publishToChannel(appIndex: number, appId: string, channel: string, frame: (v: ProtocolVersion) => string, exclude?: string): void {
    this.broadcast(VERSIONS.map((v) => ({ app: appIndex, topic: topicFor(v, appId, channel), frame: frame(v), exclude })));
  }

  /** Hands ready frames to every worker, or to every worker but one (which has delivered them already). */
  broadcast(frames: TopicFrame[], exceptWorker = -1): void {
    for (const w of this.workers()) if (w.index !== exceptWorker) w.publish(frames);
  }

  /** A client event: V1 frame to the other workers, V2 frame (with serial) to all. */
  clientEvent(appIndex: number, appId: string, fromWorker: number, v1Frame: string, m: ChannelMessage, socketId: string, echo: boolean): void {
    const v1: TopicFrame = { app: appIndex, topic: topicFor(1, appId, m.channel), frame: v1Frame, exclude: socketId };
    const v2 = this.v2Frame(appIndex, appId, m, echo ? undefined : socketId);
    for (const w of this.workers()) w.publish(w.index === fromWorker ? [v2] : [v1, v2]);
  }
}
