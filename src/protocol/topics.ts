// uWS topic names: one per protocol version, app and channel, so each subscriber gets the frame shaped for
// the protocol it negotiated without re-serializing per subscriber. "\n" cannot occur in app ids or channels.
import type { ProtocolVersion } from './frames.ts';

export const SERVER_TO_USER_PREFIX = '#server-to-user-';

export function topicFor(protocol: ProtocolVersion, appId: string, channel: string): string {
  return `${protocol}\n${appId}\n${channel}`;
}

/** Whether `topic` is a topicFor(2, …): then `topic.slice(2)` is `${appId}\n${channel}`. */
export function isV2ChannelTopic(topic: string): boolean {
  return topic.charCodeAt(0) === 50 /* 2 */ && topic.charCodeAt(1) === 10 /* \n */;
}

/** Every socket signed in as a user holds this topic: server-to-user events and watchlist notifications. */
export function userTopic(protocol: ProtocolVersion, appId: string, userId: string): string {
  return `u${protocol}\n${appId}\n${userId}`;
}

/** Topics an HTTP publish to `channel` goes to, per protocol version. */
export function publishTopic(protocol: ProtocolVersion, appId: string, channel: string): string {
  return channel.startsWith(SERVER_TO_USER_PREFIX)
    ? userTopic(protocol, appId, channel.slice(SERVER_TO_USER_PREFIX.length))
    : topicFor(protocol, appId, channel);
}
