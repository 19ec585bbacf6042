// Subscribe and unsubscribe on a worker: public, private (HMAC checked here), presence (membership owned by
// the primary, one round trip), cache channels (last event from the local mirror) and server-to-user.
import { randomUUID } from 'node:crypto';
import { channelAuthValid } from '../auth/hmac.ts';
import { parsePresenceData } from '../channels/presenceData.ts';
import type { AppConfig } from '../config/schema.ts';
import type { PresenceJoined, PresenceLeave } from '../ipc/messages.ts';
import { FIELD } from '../metrics/workerCounters.ts';
import { channelNameError, isCacheChannel, isPresenceChannel, requiresAuth } from '../protocol/channels.ts';
import { dataObject } from '../protocol/clientFrame.ts';
import { type CompiledFilter, compileFilter, wildcardError } from '../protocol/filters.ts';
import { EMPTY_DATA_JSON, cacheMiss, subscriptionSucceeded, subscriptionSucceededV2 } from '../protocol/frames.ts';
import { SERVER_TO_USER_PREFIX, topicFor, userTopic } from '../protocol/topics.ts';
import { parseRewind, sendRewind, sendWildcardRewind } from './recovery.ts';
import { applyPendingUpdates } from './presenceUpdate.ts';
import { addUserSocket } from './signin.ts';
import { type SocketState, type Subscription, writableChannels, writablePendingPresence, writablePresence } from './socketState.ts';
import type { WsServer } from './wsServer.ts';

/** Longest presence channel_data a socket remembers with its last verified auth (characters). */
const MAX_REMEMBERED_CHANNEL_DATA = 256;

