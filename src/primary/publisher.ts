// Publish ordering and fan-out. Each HTTP-published event is serialized here once as its V1 frame (event,
// channel, data) with the V2 fields beside it (message_id, stream_id, serial, extras, tags), from which each
// worker derives the V2 frame only if it needs it; client events and presence notifications get both frames
// here. Everything goes to every worker in one message per request, so per-channel order, and the serial
// order, is the order of acceptance; a publish a worker answered itself is the exception: that worker builds
// its own frames and gets only the message ids and positions, in the same order (publishAdmitted; with no
// other worker, positionsOnly, from the channel list the worker sends).
// With several hosts, messages first go through Redis (RedisCluster), which fixes one global order and
// the serials; each host, this one included, delivers them when they come back.
import { ExpiringMap } from '../expiringMap.ts';
import type { ClusterCache } from '../adapter/clusterCache.ts';
import type { Envelope, IdempotentCompletion, MemberChange, Position, WireEvent } from '../adapter/envelope.ts';
import type { RedisCluster } from '../adapter/redisCluster.ts';
import type { Config } from '../config/schema.ts';
import type { PublishEvent } from '../http/events.ts';
import type { OwnPublishPositions, PrimaryToWorker, TopicFrame, V2Meta } from '../ipc/messages.ts';
import type { Logger } from '../log.ts';
import { isCacheChannel } from '../protocol/channels.ts';
import { type ProtocolVersion, memberAdded, memberRemoved, memberUpdated, publishedV1Frame, v2ChannelEvent } from '../protocol/frames.ts';
import { SERVER_TO_USER_PREFIX, publishTopic, topicFor } from '../protocol/topics.ts';
import { NO_SERIAL, newMessageId, takesPosition, v2Meta } from '../v2/meta.ts';
import { StreamRegistry } from '../v2/streams.ts';

export interface WorkerLink {
  readonly index: number;
  publish(frames: TopicFrame[]): void;
  post(m: PrimaryToWorker): void;
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

/** Where V2 positions come from: this host's registry, or the ones Redis assigned. */
type PositionSource = (appId: string, channel: string, ephemeral: boolean) => Position | undefined;

/** Thrown when Redis was unreachable and the message went to this host's subscribers only. */
export class LocalOnlyDelivery extends Error {
  override name = 'LocalOnlyDelivery';
}

export class Publisher {
  /** Last HTTP-published frame of each cache channel, `${appId}\n${channel}` → frame (for channel queries). */
  readonly cache = new ExpiringMap<string, string>(100_000);
  readonly streams = new StreamRegistry();
  cluster: RedisCluster | null = null;
  /** With several hosts: where cache channels' last events are kept for hosts that start later. */
  clusterCache: ClusterCache | null = null;
  private loadedCache: Extract<PrimaryToWorker, { type: 'cache-entries' }> | undefined;
  /** Set with several hosts: answers another host's count query. */
  onQuery: ((env: Extract<Envelope, { kind: 'query' }>) => void) | null = null;
  /** Set with several hosts: records an idempotent publish read back from the stream as done. */
  onCompletion: ((c: IdempotentCompletion) => void) | null = null;
  /** The protocol versions of a presence channel's sockets on this host (Hub sets it): its member frames are built for those only. */
  presenceVersions: (appId: string, channel: string) => readonly ProtocolVersion[] = () => VERSIONS;
  /** Set by the hub: another host's member changed its user_info (its sockets here keep the new one). */
  presenceInfo: ((appId: string, channel: string, userId: string, userInfo: unknown) => void) | null = null;
  private readonly cacheTtlMs: number;
  private readonly recovery: boolean;
  private readonly appIndex: Map<string, number>;
  private readonly appIds: readonly string[];
  private readonly streamIdleMs: number;

  constructor(
    private readonly workers: () => readonly WorkerLink[],
    config: Config,
    private readonly log: Logger,
  ) {
    this.cacheTtlMs = config.cache_channel_ttl * 1000;
    this.recovery = config.connection_recovery.enabled;
    this.appIndex = new Map(config.apps.map((a, i) => [a.id, i]));
    this.appIds = config.apps.map((a) => a.id);
    const idleMs = config.connection_recovery.buffer_ttl_seconds * 1000;
    this.streamIdleMs = idleMs;
    setInterval(() => this.streams.sweep(Date.now(), idleMs), Math.max(1000, idleMs / 4)).unref();
  }

