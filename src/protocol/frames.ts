// Server→client frames for Protocol V1 (pusher: prefixes) and V2 (sockudo: prefixes). Pure, no I/O.
import { WS_ERRORS, type WsErrorName } from '../errors.ts';

export type ProtocolVersion = 1 | 2;

export const PREFIX = {
  1: { pub: 'pusher:', internal: 'pusher_internal:' },
  2: { pub: 'sockudo:', internal: 'sockudo_internal:' },
} as const;

/** `data` is a JSON-encoded string, as Pusher clients expect. */
export function connectionEstablished(v: ProtocolVersion, socketId: string, activityTimeout: number): string {
  const data = JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeout });
  return `{"event":"${PREFIX[v].pub}connection_established","data":${JSON.stringify(data)}}`;
}

/** `data` of a subscription_succeeded with nothing to say, as the JSON string literal it is written as. */
export const EMPTY_DATA_JSON = '"{}"';

/**
 * `dataJson`: the frame's `data` (a JSON text) already written as a JSON string literal: a presence snapshot
 * comes so from the primary, which escapes it once instead of the busier socket thread.
 */
export function subscriptionSucceeded(v: ProtocolVersion, channel: string, dataJson = EMPTY_DATA_JSON): string {
  return `{"event":"${PREFIX[v].internal}subscription_succeeded","channel":${JSON.stringify(channel)},"data":${dataJson}}`;
}

/** Error frames carry `data` as an object (Sockudo and Pusher both do). */
export function errorFrame(v: ProtocolVersion, code: number, message: string): string {
  return JSON.stringify({ event: `${PREFIX[v].pub}error`, data: { code, message } });
}

export function namedError(v: ProtocolVersion, name: WsErrorName, detail?: string): string {
  const e = WS_ERRORS[name];
  return errorFrame(v, e.code, detail ?? e.message);
}

/** A channel event as delivered to subscribers; `data` must already be a string. */
export function channelEvent(event: string, channel: string, data: string): string {
  return publishedV1Frame(JSON.stringify(event), channel, JSON.stringify(data));
}

/**
 * The unclosed start `{"event":…,"channel":…,"data":…` that a channel event's V1 and V2 frames share, from
 * parts already JSON-encoded: a publisher encodes an event's name and data once for every channel and version.
 */
export function channelEventHead(eventJson: string, channelJson: string, dataJson: string): string {
  return `{"event":${eventJson},"channel":${channelJson},"data":${dataJson}`;
}

/**
 * The V1 frame of an HTTP-published event on one of its channels, from its name and data already JSON-encoded.
 * The primary and the admitting worker (worker/localPublishOrder.ts) both build it: the bytes must match.
 */
export function publishedV1Frame(nameJson: string, channel: string, dataJson: string): string {
  return `${channelEventHead(nameJson, JSON.stringify(channel), dataJson)}}`;
}

// Constant frames, built once.
export const PONG = { 1: '{"event":"pusher:pong"}', 2: '{"event":"sockudo:pong"}' } as const;
export const PING = { 1: '{"event":"pusher:ping"}', 2: '{"event":"sockudo:ping"}' } as const;

export function cacheMiss(v: ProtocolVersion, channel: string): string {
  return `{"event":"${PREFIX[v].pub}cache_miss","channel":${JSON.stringify(channel)},"data":"{}"}`;
}

export function memberAdded(v: ProtocolVersion, channel: string, userId: string, userInfo: unknown): string {
  const data = JSON.stringify({ user_id: userId, user_info: userInfo });
  return `{"event":"${PREFIX[v].internal}member_added","channel":${JSON.stringify(channel)},"data":${JSON.stringify(data)}}`;
}

/** A V2 member's new user_info (`presence_update`): V2 only, `data` a JSON string, as Sockudo's member_updated. */
export function memberUpdated(channel: string, userId: string, userInfo: unknown): string {
  const data = JSON.stringify({ user_id: userId, user_info: userInfo });
  return `{"event":"${PREFIX[2].internal}presence_update","channel":${JSON.stringify(channel)},"data":${JSON.stringify(data)}}`;
}