export function subscribe(core: WsServer, s: SocketState, data: unknown): void {
  const app = s.app as AppConfig;
  const d = subscriptionData(data);
  if (typeof d === 'string') return core.sendError(s, 'invalidMessage', `Invalid message format: ${d}`);
  const channel = d.channel;
  if (channel === '') return core.sendError(s, 'missingChannel');
  // V2-only subscribe options: filter, rewind, wildcard channels.
  const filterSpec = d.filter ?? d.tags_filter;
  const rewindSpec = d.rewind;
  const wildcard = channel.includes('*');
  // null is absent, as for V2 (a V1 client library may send the field empty).
  if (s.protocol === 1) {
    // Sockudo's own text for a rewind (SOCKUDO-REFERENCE §3.6); wildcards are V2-only too.
    if (rewindSpec !== undefined && rewindSpec !== null) return core.sendError(s, 'invalidChannel', 'Channel rewind is only supported on protocol V2');
    if (wildcard) return core.sendError(s, 'invalidChannel', 'Channel error: Wildcard subscriptions are only supported on protocol V2');
  }
  let filter: CompiledFilter | undefined;
  // A V1 subscription's filter is ignored, as Sockudo ignores it (only V2 delivery consults filters).
  if (filterSpec !== undefined && filterSpec !== null && s.protocol === 2) {
    const compiled = compileFilter(filterSpec);
    if (!compiled.ok) return core.sendError(s, 'invalidChannel', `Channel error: ${compiled.message}`);
    filter = compiled.filter;
  }
  const rewind = rewindSpec === undefined || rewindSpec === null ? undefined : parseRewind(rewindSpec);
  if (rewind === null) return core.sendError(s, 'invalidMessage', 'Invalid message format: Invalid rewind option in subscription data');
  const nameError = wildcard ? wildcardError(channel) : channelNameError(channel, app.limits.max_channel_name_length);
  if (nameError) return core.sendError(s, 'invalidChannel', `Channel error: ${nameError}`);
  if (wildcard) {
    if (join(core, s, channel, EMPTY_DATA_JSON, { filter, wildcard: true }) && rewind) sendWildcardRewind(core, s, channel);
    return;
  }

  if (channel.startsWith(SERVER_TO_USER_PREFIX)) {
    // A public channel to Sockudo, and a formality: delivery goes to the sockets signed in (or presence-identified) as
    // the user (see signin.ts), never to a subscriber as such, so any socket may subscribe and none learns anything.
    return core.send(s, subscriptionSucceeded(s.protocol, channel));
  }

  const presence = isPresenceChannel(channel);
  if (requiresAuth(channel)) {
    const auth = d.auth;
    // Only a missing signature is "required"; an empty one is checked, and fails, like any wrong one (Sockudo).
    if (typeof auth !== 'string') return core.sendError(s, 'authRequired');
    const channelData = presence && typeof d.channel_data === 'string' ? d.channel_data : undefined;
    // The signature is a pure function of socket_id, channel, channel_data and the app secret, so the same
    // auth for the same channel on the same socket (a leave and re-join) needs no second HMAC.
    const last = s.verifiedAuth;
    if (last === null || last.channel !== channel || last.auth !== auth || last.channelData !== channelData) {
      if (!channelAuthValid(app.key, app.secret, s.socketId, channel, auth, channelData)) return core.sendError(s, 'unauthorized');
      // Large member data is not kept alive per socket for this (idle sockets must stay small).
      s.verifiedAuth = (channelData?.length ?? 0) <= MAX_REMEMBERED_CHANNEL_DATA ? { channel, auth, channelData } : null;
    }
  }
  if (!presence) {
    join(core, s, channel, EMPTY_DATA_JSON, { filter, rewind });
    return;
  }

  if (d.channel_data === undefined || d.channel_data === null || d.channel_data === '') {
    return core.sendError(s, 'invalidMessage', 'Invalid message format: Missing channel_data for presence channel');
  }
  const member = parsePresenceData(d.channel_data, app.limits.max_presence_member_size_in_kb);
  if (!member.ok) return core.sendError(s, 'invalidPresenceData', member.message);
  const joinedAs = s.presence.get(channel);
  if (joinedAs !== undefined && joinedAs !== member.userId) {
    return core.sendError(s, 'invalidPresenceData', 'Channel error: this connection already joined the channel as another user');
  }
  const inFlight = joinInFlight(core, s, channel);
  if (inFlight) {
    // One join per socket and channel at the primary at a time: two in flight would both count the socket
    // (with several hosts, in Redis, which counts sockets per user), and only one would ever be undone.
    if (inFlight.wanted) {
      // Subscribed twice before the answer: the first join stands, and the answer confirms each subscribe.
      if (inFlight.userId !== member.userId) return core.sendError(s, 'invalidPresenceData', 'Channel error: this connection already joined the channel as another user');
      inFlight.repeats++;
      return;
    }
    // Unsubscribed while the join was on its way, and subscribing again: the same user takes that join back,
    // unless the unsubscribe also took the socket's earlier membership away (the primary has the leave after the
    // join, so the join's answer no longer means a member). Otherwise a join goes once this one is answered.
    if (inFlight.userId === member.userId && !inFlight.leftAfter) {
      inFlight.wanted = true;
      inFlight.options = { filter, rewind };
    } else inFlight.next = { userId: member.userId, userInfo: member.userInfo, options: { filter, rewind } };
    return;
  }
  sendPresenceJoin(core, s, channel, member.userId, member.userInfo, { filter, rewind });
}

/** The socket's join of `channel` still waiting for the primary's answer, if any. */
export function joinInFlight(core: WsServer, s: SocketState, channel: string): PendingJoin | undefined {
  const requestId = s.pendingPresence.get(channel);
  return requestId === undefined ? undefined : core.pendingJoins.get(requestId);
}