  /**
   * An HTTP publish. Every worker gets the frames: a native uWS publish on a topic nobody on that thread
   * holds costs almost nothing, and sending to all avoids racing a subscribe still on its way here.
   */
  async publish(appIndex: number, appId: string, events: readonly PublishEvent[], completes?: IdempotentCompletion, messageKeys?: IdempotentCompletion[]): Promise<void> {
    const wire = events.map((e) => this.toWire(e));
    if (!this.cluster) return void this.deliverEvents(appIndex, appId, wire, this.localPosition);
    const keys = { ...(completes ? { completes } : {}), ...(messageKeys && messageKeys.length > 0 ? { messageKeys } : {}) };
    await this.viaCluster({ kind: 'events', origin: this.cluster.hostId, app: appId, events: wire, ...keys }, () =>
      this.deliverEvents(appIndex, appId, wire, this.localPosition),
    );
    this.keepInCluster(appId, wire);
  }

  /** A cache channel's event, kept in Redis for hosts that start later (adapter/clusterCache.ts). */
  private keepInCluster(appId: string, events: readonly WireEvent[]): void {
    if (!this.clusterCache) return;
    for (const e of events) {
      for (const channel of e.channels) {
        if (!isCacheChannel(channel)) continue;
        const frame = publishedV1Frame(JSON.stringify(e.name), channel, JSON.stringify(e.data));
        this.clusterCache.store(appId, channel, frame, this.cacheTtlMs).catch((err: Error) => {
          this.log.warn({ err: err.message, channel }, 'could not keep a cache channel event in Redis; hosts that start later miss it');
        });
      }
    }
  }

  /**
   * A starting host (several hosts) takes the cache channels' last events the cluster keeps: for channel queries
   * here, and handed to every worker as it starts (cacheEntriesMessage) before it takes connections.
   */
  async loadClusterCache(): Promise<void> {
    if (!this.clusterCache) return;
    const entries = await this.clusterCache.loadAll();
    this.loadedCache = { type: 'cache-entries', apps: [], topics: [], frames: [], ttlMs: [] };
    for (const c of entries) {
      const index = this.appIndex.get(c.appId);
      if (index === undefined) continue;
      this.cache.set(`${c.appId}\n${c.channel}`, c.frame, c.ttlMs);
      this.loadedCache.apps.push(index);
      this.loadedCache.topics.push(topicFor(1, c.appId, c.channel));
      this.loadedCache.frames.push(c.frame);
      this.loadedCache.ttlMs.push(c.ttlMs);
    }
    if (entries.length > 0) this.log.info({ channels: entries.length }, 'cache channel events loaded from the cluster');
  }

  /** The loaded cache entries for a worker that is starting (undefined when there are none). */
  cacheEntriesMessage(): Extract<PrimaryToWorker, { type: 'cache-entries' }> | undefined {
    return this.loadedCache && this.loadedCache.topics.length > 0 ? this.loadedCache : undefined;
  }

  /** A client event: V1 frame to the other workers, V2 frame (with serial) to all. */
  clientEvent(appIndex: number, appId: string, fromWorker: number, v1Frame: string, m: ChannelMessage, socketId: string, echo: boolean): void {
    if (!this.cluster) return this.deliverClientEvent(appIndex, appId, fromWorker, v1Frame, m, socketId, echo, this.localPosition);
    const env: Envelope = {
      kind: 'client-event',
      origin: this.cluster.hostId,
      worker: fromWorker,
      app: appId,
      channel: m.channel,
      event: m.event,
      data: m.data,
      userId: m.userId,
      socketId,
      echo,
      v1Frame,
      messageId: newMessageId(this.recovery, m.channel),
    };
    this.viaCluster(env, () => this.deliverClientEvent(appIndex, appId, fromWorker, v1Frame, m, socketId, echo, this.localPosition)).catch(() => {
      // Delivered on this host; the warning is in the log.
    });
  }

  /**
   * A worker opened a stream for a channel a V2 client subscribed to with nothing kept (worker/subscriptions.ts): the
   * channel keeps the stream it has, here or in the cluster, or takes this one; every worker then keeps the one that
   * stands, so later subscribers anywhere on the host are given the same position.
   */
  streamOpened(appIndex: number, channel: string, streamId: string): void {
    const appId = this.appIds[appIndex];
    const tell = (at: Position) => {
      for (const w of this.workers()) w.post({ type: 'stream-opened', app: appIndex, channel, streamId: at.streamId, serial: at.serial });
    };
    if (!this.cluster) return tell(this.streams.open(appId, channel, streamId, Date.now(), this.streamIdleMs));
    this.cluster.openStream(appId, channel, streamId).then(tell, (err: Error) => {
      this.log.warn({ err: err.message, channel }, 'could not open a V2 stream in Redis; the subscriber may not resume from its position');
    });
  }

