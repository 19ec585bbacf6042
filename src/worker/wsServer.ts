// A worker's WebSocket side: admission, the Pusher/Sockudo frame loop, heartbeats and the sign-in deadline,
// and native fan-out of frames the primary publishes. Channel, client-event and sign-in handling live in
// subscriptions.ts, clientEvents.ts and signin.ts.
import type { ConnectionQuota } from '../apps/connectionQuota.ts';
import { IpQuota } from '../apps/ipQuota.ts';
import type { ChannelCounts } from '../channels/channelCounts.ts';
import type { AppConfig, Config } from '../config/schema.ts';
import { WS_ERRORS, type WsErrorName } from '../errors.ts';
import type { OwnPublishPositions, PrimaryToWorker, TopicFrame, V2Meta, WorkerToPrimary } from '../ipc/messages.ts';
import type { PublishEvent } from '../http/events.ts';
import type { Logger } from '../log.ts';
import { CHANNEL_TYPES, FIELD, type WorkerCounters, errorTypeIndex } from '../metrics/workerCounters.ts';
import { channelType } from '../protocol/channels.ts';
import { canonicalEvent, parseClientFrame } from '../protocol/clientFrame.ts';
import { randomUUID } from 'node:crypto';
import { PING, PONG, type ProtocolVersion, connectionEstablished, errorFrame, namedError, publishedV1Frame, watchlistEvents, withMessageId } from '../protocol/frames.ts';
import { publishTopic } from '../protocol/topics.ts';
import { NO_SERIAL, v2Meta } from '../v2/meta.ts';
import { type TemplatedApp, type WebSocket, uws } from '../transport/uws.ts';
import { CacheMirror } from './cacheMirror.ts';
import { handleClientEvent } from './clientEvents.ts';
import { LocalChannels } from './localChannels.ts';
import { handleSignin, signout } from './signin.ts';
import { SocketIdAllocator, SocketState, type UwsUserData } from './socketState.ts';
import { handleResume } from './recovery.ts';
import { type Hold, LiveHolds } from './liveHold.ts';
import { ReplayMirror } from './replayMirror.ts';
import { type JoinOptions, leaveAllChannels, presenceJoined, subscribe, unsubscribe } from './subscriptions.ts';
import { V2Fanout } from './v2Fanout.ts';
import { V2Message } from './v2Message.ts';

type Ws = WebSocket<UwsUserData>;

export interface WsServerDeps {
  config: Config;
  workerIndex: number;
  quota: ConnectionQuota;
  ipQuota: IpQuota;
  counters: WorkerCounters;
  channelCounts: ChannelCounts;
  log: Logger;
  toPrimary: (m: WorkerToPrimary) => void;
  /** True once the host is shutting down: upgrades are refused with 503. */
  isDraining: () => boolean;
}

export class WsServer {
  /** Open sockets of this worker by socket_id (used for exclusion, heartbeats and draining). */
  readonly sockets = new Map<string, SocketState>();
  /** Signed-in sockets by `${appIndex}\n${userId}` (terminate_connections, watchlist replies). */
  readonly users = new Map<string, Set<SocketState>>();
  readonly channels: LocalChannels;
  readonly cache = new CacheMirror();
  /** Presence joins waiting for the primary, by request id. */
  readonly pendingJoins = new Map<number, { s: SocketState; channel: string; userId: string; options: JoinOptions }>();
  readonly replay: ReplayMirror;
  /** V2 subscriptions of freshly connected sockets whose live delivery waits for a resume. */
  readonly holds: LiveHolds;
  readonly fanout: V2Fanout;
  nextRequestId = 1;
  app!: TemplatedApp;