/** A presence join, as it is to come back to the primary: what the worker keeps until the answer arrives. */
export interface PendingJoin {
  s: SocketState;
  channel: string;
  userId: string;
  options: JoinOptions;
  /** False once the socket unsubscribed (or closed) while the join was on its way: the answer undoes it. */
  wanted: boolean;
  /** The socket was a member already and its leave went to the primary after this join: it cannot be taken back. */
  leftAfter: boolean;
  /** Further subscribes of the same user while it was on its way: each gets its own subscription_succeeded. */
  repeats: number;
  /** Subscribed again, as another user, while an unwanted join was on its way: sent once that one is undone. */
  next?: { userId: string; userInfo: unknown; options: JoinOptions };
  /** presence_updates sent before the answer (worker/presenceUpdate.ts): they apply to this join once it stands. */
  updates?: unknown[];
}

function sendPresenceJoin(core: WsServer, s: SocketState, channel: string, userId: string, userInfo: unknown, options: JoinOptions): void {
  const app = s.app as AppConfig;
  // Refused here, before the primary makes the socket a member and tells the channel (joins in flight count).
  if (!s.channels.has(channel) && subscriptionsTaken(core, s) >= app.limits.max_subscriptions_per_socket) return core.sendError(s, 'tooManySubscriptions');
  const requestId = core.nextRequestId++;
  writablePendingPresence(s).set(channel, requestId);
  core.pendingJoins.set(requestId, { s, channel, userId, options, wanted: true, leftAfter: false, repeats: 0 });
  core.deps.presenceToPrimary({
    type: 'presence-join',
    requestId,
    worker: core.deps.workerIndex,
    app: s.appIndex,
    channel,
    socketId: s.socketId,
    protocol: s.protocol,
    userId,
    userInfo,
  });
}

/** The socket's subscriptions, and the presence joins it is waiting for on channels it does not hold yet. */
function subscriptionsTaken(core: WsServer, s: SocketState): number {
  let taken = s.channels.size;
  for (const [channel, requestId] of s.pendingPresence) {
    if (!s.channels.has(channel) && core.pendingJoins.get(requestId)?.wanted) taken++;
  }
  return taken;
}

/** The primary's answer to a presence join. */
export function presenceJoined(core: WsServer, m: PresenceJoined): void {
  const pending = core.pendingJoins.get(m.requestId);
  if (!pending) return;
  core.pendingJoins.delete(m.requestId);
  const { s, channel, userId, options, next } = pending;
  s.pendingPresence.delete(channel);
  if (!pending.wanted || s.closed) {
    // Unsubscribed or disconnected while the join was in flight: undo it, then join as the next user, if any. The
    // updates it was sent before the unsubscribe or close go first, as the member they were sent as.
    if (m.ok && !s.presence.has(channel)) {
      applyPendingUpdates(core, s, channel, userId, pending.updates);
      core.deps.presenceToPrimary({ type: 'presence-leave', app: s.appIndex, channel, socketId: s.socketId, userId });
    }
    if (next && !s.closed) sendPresenceJoin(core, s, channel, next.userId, next.userInfo, next.options);
    return;
  }
  if (!m.ok) {
    core.sendError(s, m.reason === 'full' ? 'presenceFull' : 'presenceUnavailable');
    return applyPendingUpdates(core, s, channel, undefined, pending.updates);
  }
  const newMembership = !s.presence.has(channel);
  if (newMembership) writablePresence(s).set(channel, userId);
  if (!join(core, s, channel, m.dataJson, options)) {
    if (newMembership) leavePresence(core, s, channel);
    return applyPendingUpdates(core, s, channel, undefined, pending.updates);
  }
  for (let i = 0; i < pending.repeats; i++) join(core, s, channel, m.dataJson, options);
  if (newMembership) identifyByPresence(core, s, userId);
  applyPendingUpdates(core, s, channel, userId, pending.updates);
}

/**
 * A socket not signed in is identified as the user of its first presence join: server-to-user events reach it, and
 * terminate_connections / force_reconnect of that user close it.
 */
function identifyByPresence(core: WsServer, s: SocketState, userId: string): void {
  if (s.userId !== null || s.presenceUserId !== null) return;
  s.presenceUserId = userId;
  // Nothing held here can be for it: join() let the held publishes out just before.
  s.ws?.subscribe(userTopic(s.protocol, (s.app as AppConfig).id, userId));
  addUserSocket(core, s, userId);
}

