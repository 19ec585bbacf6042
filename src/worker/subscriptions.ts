// Subscribe and unsubscribe on a worker: public, private (HMAC checked here), presence (membership owned by
// the primary, one round trip), cache channels (last event from the local mirror) and server-to-user.
import { channelAuthValid } from '../auth/hmac.ts';
import { parsePresenceData } from '../channels/presenceData.ts';
import type { AppConfig } from '../config/schema.ts';
import type { PrimaryToWorker } from '../ipc/messages.ts';
import { FIELD } from '../metrics/workerCounters.ts';
import { channelNameError, isCacheChannel, isPresenceChannel, requiresAuth } from '../protocol/channels.ts';
import { dataObject } from '../protocol/clientFrame.ts';
import { cacheMiss, subscriptionSucceeded } from '../protocol/frames.ts';
import { SERVER_TO_USER_PREFIX, topicFor } from '../protocol/topics.ts';
import type { SocketState } from './socketState.ts';
import type { WsServer } from './wsServer.ts';

export function subscribe(core: WsServer, s: SocketState, data: unknown): void {
  const app = s.app as AppConfig;
  const d = dataObject(data);
  const channel = d?.channel;
  if (typeof channel !== 'string' || channel === '') return core.sendError(s, 'missingChannel');
  const nameError = channelNameError(channel, app.limits.max_channel_name_length);
  if (nameError) return core.sendError(s, 'invalidChannel', `Channel error: ${nameError}`);

  if (channel.startsWith(SERVER_TO_USER_PREFIX)) {
    // Delivery goes to every socket signed in as the user (see signin.ts); the subscription is a formality.
    if (s.userId !== channel.slice(SERVER_TO_USER_PREFIX.length)) return core.sendError(s, 'userChannelForbidden');
    return core.send(s, subscriptionSucceeded(s.protocol, channel));
  }

  const presence = isPresenceChannel(channel);
  if (requiresAuth(channel)) {
    const auth = d?.auth;
    if (typeof auth !== 'string' || auth === '') return core.sendError(s, 'authRequired');
    const channelData = presence && typeof d?.channel_data === 'string' ? d.channel_data : undefined;
    if (!channelAuthValid(app.key, app.secret, s.socketId, channel, auth, channelData)) return core.sendError(s, 'unauthorized');
  }
  if (!presence) {
    join(core, s, channel, '{}');
    return;
  }

  const member = parsePresenceData(d?.channel_data, app.limits.max_presence_member_size_in_kb);
  if (!member.ok) return core.sendError(s, 'invalidPresenceData', member.message);
  const joinedAs = s.presence.get(channel);
  if (joinedAs !== undefined && joinedAs !== member.userId) {
    return core.sendError(s, 'invalidPresenceData', 'Channel error: this connection already joined the channel as another user');
  }
  if (s.pendingPresence.has(channel)) return;
  if (!s.channels.has(channel) && s.channels.size >= app.limits.max_subscriptions_per_socket) return core.sendError(s, 'tooManySubscriptions');
  const requestId = core.nextRequestId++;
  s.pendingPresence.add(channel);
  core.pendingJoins.set(requestId, { s, channel, userId: member.userId });
  core.deps.toPrimary({
    type: 'presence-join',
    requestId,
    worker: core.deps.workerIndex,
    app: s.appIndex,
    channel,
    socketId: s.socketId,
    userId: member.userId,
    userInfo: member.userInfo,
  });
}

/** The primary's answer to a presence join. */
export function presenceJoined(core: WsServer, m: Extract<PrimaryToWorker, { type: 'presence-joined' }>): void {
  const pending = core.pendingJoins.get(m.requestId);
  if (!pending) return;
  core.pendingJoins.delete(m.requestId);
  const { s, channel, userId } = pending;
  // Unsubscribed or disconnected while the join was in flight: undo it.
  const stillWanted = s.pendingPresence.delete(channel) && !s.closed;
  if (!m.ok) {
    if (stillWanted) core.sendError(s, 'presenceFull');
    return;
  }
  const newMembership = !s.presence.has(channel);
  if (!stillWanted) {
    if (newMembership) core.deps.toPrimary({ type: 'presence-leave', app: s.appIndex, channel, socketId: s.socketId, userId });
    return;
  }
  if (newMembership) s.presence.set(channel, userId);
  if (!join(core, s, channel, m.data) && newMembership) leavePresence(core, s, channel);
}

/** Subscribes the socket to the channel's topic and confirms; false if a limit refused it. */
function join(core: WsServer, s: SocketState, channel: string, succeededData: string): boolean {
  const app = s.app as AppConfig;
  if (!s.channels.has(channel)) {
    if (s.channels.size >= app.limits.max_subscriptions_per_socket) {
      core.sendError(s, 'tooManySubscriptions');
      return false;
    }
    if (!core.channels.add(s.appIndex, channel)) {
      core.sendError(s, 'channelCapacity');
      return false;
    }
    s.channels.add(channel);
    s.ws?.subscribe(topicFor(s.protocol, app.id, channel));
    core.countSubscription(s, channel, FIELD.subscriptions);
  }
  if (requiresAuth(channel)) s.authorized = true;
  core.send(s, subscriptionSucceeded(s.protocol, channel, succeededData));
  if (isCacheChannel(channel)) core.send(s, core.cache.get(topicFor(s.protocol, app.id, channel)) ?? cacheMiss(s.protocol, channel));
  return true;
}

export function unsubscribe(core: WsServer, s: SocketState, data: unknown): void {
  // A string `data` is taken as the channel name itself (Sockudo does the same).
  const channel = typeof data === 'string' && !data.startsWith('{') ? data : dataObject(data)?.channel;
  if (typeof channel !== 'string') return;
  if (s.pendingPresence.delete(channel)) return; // the join's answer will be undone
  if (!s.channels.delete(channel)) return;
  s.ws?.unsubscribe(topicFor(s.protocol, (s.app as AppConfig).id, channel));
  forget(core, s, channel);
}

/** On close: uWS has dropped the topics; release counts and presence memberships. */
export function leaveAllChannels(core: WsServer, s: SocketState): void {
  for (const channel of s.channels) forget(core, s, channel);
  s.channels.clear();
  s.pendingPresence.clear();
}

function forget(core: WsServer, s: SocketState, channel: string): void {
  core.channels.remove(s.appIndex, channel);
  core.countSubscription(s, channel, FIELD.unsubscriptions);
  leavePresence(core, s, channel);
}

function leavePresence(core: WsServer, s: SocketState, channel: string): void {
  const userId = s.presence.get(channel);
  if (userId === undefined) return;
  s.presence.delete(channel);
  core.deps.toPrimary({ type: 'presence-leave', app: s.appIndex, channel, socketId: s.socketId, userId });
}