export function memberRemoved(v: ProtocolVersion, channel: string, userId: string): string {
  const data = JSON.stringify({ user_id: userId });
  return `{"event":"${PREFIX[v].internal}member_removed","channel":${JSON.stringify(channel)},"data":${JSON.stringify(data)}}`;
}

/** `data` is an object, as pusher-js and Pusher send it. */
export function signinSuccess(v: ProtocolVersion, userData: string): string {
  return JSON.stringify({ event: `${PREFIX[v].pub}signin_success`, data: { user_data: userData } });
}

export interface WatchlistEvent {
  name: 'online' | 'offline';
  user_ids: string[];
}

export function watchlistEvents(v: ProtocolVersion, events: WatchlistEvent[]): string {
  return JSON.stringify({ event: `${PREFIX[v].internal}watchlist_events`, data: { events } });
}

/** A client event as relayed to other subscribers; `data` passes through unchanged, presence adds user_id. */
/**
 * A client event's V1 frame from its data already serialized (`dataJson`, which the size check measured): the same
 * bytes as JSON.stringify of `{event, channel, data, user_id?}`, without serializing the data twice. Undefined data
 * leaves the field out, as JSON.stringify does.
 */
export function clientEvent(event: string, channel: string, dataJson: string | undefined, userId: string | undefined): string {
  const data = dataJson === undefined ? '' : `,"data":${dataJson}`;
  const user = userId === undefined ? '' : `,"user_id":${JSON.stringify(userId)}`;
  return `{"event":${JSON.stringify(event)},"channel":${JSON.stringify(channel)}${data}${user}}`;
}

/** Fields only Protocol V2 subscribers ever see. */
export interface V2Fields {
  messageId?: string;
  streamId?: string;
  serial?: number;
  extras?: Record<string, unknown>;
  tags?: Record<string, string>;
  userId?: string;
}

/** A channel event for V2 subscribers: a channelEventHead() closed with message_id, stream_id, serial, extras, tags. */
export function v2FrameFromHead(head: string, f: V2Fields): string {
  let s = head;
  if (f.userId !== undefined) s += `,"user_id":${JSON.stringify(f.userId)}`;
  if (f.messageId !== undefined) s += `,"message_id":${JSON.stringify(f.messageId)}`;
  if (f.streamId !== undefined) s += `,"stream_id":${JSON.stringify(f.streamId)},"serial":${f.serial}`;
  if (f.tags !== undefined) s += `,"tags":${JSON.stringify(f.tags)}`;
  if (f.extras !== undefined) s += `,"extras":${JSON.stringify(f.extras)}`;
  return `${s}}`;
}

/** A channel event's V2 frame from its fields as given (client events: the primary and, recovery off, the sender's worker). */
export function v2ChannelEvent(event: string, channel: string, data: unknown, f: V2Fields): string {
  return v2FrameFromHead(channelEventHead(JSON.stringify(event), JSON.stringify(channel), JSON.stringify(data)), f);
}

/** Direct frames to one V2 socket carry a fresh message_id (the client de-duplicates on it). */
export function withMessageId(frame: string, messageId: string): string {
  return `${frame.slice(0, -1)},"message_id":"${messageId}"}`;
}

/** V2 subscription_succeeded carries the channel position a later resume starts from; `dataJson` as for subscriptionSucceeded. */
export function subscriptionSucceededV2(channel: string, dataJson: string, streamId: string | undefined, serial: number): string {
  const position = streamId === undefined ? '' : `,"stream_id":${JSON.stringify(streamId)},"serial":${serial}`;
  return `{"event":"sockudo_internal:subscription_succeeded","channel":${JSON.stringify(channel)},"data":${dataJson}${position}}`;
}