export interface JoinOptions {
  filter?: CompiledFilter;
  rewind?: { count?: number; seconds?: number };
  wildcard?: boolean;
}

/** Subscribes the socket to the channel's topic and confirms; false if a limit refused it. */
function join(core: WsServer, s: SocketState, channel: string, succeededDataJson: string, options: JoinOptions = {}): boolean {
  // Publishes held here (worker/fanoutHold.ts) came before this subscription, a presence member_added among them:
  // out first, while the socket still has the subscription it had (none, or the one a new filter replaces).
  core.delivery.flushHeld();
  const app = s.app as AppConfig;
  const wildcard = options.wildcard === true;
  const current = s.channels.get(channel);
  // A V2 re-subscribe with another filter replaces the old subscription.
  if (current && s.protocol === 2 && current.filter?.key !== options.filter?.key) {
    core.holds.drop(s, channel);
    s.ws?.unsubscribe(current.topic);
    core.fanout.leave(app.id, channel, current.filter, current.wildcard, s);
    s.channels.delete(channel);
    if (!wildcard) core.channels.remove(s.appIndex, channel);
  }
  if (!s.channels.has(channel)) {
    if (subscriptionsTaken(core, s) >= app.limits.max_subscriptions_per_socket) {
      core.sendError(s, 'tooManySubscriptions');
      return false;
    }
    if (!wildcard && !core.channels.add(s.appIndex, channel)) {
      core.sendError(s, 'channelCapacity');
      return false;
    }
    const topic =
      s.protocol === 1
        ? topicFor(1, app.id, channel)
        : wildcard
          ? core.fanout.joinWildcard(app.id, channel, options.filter, s)
          : core.fanout.join(app.id, channel, options.filter);
    writableChannels(s).set(channel, { topic, filter: options.filter, wildcard });
    const recovery = core.deps.config.connection_recovery.enabled;
    // A fresh V2 socket may be reconnecting: its resume decides what it missed (see liveHold.ts).
    if (recovery && !wildcard && !options.rewind && core.holds.shouldHold(s, Date.now())) core.holds.hold(s, channel, topic, streamPosition(core, s, channel));
    else s.ws?.subscribe(topic);
    core.countSubscription(s, channel, FIELD.subscriptions);
  }
  if (requiresAuth(channel)) s.authorized = true;
  if (s.protocol === 2 && core.deps.config.connection_recovery.enabled && !wildcard) {
    const position = streamPosition(core, s, channel);
    core.send(s, subscriptionSucceededV2(channel, succeededDataJson, position.streamId, position.serial));
  } else {
    core.send(s, subscriptionSucceeded(s.protocol, channel, succeededDataJson));
  }
  if (isCacheChannel(channel)) {
    const cached = core.cache.get(topicFor(s.protocol, app.id, channel));
    // Loaded from the cluster at start-up (adapter/clusterCache.ts), an event is kept as its V1 frame only: a V2
    // subscriber gets it as a frame to one socket, with a fresh message_id.
    const loaded = cached === undefined && s.protocol === 2 ? core.cache.get(topicFor(1, app.id, channel)) : undefined;
    // A cache hit is a frame to one socket: with recovery off it has no message_id of its own, so send() gives it one.
    if (cached) core.deps.config.connection_recovery.enabled ? core.sendChannelFrame(s, cached) : core.send(s, cached);
    else if (loaded) core.send(s, loaded);
    else {
      core.send(s, cacheMiss(s.protocol, channel));
      if (app.webhooks.length > 0) core.deps.toPrimary({ type: 'cache-miss', app: s.appIndex, channel });
    }
  }
  if (options.rewind) sendRewind(core, s, channel, options.rewind, options.filter);
  return true;
}

/**
 * The channel's current V2 position, for a V2 subscriber to resume from. A channel with no stream kept here (nothing
 * published within the replay window) gets one opened now, at serial 0, and the primary is told: it makes that the
 * channel's stream unless it has one, and hands every worker the stream that stands (Publisher.streamOpened).
 */