  private readonly appsByKey = new Map<string, { app: AppConfig; index: number }>();
  private readonly ids: SocketIdAllocator;
  private readonly channelTypeIndex = new Map(CHANNEL_TYPES.map((t, i) => [t, i]));
  private readonly maxPayload: number;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(readonly deps: WsServerDeps) {
    deps.config.apps.forEach((app, index) => this.appsByKey.set(app.key, { app, index }));
    this.ids = new SocketIdAllocator(deps.workerIndex);
    this.maxPayload = deps.config.websocket_max_payload_kb * 1024;
    this.channels = new LocalChannels(deps.channelCounts, deps.workerIndex, deps.toPrimary);
    const recovery = deps.config.connection_recovery;
    this.replay = new ReplayMirror(recovery.max_buffer_size, recovery.buffer_ttl_seconds * 1000);
    this.holds = new LiveHolds((s, holds) => this.releaseHolds(s, holds), recovery.max_buffer_size);
    this.fanout = new V2Fanout(this.replay);
    this.appIds = deps.config.apps.map((a) => a.id);
    this.v2Sockets = deps.config.apps.map(() => 0);
    this.filterSuppressed = deps.config.apps.map((_, app) => (n: number) => deps.counters.add(app, FIELD.filterSuppressed, n));
  }
  private readonly appIds: string[];
  /**
   * Per app: open V2 sockets on this thread. With none, a V2 message has nobody here to reach (no topic, filter
   * group, hold or signed-in user), so only the replay mirror takes it and no topic is looked up.
   */
  private readonly v2Sockets: number[];
  /** Per app: counts subscriptions a V2 filter kept a message from. */
  private readonly filterSuppressed: ((sockets: number) => void)[];