  /** Closes a user's sockets on every host: 4009 (terminate_connections), or 4200 to reconnect (force_reconnect). */
  async terminateUser(appIndex: number, appId: string, userId: string, reconnect: boolean): Promise<void> {
    const local = () => {
      for (const w of this.workers()) w.post({ type: 'terminate-user', app: appIndex, userId, reconnect });
    };
    if (!this.cluster) return local();
    await this.viaCluster({ kind: 'terminate', origin: this.cluster.hostId, app: appId, userId, reconnect }, local);
  }

  /** A message that came back from Redis: deliver it on this host with the positions Redis assigned. */
  readonly onEnvelope = (env: Envelope, positions: Position[]): void => {
    const appIndex = this.appIndex.get(env.app);
    if (appIndex === undefined) return; // an app this host does not serve
    let next = 0;
    const fromRedis: PositionSource = (_appId, channel, ephemeral) => (this.needsPosition(channel, ephemeral) ? positions[next++] : undefined);
    switch (env.kind) {
      case 'events':
        if (env.completes) this.onCompletion?.(env.completes);
        for (const k of env.messageKeys ?? []) this.onCompletion?.(k);
        this.deliverEvents(appIndex, env.app, env.events, fromRedis);
        return;
      case 'client-event': {
        const m: ChannelMessage = { event: env.event, channel: env.channel, data: env.data, userId: env.userId, ephemeral: false, messageId: env.messageId };
        const fromWorker = env.origin === this.cluster?.hostId ? env.worker : -1;
        return this.deliverClientEvent(appIndex, env.app, fromWorker, env.v1Frame, m, env.socketId, env.echo, fromRedis);
      }
      case 'terminate':
        for (const w of this.workers()) w.post({ type: 'terminate-user', app: appIndex, userId: env.userId, reconnect: env.reconnect === true });
        return;
      case 'presence':
        // Another host's member changed its user_info: this host's sockets of that user take it too (presenceInfo).
        // Not the origin's own, read back later: it kept the info at once, and may have a newer join's since.
        if (env.change === 'updated' && env.origin !== this.cluster?.hostId) this.presenceInfo?.(env.app, env.channel, env.userId, env.userInfo);
        return this.memberFrames(appIndex, env.app, env.channel, env.change, env.userId, env.userInfo, env.exclude);
      case 'query':
        return this.onQuery?.(env);
    }
  };

  /** member_added / member_removed / presence_update (V2 only) for a channel, on every host. */
  presenceChange(appIndex: number, appId: string, channel: string, change: MemberChange, userId: string, userInfo?: unknown, exclude?: string): void {
    // No named closure on this path: tsx compiles with keepNames, which gives each one a defineProperty call.
    if (!this.cluster) return this.memberFrames(appIndex, appId, channel, change, userId, userInfo, exclude);
    const env: Envelope = { kind: 'presence', origin: this.cluster.hostId, app: appId, channel, change, userId, userInfo, exclude };
    this.viaCluster(env, () => this.memberFrames(appIndex, appId, channel, change, userId, userInfo, exclude)).catch(() => {
      // Delivered on this host; the warning is in the log.
    });
  }

  private memberFrames(appIndex: number, appId: string, channel: string, change: MemberChange, userId: string, userInfo: unknown, exclude?: string): void {
    const versions = this.presenceVersions(appId, channel);
    if (versions.length === 0) return;
    if (change === 'updated') {
      // V1 sockets never get it (Sockudo's is_v2_only_protocol_event).
      if (versions.includes(2)) this.broadcast([{ app: appIndex, topic: topicFor(2, appId, channel), frame: memberUpdated(channel, userId, userInfo), exclude }]);
      return;
    }
    const frames: TopicFrame[] = [];
    for (const v of versions) {
      const frame = change === 'added' ? memberAdded(v, channel, userId, userInfo ?? {}) : memberRemoved(v, channel, userId);
      frames.push({ app: appIndex, topic: topicFor(v, appId, channel), frame, exclude });
    }
    this.broadcast(frames);
  }

