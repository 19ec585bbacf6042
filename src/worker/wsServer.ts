// A worker's WebSocket side: admission, the Pusher/Sockudo frame loop, heartbeats and the sign-in deadline,
// and native fan-out of frames the primary publishes. Channel, client-event and sign-in handling live in
// subscriptions.ts, clientEvents.ts and signin.ts.
import type { ConnectionQuota } from '../apps/connectionQuota.ts';
import { IpQuota } from '../apps/ipQuota.ts';
import type { ChannelCounts } from '../channels/channelCounts.ts';
import type { AppConfig, Config } from '../config/schema.ts';
import { WS_ERRORS, type WsErrorName } from '../errors.ts';
import type { PresenceJoin, PresenceJoined, PresenceLeave, PrimaryToWorker, WorkerToPrimary } from '../ipc/messages.ts';
import type { Logger } from '../log.ts';
import { FIELD, type WorkerCounters, channelTypeIndex, errorTypeIndex } from '../metrics/workerCounters.ts';
import { canonicalEvent, parseClientFrame } from '../protocol/clientFrame.ts';
import { randomUUID } from 'node:crypto';
import { PING, PONG, type ProtocolVersion, connectionEstablished, errorFrame, namedError, watchlistEvents, withMessageId } from '../protocol/frames.ts';
import { type TemplatedApp, type WebSocket, type WebSocketBehavior, uws } from '../transport/uws.ts';
import { CacheMirror } from './cacheMirror.ts';
import { handleChannelHistory } from './channelHistory.ts';
import { handlePresenceUpdate } from './presenceUpdate.ts';
import { handleClientEvent } from './clientEvents.ts';
import { LocalChannels } from './localChannels.ts';
import { pingAfterSeconds } from './heartbeat.ts';
import { handleSignin, removeUserSocket, signout } from './signin.ts';
import { SocketIdAllocator, SocketState, type UwsUserData } from './socketState.ts';
import { handleResume } from './recovery.ts';
import { type Hold, LiveHolds } from './liveHold.ts';
import { ReplayMirror } from './replayMirror.ts';
import { protocolFromQuery } from '../protocol/protocolParam.ts';
import { formatFromQuery } from '../protocol/formatParam.ts';
import { type OriginCheck, originCheck } from '../protocol/origins.ts';
import { type PendingJoin, leaveAllChannels, presenceJoined, subscribe, unsubscribe } from './subscriptions.ts';
import { ChannelDelivery } from './channelDelivery.ts';
import { V2Fanout } from './v2Fanout.ts';

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
  /** A presence join or leave for the primary (carried in a `presence-changes` of columns). */
  presenceToPrimary: (c: PresenceJoin | PresenceLeave) => void;
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
  readonly pendingJoins = new Map<number, PendingJoin>();
  readonly replay: ReplayMirror;
  /** V2 subscriptions of freshly connected sockets whose live delivery waits for a resume. */
  readonly holds: LiveHolds;
  readonly fanout: V2Fanout;
  /** Channel frames into uWS: the primary's publishes and the ones this worker answered itself. */
  readonly delivery: ChannelDelivery;
  nextRequestId = 1;
  app!: TemplatedApp;

  private readonly appsByKey = new Map<string, { app: AppConfig; index: number; origins: OriginCheck }>();
  private readonly ids: SocketIdAllocator;
  private readonly maxPayload: number;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(readonly deps: WsServerDeps) {
    deps.config.apps.forEach((app, index) => this.appsByKey.set(app.key, { app, index, origins: originCheck(app.allowed_origins) }));
    this.ids = new SocketIdAllocator(deps.workerIndex);
    this.maxPayload = deps.config.websocket_max_payload_kb * 1024;
    this.channels = new LocalChannels(deps.channelCounts, deps.workerIndex, deps.toPrimary);
    const recovery = deps.config.connection_recovery;
    this.replay = new ReplayMirror(recovery.max_buffer_size, recovery.buffer_ttl_seconds * 1000);
    this.holds = new LiveHolds((s, holds) => this.releaseHolds(s, holds), recovery.max_buffer_size);
    this.fanout = new V2Fanout(this.replay);
    this.delivery = new ChannelDelivery({ config: deps.config, counters: deps.counters, sockets: this.sockets, holds: this.holds, cache: this.cache, fanout: this.fanout, channels: this.channels });
  }

  attach(app: TemplatedApp): void {
    this.app = app;
    this.delivery.app = app;
    const { config } = this.deps;
    const silence = Math.max(pingAfterSeconds(1, config), pingAfterSeconds(2, config));
    // uWS's idle timeout (at most 960 s) is only a backstop behind our pings: past that it is off, or it would drop
    // a quiet, healthy socket before its ping.
    const backstop = Math.ceil((silence + config.pong_timeout + 10) / 4) * 4;
    const idle = backstop > 960 ? 0 : backstop;
    const behavior: WebSocketBehavior<UwsUserData> = {
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
        const protocol = protocolFromQuery(req.getQuery('protocol'));
        if (protocol === undefined) {
          res.writeStatus('400 Bad Request').writeHeader('Content-Type', 'text/plain').end('Invalid protocol: a number from 0 to 255 (2 for Protocol V2)');
          return;
        }
        if (protocol === 2) {
          const format = formatFromQuery(req.getQuery('format'));
          if (!format.ok) {
            res.writeStatus('400 Bad Request').writeHeader('Content-Type', 'application/json').end(JSON.stringify({ error: format.message, code: format.code, status: 400 }));
            return;
          }
        }
        // A boolean, as Sockudo's query parser reads it: anything but true or false is refused before the upgrade.
        const echoParam = req.getQuery('echo_messages');
        if (echoParam !== undefined && echoParam !== 'true' && echoParam !== 'false') {
          res.writeStatus('400 Bad Request').writeHeader('Content-Type', 'text/plain').end('Failed to deserialize query string: echo_messages: provided string was not `true` or `false`');
          return;
        }
        // A missing Origin header reads as "", which is how Sockudo counts it.
        const state = this.admit(key, protocol, req.getHeader('origin'));
        const echoControl = this.deps.config.echo_control;
        // With echo control off, every V2 socket gets its own client events (the parameter is ignored).
        state.echo = !echoControl.enabled || (echoParam === undefined ? echoControl.default_echo_messages : echoParam === 'true');
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
      message: (ws, message) => this.onMessage(ws, message),
      close: (ws, code) => this.onClose(ws, code),
      // Native control frames count as activity; a pong answers our V2 heartbeat ping.
      ping: (ws) => this.touch(ws.getUserData().state),
      pong: (ws) => this.touch(ws.getUserData().state),
    };
    // A trailing `/` is the same endpoint (Sockudo strips it from every path before routing).
    app.ws<UwsUserData>('/app/:key', behavior);
    app.ws<UwsUserData>('/app/:key/', behavior);
    setInterval(() => this.replay.sweep(Date.now()), Math.max(1000, (config.connection_recovery.buffer_ttl_seconds * 1000) / 4)).unref();
    // Four times a second: heartbeats, sign-in deadlines and slow consumers are all bounded by it.
    const sweepMs = Math.min(250, (config.activity_timeout * 1000) / 4);
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  /** Decides at upgrade time whether the socket will be served or refused with a coded error once open. */
  private admit(key: string, protocol: ProtocolVersion, origin: string): SocketState {
    const now = Date.now();
    const found = this.appsByKey.get(key);
    const refuse = (why: WsErrorName, app: AppConfig | null = null, index = this.deps.config.apps.length) => new SocketState('', app, index, protocol, why, now);
    if (!found) return refuse('appNotFound');
    if (!found.app.enabled) return refuse('appDisabled', found.app, found.index);
    // Before the capacity checks, as in Sockudo's admission: a refused origin takes no place.
    if (!found.origins(origin)) return refuse('originNotAllowed', found.app, found.index);
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
    if (s.protocol === 2) this.delivery.v2Sockets[s.appIndex]++;
    this.deps.counters.add(s.appIndex, FIELD.newConnections);
    this.send(s, connectionEstablished(s.protocol, s.socketId, this.deps.config.activity_timeout));
  }

  private onClose(ws: Ws, code: number): void {
    const s = ws.getUserData().state;
    s.closed = true;
    s.ws = null;
    if (s.rejection) return;
    this.sockets.delete(s.socketId);
    if (s.protocol === 2) this.delivery.v2Sockets[s.appIndex]--;
    this.holds.forget(s);
    this.deps.quota.release(s.appIndex);
    if (s.ipBucket >= 0) this.deps.ipQuota.release(s.ipBucket);
    this.deps.counters.add(s.appIndex, FIELD.disconnections);
    // uWS drops the topic subscriptions itself; the bookkeeping (counts, presence) is ours.
    leaveAllChannels(this, s, this.presenceLeaseMs(s, code));
    if (s.userId !== null) signout(this, s);
    else if (s.presenceUserId !== null) removeUserSocket(this, s, s.presenceUserId);
  }

  /**
   * How long the socket's presence memberships outlive it: Sockudo's lease for a socket that dropped without a
   * clean close (1006: no close frame; 4201: it stopped answering pings), per protocol; 0 for any other close.
   */
  private presenceLeaseMs(s: SocketState, code: number): number {
    if (code !== 1006 && code !== WS_ERRORS.pongTimeout.code) return 0;
    const lease = this.deps.config.presence;
    return (s.protocol === 2 ? lease.v2_ungraceful_timeout_seconds : lease.ungraceful_timeout_seconds) * 1000;
  }

  private onMessage(ws: Ws, message: ArrayBuffer): void {
    const s = ws.getUserData().state;
    if (s.rejection || s.closed) return;
    this.touch(s);
    this.deps.counters.add(s.appIndex, FIELD.wsMessagesReceived);
    this.deps.counters.add(s.appIndex, FIELD.socketBytesReceived, message.byteLength);
    if (message.byteLength > this.maxPayload) {
      s.closed = true;
      return ws.end(1009, 'Message too big');
    }
    const messageLimit = (s.app as AppConfig).limits.message_rate_limit;
    if (messageLimit.enabled && this.overMessageLimit(s, messageLimit.max_attempts, messageLimit.decay_seconds)) {
      return messageLimit.terminate_on_limit ? this.closeWith(s, 'messageRateLimitTerminate') : this.sendError(s, 'messageRateLimited');
    }
    // A binary frame is read as the same JSON (Sockudo decodes either kind with the connection's wire format).
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
      case 'channel_history':
        return handleChannelHistory(this, s, frame.data);
      case 'presence_update':
        return handlePresenceUpdate(this, s, frame.event, frame.data);
      default:
        if (frame.event.startsWith('client-')) return handleClientEvent(this, s, frame.event, frame.channel, frame.data, frame.extras);
      // Unknown events are ignored, as Pusher and Sockudo do.
    }
  }

  /** Counts a frame against the app's message_rate_limit window; whether it is over the limit. */
  private overMessageLimit(s: SocketState, maxAttempts: number, decaySeconds: number): boolean {
    const now = Date.now();
    if (now - s.messageWindow >= decaySeconds * 1000) {
      s.messageWindow = now;
      s.messageCount = 0;
    }
    return ++s.messageCount > maxAttempts;
  }

  /** Messages from the primary that concern sockets. */
  onPrimaryMessage(m: Extract<PrimaryToWorker, { type: 'slot-released' | 'terminate-user' | 'watchlist' }> | PresenceJoined): void {
    switch (m.type) {
      case 'slot-released':
        return this.channels.released(m.slot);
      case 'presence-joined':
        return presenceJoined(this, m);
      case 'terminate-user':
        for (const s of this.users.get(`${m.app}\n${m.userId}`) ?? []) this.closeWith(s, m.reconnect ? 'forceReconnect' : 'terminated');
        return;
      case 'watchlist': {
        // One frame per state, as Sockudo sends them: the watched users online, then those offline.
        const s = this.sockets.get(m.socketId);
        if (!s) return;
        if (m.onlineUserIds.length > 0) this.send(s, watchlistEvents(s.protocol, [{ name: 'online', user_ids: m.onlineUserIds }]));
        if (m.offlineUserIds.length > 0) this.send(s, watchlistEvents(s.protocol, [{ name: 'offline', user_ids: m.offlineUserIds }]));
        return;
      }
    }
  }

  countSubscription(s: SocketState, channel: string, base: number): void {
    this.deps.counters.add(s.appIndex, base + channelTypeIndex(channel));
  }

  /** Ends a socket's held subscriptions: the live frames collected meanwhile, then the topics themselves. */
  private releaseHolds(s: SocketState, holds: Hold[]): void {
    for (const h of holds) {
      // Counted in the metrics when collected (ChannelDelivery counts held sockets among the recipients; a socket that
      // closes during its hold leaves a few counted, unsent).
      if (s.ws && !s.closed) for (const frame of h.frames) s.ws.send(frame);
      s.ws?.subscribe(h.topic);
    }
  }

  /**
   * Heartbeats: a ping after `pingAfterSeconds` of client silence (V1 activity_timeout, V2 Sockudo's formula), close
   * 4201 without an answer within pong_timeout. Sign-in deadline: apps that require user authentication close unauthorized sockets.
   */
  private sweep(): void {
    const now = Date.now();
    this.channels.sweep(now);
    const { config } = this.deps;
    const v1PingMs = pingAfterSeconds(1, config) * 1000;
    const v2PingMs = pingAfterSeconds(2, config) * 1000;
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
      } else if (s.protocol === 1 && now - s.lastActivity >= v1PingMs) {
        s.pingSentAt = now;
        this.send(s, PING[1]);
      } else if (s.protocol === 2 && now - s.lastActivity >= v2PingMs) {
        // V2 uses native WebSocket pings (as Sockudo); the pong is activity.
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
    this.deps.counters.add(s.appIndex, FIELD.errors + errorTypeIndex(WS_ERRORS[name].code, name === 'missingEvent', name === 'originNotAllowed'));
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