function streamPosition(core: WsServer, s: SocketState, channel: string): { streamId: string; serial: number } {
  const appId = (s.app as AppConfig).id;
  const now = Date.now();
  const kept = core.replay.position(appId, channel, now);
  if (kept) return kept;
  const opened = core.replay.open(appId, channel, randomUUID(), 0, now);
  core.deps.toPrimary({ type: 'stream-opened', app: s.appIndex, channel, streamId: opened.streamId });
  return opened;
}

export function unsubscribe(core: WsServer, s: SocketState, data: unknown): void {
  if (data === undefined || data === null) return core.sendError(s, 'invalidMessage', 'Invalid message format: Missing data in unsubscribe message');
  // A string `data` is taken as the channel name itself (Sockudo does the same).
  const channel = typeof data === 'string' && !data.startsWith('{') ? data : dataObject(data)?.channel;
  if (typeof channel !== 'string') return core.sendError(s, 'invalidMessage', 'Invalid message format: Missing channel in unsubscribe message');
  const inFlight = joinInFlight(core, s, channel);
  if (inFlight) {
    // The join's answer will be undone (a member re-subscribing is also unsubscribed from what it had).
    inFlight.wanted = false;
    inFlight.next = undefined;
    inFlight.repeats = 0;
    // A member's leave goes out below, after the join: the primary will have it leave, whatever the join's answer.
    if (s.presence.has(channel)) inFlight.leftAfter = true;
  }
  const sub = s.channels.get(channel);
  if (!sub) return;
  s.channels.delete(channel);
  core.holds.drop(s, channel);
  s.ws?.unsubscribe(sub.topic);
  forget(core, s, channel, sub);
}

/**
 * On close: uWS has dropped the topics; release counts and presence memberships, the latter after `leaseMs`
 * when the socket dropped without a clean close (WsServer.presenceLeaseMs).
 */
export function leaveAllChannels(core: WsServer, s: SocketState, leaseMs = 0): void {
  for (const [channel, sub] of s.channels) forget(core, s, channel, sub, leaseMs);
  s.channels.clear();
  s.pendingPresence.clear();
}

function forget(core: WsServer, s: SocketState, channel: string, sub: Subscription, leaseMs = 0): void {
  if (!sub.wildcard) core.channels.remove(s.appIndex, channel);
  if (s.protocol === 2) core.fanout.leave((s.app as AppConfig).id, channel, sub.filter, sub.wildcard, s);
  core.countSubscription(s, channel, FIELD.unsubscriptions);
  leavePresence(core, s, channel, leaseMs);
}

function leavePresence(core: WsServer, s: SocketState, channel: string, leaseMs = 0): void {
  const userId = s.presence.get(channel);
  if (userId === undefined) return;
  s.presence.delete(channel);
  // A lease is kept by the primary (primary/presenceLeases.ts): the member may come back on any thread.
  const leave: PresenceLeave = { type: 'presence-leave', app: s.appIndex, channel, socketId: s.socketId, userId, leaseMs };
  core.deps.presenceToPrimary(leave);
}

/**
 * A subscribe's `data`: an object with a string `channel`, or a JSON string holding one; otherwise Sockudo's reason
 * for refusing it (SubscriptionRequest::from_message), sent as "Invalid message format: …".
 */
function subscriptionData(data: unknown): (Record<string, unknown> & { channel: string }) | string {
  if (data === undefined || data === null) return 'Invalid subscription data format';
  let parsed = data;
  if (typeof data === 'string') {
    try {
      parsed = JSON.parse(data);
    } catch {
      return 'Failed to parse subscription data';
    }
  }
  const d = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  if (typeof d?.channel === 'string') return d as Record<string, unknown> & { channel: string };
  return typeof data === 'string' ? 'Missing channel field in string data' : 'Missing channel field';
}