  /**
   * A publish worker `admittedBy` answered itself (worker/publishAdmission.ts; single host only, so no Redis
   * path). That worker holds the parsed events and builds the frames itself: it gets only what it cannot know,
   * each message's id and V2 position, in stamp order. The other workers get the frames as for any publish.
   */
  publishAdmitted(appIndex: number, appId: string, events: readonly PublishEvent[], admittedBy: number, given?: OwnPublishPositions): OwnPublishPositions {
    if (!given) return this.deliverEvents(appIndex, appId, events.map((e) => this.toWire(e)), this.localPosition, admittedBy);
    // The worker numbered the messages (worker/positionTracker.ts): its ids and positions, adopted in order.
    let k = 0;
    const wire = events.map((e) => this.toWire(e, () => given.messageIds[k++]));
    return this.deliverEvents(appIndex, appId, wire, this.adopting(given), admittedBy, given.publishedAt);
  }

  /** Whether a publish one worker admitted has frames to build here: false with one worker, the admitting one. */
  othersNeedFrames(): boolean {
    return this.workers().length > 1;
  }

  /**
   * The message ids and positions of a publish the only worker admitted, from each message's channel ('' for an
   * ephemeral one, which takes no position), as publishAdmitted gives them, with nothing to build for other workers.
   */
  positionsOnly(appId: string, channels: readonly string[], given?: OwnPublishPositions): OwnPublishPositions {
    if (given) {
      const adopt = this.adopting(given);
      const own: OwnPublishPositions = { messageIds: [], streamIds: [], serials: [], publishedAt: given.publishedAt };
      for (let k = 0; k < channels.length; k++) addPosition(own, given.messageIds[k], adopt(appId, channels[k], channels[k] === ''));
      return own;
    }
    const own: OwnPublishPositions = { messageIds: [], streamIds: [], serials: [], publishedAt: Date.now() };
    for (const channel of channels) addPosition(own, newMessageId(this.recovery, channel), channel === '' ? undefined : this.localPosition(appId, channel, false));
    return own;
  }

  /** Hands ready frames to every worker except `skip`. */
  broadcast(frames: TopicFrame[], skip = -1): void {
    for (const w of this.workers()) if (w.index !== skip) w.publish(frames);
  }