  attach(app: TemplatedApp): void {
    this.app = app;
    const { config } = this.deps;
    const idle = Math.min(960, Math.ceil((config.activity_timeout + config.pong_timeout + 10) / 4) * 4);
    app.ws<UwsUserData>('/app/:key', {
      compression: uws().DISABLED,
      // uWS drops a socket silently (1006) past its own limit, so it gets headroom and our limit is
      // enforced in onMessage with a proper 1009 close; frames past 4x the limit still drop at once.
      maxPayloadLength: config.websocket_max_payload_kb * 1024 * 4,
      // Our soft limit (the sweep closes with 4100) is websocket_max_backpressure_kb; uWS's hard limit,
      // twice that, drops a socket that fills up faster than the sweep runs.
      maxBackpressure: config.websocket_max_backpressure_kb * 1024 * 2,
      closeOnBackpressureLimit: 1,
      idleTimeout: idle,
      // Heartbeats are ours (sweep): app-level pings for V1, native pings for V2, both closing with 4201.
      sendPingsAutomatically: false,
      upgrade: (res, req, context) => {
        if (this.deps.isDraining()) {
          res.writeStatus('503 Service Unavailable').writeHeader('Content-Type', 'text/plain').end('Server is shutting down');
          return;
        }
        const key = req.getParameter(0) ?? '';
        const protocol: ProtocolVersion = req.getQuery('protocol') === '2' ? 2 : 1;
        const state = this.admit(key, protocol);
        if (req.getQuery('echo_messages') === 'false') state.echo = false;
        this.admitAddress(state, res);
        const userData: UwsUserData = { state };
        res.upgrade(
          userData,
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws) => this.onOpen(ws),
      message: (ws, message, isBinary) => this.onMessage(ws, message, isBinary),
      close: (ws) => this.onClose(ws),
      // Native control frames count as activity; a pong answers our V2 heartbeat ping.
      ping: (ws) => this.touch(ws.getUserData().state),
      pong: (ws) => this.touch(ws.getUserData().state),
    });
    setInterval(() => this.replay.sweep(Date.now()), Math.max(1000, (config.connection_recovery.buffer_ttl_seconds * 1000) / 4)).unref();
    // Four times a second: heartbeats, sign-in deadlines and slow consumers are all bounded by it.
    const sweepMs = Math.min(250, (config.activity_timeout * 1000) / 4);
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  /** Decides at upgrade time whether the socket will be served or refused with a coded error once open. */
  private admit(key: string, protocol: ProtocolVersion): SocketState {
    const now = Date.now();
    const found = this.appsByKey.get(key);
    const refuse = (why: WsErrorName, app: AppConfig | null = null, index = this.deps.config.apps.length) => new SocketState('', app, index, protocol, why, now);
    if (!found) return refuse('appNotFound');
    if (!found.app.enabled) return refuse('appDisabled', found.app, found.index);
    const verdict = this.deps.quota.acquire(found.index, found.app.limits.max_connections, this.deps.config.max_connections);
    if (verdict === 'host') return refuse('overCapacity', found.app, found.index);
    if (verdict === 'app') return refuse('appOverQuota', found.app, found.index);
    return new SocketState(this.ids.next(), found.app, found.index, protocol, null, now);
  }

  /** The per-address cap, after the app's: a refused socket gives its app place back. */
  private admitAddress(state: SocketState, res: { getRemoteAddressAsText(): ArrayBuffer }): void {
    const limit = this.deps.config.max_connections_per_ip;
    if (limit === 0 || state.rejection) return;
    const bucket = IpQuota.bucket(Buffer.from(res.getRemoteAddressAsText()).toString());
    if (this.deps.ipQuota.acquire(bucket, limit)) {
      state.ipBucket = bucket;
      return;
    }
    this.deps.quota.release(state.appIndex);
    state.rejection = 'ipOverQuota';
  }

  private onOpen(ws: Ws): void {
    const s = ws.getUserData().state;
    s.ws = ws;
    if (s.rejection) {
      this.deps.log.debug({ reason: s.rejection }, 'connection refused');
      return this.closeWith(s, s.rejection);
    }
    this.sockets.set(s.socketId, s);
    if (s.protocol === 2) this.v2Sockets[s.appIndex]++;
    this.deps.counters.add(s.appIndex, FIELD.newConnections);
    this.send(s, connectionEstablished(s.protocol, s.socketId, this.deps.config.activity_timeout));
  }

  private onClose(ws: Ws): void {
    const s = ws.getUserData().state;
    s.closed = true;
    s.ws = null;
    if (s.rejection) return;
    this.sockets.delete(s.socketId);
    if (s.protocol === 2) this.v2Sockets[s.appIndex]--;
    this.holds.forget(s);
    this.deps.quota.release(s.appIndex);
    if (s.ipBucket >= 0) this.deps.ipQuota.release(s.ipBucket);
    this.deps.counters.add(s.appIndex, FIELD.disconnections);
    // uWS drops the topic subscriptions itself; the bookkeeping (counts, presence) is ours.
    leaveAllChannels(this, s);
    if (s.userId !== null) signout(this, s);
  }

  private onMessage(ws: Ws, message: ArrayBuffer, isBinary: boolean): void {
    const s = ws.getUserData().state;
    if (s.rejection || s.closed) return;
    this.touch(s);
    this.deps.counters.add(s.appIndex, FIELD.wsMessagesReceived);
    this.deps.counters.add(s.appIndex, FIELD.socketBytesReceived, message.byteLength);
    if (message.byteLength > this.maxPayload) {
      s.closed = true;
      return ws.end(1009, 'Message too big');
    }
    if (isBinary) return this.sendError(s, 'binaryFrame');

    const frame = parseClientFrame(message);
    if (!frame.ok) return this.sendError(s, frame.error, frame.detail);
    switch (canonicalEvent(frame.event)) {
      case 'ping':
        return this.send(s, PONG[s.protocol]);
      case 'pong':
        return; // activity already recorded
      case 'subscribe':
        return subscribe(this, s, frame.data);
      case 'unsubscribe':
        return unsubscribe(this, s, frame.data);
      case 'signin':
        return handleSignin(this, s, frame.data);
      case 'resume':
        return handleResume(this, s, frame.data);
      default:
        if (frame.event.startsWith('client-')) return handleClientEvent(this, s, frame.event, frame.channel, frame.data, frame.extras);
      // Unknown events are ignored, as Pusher and Sockudo do.
    }
  }

  /** Messages from the primary that concern sockets. */
  onPrimaryMessage(m: Extract<PrimaryToWorker, { type: 'slot-released' | 'presence-joined' | 'terminate-user' | 'watchlist' }>): void {
    switch (m.type) {
      case 'slot-released':
        return this.channels.released(m.slot);
      case 'presence-joined':
        return presenceJoined(this, m);
      case 'terminate-user':
        for (const s of this.users.get(`${m.app}\n${m.userId}`) ?? []) this.closeWith(s, 'terminated');
        return;
      case 'watchlist': {
        const s = this.sockets.get(m.socketId);
        if (s && m.onlineUserIds.length > 0) this.send(s, watchlistEvents(s.protocol, [{ name: 'online', user_ids: m.onlineUserIds }]));
        return;
      }
    }
  }

  countSubscription(s: SocketState, channel: string, base: number): void {
    this.deps.counters.add(s.appIndex, base + (this.channelTypeIndex.get(channelType(channel)) ?? 0));
  }

  /** Hands frames the primary serialized once to uWS: one native publish per topic, no per-subscriber JS. */
  publish(frames: readonly TopicFrame[], handedOverAt?: number): void {
    let delivered = -1;
    for (const f of frames) {
      if (f.cacheTtlMs) this.cache.store(f.topic, f.frame, f.cacheTtlMs);
      let recipients: number;
      if (f.v2) {
        recipients = this.deliverV2(f.app, f.topic, V2Message.built(f.v2, f.frame), f.exclude);
      } else {
        recipients = this.publishTopic(f.topic, f.frame, f.exclude);
      }
      if (recipients > 0) this.countSent(f.app, recipients, f.frame.length);
      if (f.alsoV2) recipients += this.deliverDerivedV2(f, f.alsoV2);
      if (recipients > 0) delivered = f.app;
    }
    if (delivered >= 0) this.delivered(delivered, handedOverAt);
  }

  /** A publish with recipients went out; sockudo_broadcast_latency_ms from the primary handing it over. */
  private delivered(app: number, handedOverAt: number | undefined): void {
    this.lastBroadcastAt = performance.now();
    if (handedOverAt !== undefined) this.deps.counters.observeLatency(app, performance.timeOrigin + this.lastBroadcastAt - handedOverAt);
  }

  /** When this thread last handed a publish with recipients to uWS (performance.now()). */
  private lastBroadcastAt = Number.NEGATIVE_INFINITY;

  /** Whether a publish with recipients went out here within the last `ms`: publishes are coming in a stream. */
  broadcastWithin(ms: number): boolean {
    return performance.now() - this.lastBroadcastAt < ms;
  }

  /**
   * The V1 frames of an HTTP publish this worker admitted, to its own sockets, before the primary has it
   * (worker/localPublishOrder.ts decides when); the same bytes the primary builds for the other workers.
   */
  deliverAdmitted(app: number, events: readonly PublishEvent[]): void {
    const started = performance.now();
    const appId = this.appIds[app];
    let delivered = false;
    for (const e of events) {
      const nameJson = JSON.stringify(e.name);
      const dataJson = JSON.stringify(e.data);
      for (const channel of e.channels) {
        const frame = publishedV1Frame(nameJson, channel, dataJson);
        if (this.deliverV1(app, appId, channel, frame, e.socketId)) delivered = true;
      }
    }
    if (!delivered) return;
    this.lastBroadcastAt = performance.now();
    // sockudo_broadcast_latency_ms: here no thread hands anything over; this is the time uWS took the frames in.
    this.deps.counters.observeLatency(app, this.lastBroadcastAt - started);
  }

  /**
   * An HTTP publish this worker admitted, once the primary has taken it and given each message its id and V2
   * position: the frames the primary builds for the other workers, built here from the events parsed at
   * admission (the primary sends this thread a few columns instead of the frames). `v1Delivered`: the V1
   * frames went out at admission (deliverAdmitted); the V2 side is left.
   */
  deliverOwnPublish(app: number, events: readonly PublishEvent[], positions: OwnPublishPositions, v1Delivered: boolean, handedOverAt: number): void {
    const appId = this.appIds[app];
    let delivered = false;
    let k = 0;
    for (const e of events) {
      const nameJson = JSON.stringify(e.name);
      const dataJson = JSON.stringify(e.data);
      for (const channel of e.channels) {
        const frame = publishedV1Frame(nameJson, channel, dataJson);
        if (!v1Delivered && this.deliverV1(app, appId, channel, frame, e.socketId)) delivered = true;
        const positioned = positions.serials[k] !== NO_SERIAL;
        const meta = v2Meta(channel, e.name, positions.messageIds[k], e.ephemeral, positions.publishedAt, positioned ? positions.streamIds[k] : undefined, positioned ? positions.serials[k] : undefined, e.tags, e.extras);
        k++;
        const message = V2Message.fromV1(meta, frame);
        const recipients = this.deliverV2(app, publishTopic(2, appId, channel), message, e.socketId);
        if (recipients > 0) {
          this.countSent(app, recipients, message.frame.length);
          delivered = true;
        }
      }
    }
    if (delivered) this.delivered(app, handedOverAt);
  }

  /** One V1 frame of an HTTP publish to this thread's subscribers; whether anyone got it. */
  private deliverV1(app: number, appId: string, channel: string, frame: string, exclude: string | undefined): boolean {
    const recipients = this.publishTopic(publishTopic(1, appId, channel), frame, exclude);
    if (recipients > 0) this.countSent(app, recipients, frame.length);
    return recipients > 0;
  }

  /** The V2 side of an HTTP publish's V1 frame; returns its recipients. */
  private deliverDerivedV2(f: TopicFrame, meta: V2Meta): number {
    const message = V2Message.fromV1(meta, f.frame);
    const topic = publishTopic(2, this.appIds[f.app], meta.channel);
    if (f.cacheTtlMs) this.cache.store(topic, message.frame, f.cacheTtlMs);
    const recipients = this.deliverV2(f.app, topic, message, f.exclude);
    if (recipients > 0) this.countSent(f.app, recipients, message.frame.length);
    return recipients;
  }

  /** A V2 channel message to this thread's V2 sockets (none to look for when the app has none here) and the replay mirror. */
  private deliverV2(app: number, topic: string, message: V2Message, exclude: string | undefined): number {
    const appId = this.appIds[app];
    if (this.v2Sockets[app] === 0) {
      this.fanout.record(appId, message);
      return 0;
    }
    return this.fanout.deliver(appId, topic, message, exclude, this.publishTopic, this.reaches, this.filterSuppressed[app]);
  }

  private countSent(app: number, recipients: number, frameLength: number): void {
    this.deps.counters.add(app, FIELD.wsMessagesSent, recipients);
    this.deps.counters.add(app, FIELD.socketBytesSent, recipients * frameLength);
  }


  /** Whether a publish on `topic` would reach anyone on this thread (a subscriber, or a held subscription). */
  private readonly reaches = (topic: string): boolean => this.app.numSubscribers(topic) > 0 || this.holds.holding(topic);

  /** One native publish, skipping the socket `exclude` when it holds the topic; returns the recipients. */
  private readonly publishTopic = (topic: string, frame: string, exclude: string | undefined): number => {
    const held = this.holds.collect(topic, frame, exclude);
    let recipients = this.app.numSubscribers(topic);
    if (recipients === 0) return held;
    const excluded = exclude ? this.sockets.get(exclude)?.ws : undefined;
    if (excluded?.isSubscribed(topic)) {
      // ws.publish skips the publishing socket itself (and publishes nothing from a socket without topics).
      recipients--;
      excluded.publish(topic, frame);
    } else {
      this.app.publish(topic, frame);
    }
    return recipients + held;
  };

  /** Ends a socket's held subscriptions: the live frames collected meanwhile, then the topics themselves. */
  private releaseHolds(s: SocketState, holds: Hold[]): void {
    for (const h of holds) {
      // Counted in the metrics when collected (publishTopic counts held sockets among the recipients; a socket that
      // closes during its hold leaves a few counted, unsent).
      if (s.ws && !s.closed) for (const frame of h.frames) s.ws.send(frame);
      s.ws?.subscribe(h.topic);
    }
  }

  /**
   * Heartbeats: a ping after activity_timeout of client silence, close 4201 without an answer within
   * pong_timeout. Sign-in deadline: apps that require user authentication close unauthorized sockets.
   */
  private sweep(): void {
    const now = Date.now();
    this.channels.sweep(now);
    const { config } = this.deps;
    const activityMs = config.activity_timeout * 1000;
    const pongMs = config.pong_timeout * 1000;
    const signinMs = config.user_authentication_timeout * 1000;
    const maxBuffered = config.websocket_max_backpressure_kb * 1024;
    for (const s of this.sockets.values()) {
      if (s.ws && s.ws.getBufferedAmount() > maxBuffered) {
        this.closeWith(s, 'slowConsumer');
        continue;
      }
      if (s.pingSentAt !== 0) {
        if (now - s.pingSentAt >= pongMs) this.closeWith(s, 'pongTimeout');
      } else if (s.protocol === 1 && now - s.lastActivity >= activityMs) {
        s.pingSentAt = now;
        this.send(s, PING[1]);
      } else if (s.protocol === 2 && now - s.lastActivity >= activityMs / 2) {
        // V2 uses native WebSocket pings (as Sockudo: half the activity timeout); the pong is activity.
        s.pingSentAt = now;
        s.ws?.ping();
      }
      if (!s.authorized && s.app?.features.require_user_authentication && now - s.connectedAt >= signinMs) this.closeWith(s, 'signinTimeout');
    }
  }

  /** Sends the error frame, then closes with its code. */
  closeWith(s: SocketState, name: WsErrorName): void {
    const ws = s.ws;
    if (!ws || s.closed) return;
    const e = WS_ERRORS[name];
    this.countError(s, name);
    ws.cork(() => {
      ws.send(errorFrame(s.protocol, e.code, e.message));
      ws.end(e.code, e.message);
    });
  }

  private countError(s: SocketState, name: WsErrorName): void {
    this.deps.counters.add(s.appIndex, FIELD.errors + errorTypeIndex(WS_ERRORS[name].code, name === 'missingEvent'));
  }

  /** Sends a control frame; on V2 it gets a fresh message_id (never on ping/pong). */
  send(s: SocketState, frame: string): void {
    this.sendChannelFrame(s, s.protocol === 2 && frame !== PONG[2] && frame !== PING[2] ? withMessageId(frame, randomUUID()) : frame);
  }

  /** Sends a frame as it is (channel messages already carry their ids). */
  sendChannelFrame(s: SocketState, frame: string): void {
    if (!s.ws || s.closed) return;
    s.ws.send(frame);
    this.deps.counters.add(s.appIndex, FIELD.wsMessagesSent);
    this.deps.counters.add(s.appIndex, FIELD.socketBytesSent, frame.length);
  }

  private touch(s: SocketState): void {
    s.lastActivity = Date.now();
    s.pingSentAt = 0;
  }

  sendError(s: SocketState, name: WsErrorName, detail?: string): void {
    this.countError(s, name);
    this.send(s, namedError(s.protocol, name, detail));
  }

  stop(): void {
    clearInterval(this.sweepTimer);
  }
}