  /** Sends through Redis; if Redis is unreachable, delivers here only and says so. */
  private async viaCluster(env: Envelope, deliverHere: () => void): Promise<void> {
    try {
      await (this.cluster as RedisCluster).send(env);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, kind: env.kind }, 'redis unavailable: delivered on this host only');
      deliverHere();
      throw new LocalOnlyDelivery('Redis is unavailable: delivered to subscribers on this host only');
    }
  }

  /**
   * What travels to the workers (and through Redis) for one published event: its fields and a message id per
   * channel, from `idFor` (the ids a worker gave), else the publisher's or a new one.
   */
  private toWire(e: PublishEvent, idFor?: (channelIndex: number) => string): WireEvent {
    const messageIds = new Array<string>(e.channels.length);
    for (let i = 0; i < messageIds.length; i++) messageIds[i] = idFor ? idFor(i) : (e.messageId ?? newMessageId(this.recovery, e.channels[i]));
    return { name: e.name, channels: e.channels, data: e.data, socketId: e.socketId, messageId: e.messageId, extras: e.extras, tags: e.tags, ephemeral: e.ephemeral, messageIds };
  }

  /**
   * A position source that hands out, in order, the positions a worker assigned, and makes each channel continue
   * from them (or, for one a late request would take back, the next position: StreamRegistry.adopt).
   */
  private adopting(given: OwnPublishPositions): PositionSource {
    let k = 0;
    return (appId, channel) => {
      const serial = given.serials[k];
      const streamId = given.streamIds[k++];
      if (serial === NO_SERIAL) return undefined;
      const at = this.streams.adopt(appId, channel, streamId, serial, Date.now());
      if (at.serial !== serial) this.log.warn({ app: appId, channel, given: serial, serial: at.serial }, 'a late publish got the next V2 serial instead of the one its worker gave');
      return at;
    };
  }

  private needsPosition(channel: string, ephemeral: boolean): boolean {
    return this.recovery && takesPosition(channel, ephemeral);
  }

  private readonly localPosition: PositionSource = (appId, channel, ephemeral) => (this.needsPosition(channel, ephemeral) ? this.streams.next(appId, channel, Date.now()) : undefined);

  /**
   * Builds and hands over the frames of HTTP-published events, to every worker but `admittedBy`; with
   * `admittedBy`, returns the message ids and positions that worker builds its own frames from.
   */
  private deliverEvents(appIndex: number, appId: string, events: readonly WireEvent[], position: PositionSource): void;
  private deliverEvents(appIndex: number, appId: string, events: readonly WireEvent[], position: PositionSource, admittedBy: number, publishedAt?: number): OwnPublishPositions;
  private deliverEvents(
    appIndex: number,
    appId: string,
    events: readonly WireEvent[],
    position: PositionSource,
    admittedBy = -1,
    publishedAt = Date.now(),
  ): OwnPublishPositions | undefined {
    const own: OwnPublishPositions | undefined = admittedBy < 0 ? undefined : { messageIds: [], streamIds: [], serials: [], publishedAt };
    const frames: TopicFrame[] = [];
    for (const e of events) {
      // The name and data are JSON-encoded once for every channel; workers derive V2 frames from the V1 frame.
      const nameJson = JSON.stringify(e.name);
      const dataJson = JSON.stringify(e.data);
      for (let i = 0; i < e.channels.length; i++) {
        const channel = e.channels[i];
        const at = position(appId, channel, e.ephemeral);
        if (own) addPosition(own, e.messageIds[i], at);
        const v1 = publishedV1Frame(nameJson, channel, dataJson);
        const cacheTtlMs = isCacheChannel(channel) ? this.cacheTtlMs : undefined;
        if (cacheTtlMs) this.cache.set(`${appId}\n${channel}`, v1, cacheTtlMs);
        const f = topicFrame(appIndex, publishTopic(1, appId, channel), v1, e.socketId, cacheTtlMs);
        f.alsoV2 = v2Meta(channel, e.name, e.messageIds[i], e.ephemeral, publishedAt, at?.streamId, at?.serial, e.tags, e.extras);
        frames.push(f);
      }
    }
    this.broadcast(frames, admittedBy);
    return own;
  }

  private deliverClientEvent(
    appIndex: number,
    appId: string,
    fromWorker: number,
    v1Frame: string,
    m: ChannelMessage,
    socketId: string,
    echo: boolean,
    position: PositionSource,
  ): void {
    const v1: TopicFrame = { app: appIndex, topic: topicFor(1, appId, m.channel), frame: v1Frame, exclude: socketId };
    const v2 = this.v2Frame(appIndex, appId, m, position(appId, m.channel, m.ephemeral), echo ? undefined : socketId);
    // The sender's worker delivered the V1 frame already, and with recovery off the V2 frame too (no id or position).
    for (const w of this.workers()) {
      if (w.index !== fromWorker) w.publish([v1, v2]);
      else if (this.recovery) w.publish([v2]);
    }
  }

  /** Builds the V2 frame of a channel message at the given position. */
  private v2Frame(appIndex: number, appId: string, m: ChannelMessage, position: Position | undefined, exclude?: string): TopicFrame {
    const meta = v2Meta(m.channel, m.event, m.messageId ?? newMessageId(this.recovery, m.channel), m.ephemeral, Date.now(), position?.streamId, position?.serial, m.tags, m.extras, m.userId);
    const frame = v2ChannelEvent(m.event, m.channel, m.data, meta);
    return topicFrame(appIndex, publishTopic(2, appId, m.channel), frame, exclude, undefined, m.channel.startsWith(SERVER_TO_USER_PREFIX) ? undefined : meta);
  }
}

/** Appends one message's id and position (or none) to the admitting worker's columns. */
function addPosition(own: OwnPublishPositions, messageId: string, at: Position | undefined): void {
  own.messageIds.push(messageId);
  own.streamIds.push(at?.streamId ?? '');
  own.serials.push(at?.serial ?? NO_SERIAL);
}

/**
 * A TopicFrame without its absent fields: every property, even an undefined one, costs the structured clone
 * that carries frames to the workers (see bench/micro/publishPath.ts).
 */
function topicFrame(app: number, topic: string, frame: string, exclude?: string, cacheTtlMs?: number, v2?: V2Meta): TopicFrame {
  const f: TopicFrame = { app, topic, frame };
  if (exclude !== undefined) f.exclude = exclude;
  if (cacheTtlMs !== undefined) f.cacheTtlMs = cacheTtlMs;
  if (v2 !== undefined) f.v2 = v2;
  return f;
}
