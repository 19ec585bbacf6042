// Validates the bodies of POST /apps/{id}/events and /batch_events into events ready to publish.
import type { AppConfig, Config } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import { channelNameError } from '../protocol/channels.ts';

/** One event for one or more channels, with `data` already a string as subscribers receive it. */
export interface PublishEvent {
  name: string;
  channels: string[];
  data: string;
  socketId?: string;
  /** Protocol V2 only: supplied message id, extras, tags (never sent to V1 subscribers). */
  messageId?: string;
  extras?: Record<string, unknown>;
  tags?: Record<string, string>;
  /** extras.ephemeral: delivered now, never buffered for replay. */
  ephemeral: boolean;
  /** Body `idempotency_key` (never delivered to anyone). */
  idempotencyKey?: string;
  /** `extras.idempotencyKey`: the message's key when it has no `message_id` (http/messageKeys.ts; never delivered). */
  messageKey?: string;
}

export const MAX_IDEMPOTENCY_KEY_BYTES = 128;

/** Idempotency keys are 1 to 128 bytes. */
export function checkIdempotencyKey(key: unknown, where = ''): string {
  if (typeof key !== 'string') throw new HttpError('invalidInput', `${where}Idempotency key must be a string`);
  if (key === '') throw new HttpError('invalidInput', `${where}Idempotency key must not be empty`);
  if (Buffer.byteLength(key) > MAX_IDEMPOTENCY_KEY_BYTES) {
    // Sockudo's text says characters; the limit is in bytes, as Sockudo counts it.
    throw new HttpError('invalidInput', `${where}Idempotency key exceeds maximum length of ${MAX_IDEMPOTENCY_KEY_BYTES} characters`);
  }
  return key;
}

const SOCKET_ID = /^\d+\.\d+$/;

/**
 * The publish features a config turns off, as Sockudo does: with `idempotency.enabled` false, `idempotency_key`
 * and `extras.idempotencyKey` are ignored without being checked; with `ephemeral.enabled` false,
 * `extras.ephemeral` is dropped (the message is an ordinary one); with `echo_control.enabled` false,
 * `extras.echo` is dropped. Extras left empty are left out.
 */
export interface PublishRules {
  keys: boolean;
  ephemeral: boolean;
  echo: boolean;
}

export const ALL_PUBLISH_FEATURES: PublishRules = Object.freeze({ keys: true, ephemeral: true, echo: true });

export function publishRules(config: Pick<Config, 'idempotency' | 'ephemeral' | 'echo_control'>): PublishRules {
  return { keys: config.idempotency.enabled, ephemeral: config.ephemeral.enabled, echo: config.echo_control.enabled };
}

export function parseEventBody(body: unknown, app: AppConfig, rules = ALL_PUBLISH_FEATURES): PublishEvent {
  return parseEvent(body, app, true, '', rules);
}

export function parseBatchBody(body: unknown, app: AppConfig, rules = ALL_PUBLISH_FEATURES): PublishEvent[] {
  if (!isObject(body) || !Array.isArray(body.batch)) throw new HttpError('invalidInput', "Request must contain 'batch' (list of events)");
  const { batch } = body;
  // An empty batch publishes nothing and is answered {} (Sockudo has no check for it).
  if (batch.length > app.limits.max_event_batch_size) {
    throw new HttpError('limitExceeded', `Batch size (${batch.length}) exceeds limit (${app.limits.max_event_batch_size})`);
  }
  // An item is an event as for /events, `channels` included (Sockudo; the `info` answer is for its first channel).
  return batch.map((item, i) => parseEvent(item, app, true, `batch[${i}]: `, rules));
}

function parseEvent(body: unknown, app: AppConfig, allowChannelList: boolean, where: string, rules: PublishRules): PublishEvent {
  if (!isObject(body)) throw new HttpError('invalidInput', `${where}Request body must be a JSON object`);
  const { limits } = app;

  const { name } = body;
  if (typeof name !== 'string' || name === '') throw new HttpError('invalidInput', `${where}Event name is required`);
  // In UTF-8 bytes, as Sockudo counts it (at most 3 bytes per UTF-16 unit: most names need no count).
  const maxName = limits.max_event_name_length;
  if (name.length > maxName || (name.length * 3 > maxName && Buffer.byteLength(name) > maxName)) {
    throw new HttpError('limitExceeded', `${where}Event name '${name}' exceeds maximum length of ${maxName}`);
  }

  let channels: string[];
  if (allowChannelList && body.channels !== undefined) {
    if (!Array.isArray(body.channels) || body.channels.length === 0) throw new HttpError('missingChannel');
    if (!body.channels.every((c) => typeof c === 'string')) throw new HttpError('invalidInput', `${where}'channels' must be a list of strings`);
    if (body.channels.length > limits.max_event_channels_at_once) {
      throw new HttpError('limitExceeded', `${where}Number of channels (${body.channels.length}) exceeds limit (${limits.max_event_channels_at_once})`);
    }
    channels = [...new Set(body.channels as string[])];
  } else if (typeof body.channel === 'string' && body.channel !== '') {
    channels = [body.channel];
  } else {
    throw new HttpError('missingChannel', where ? `${where}Event must contain 'channel' (string)` : undefined);
  }
  for (const c of channels) {
    const err = channelNameError(c, limits.max_channel_name_length);
    if (err) throw new HttpError('invalidInput', `${where}Invalid channel name: ${err}`);
  }

  // Pusher semantics: subscribers always receive `data` as a string.
  const data = typeof body.data === 'string' ? body.data : JSON.stringify(body.data ?? null);
  const dataBytes = Buffer.byteLength(data);
  if (dataBytes > limits.max_event_payload_in_kb * 1024) {
    throw new HttpError('payloadTooLarge', `${where}Event payload size (${dataBytes} bytes) for event '${name}' exceeds limit (${limits.max_event_payload_in_kb}KB)`);
  }

  const { socket_id: socketId } = body;
  if (socketId !== undefined && socketId !== null && (typeof socketId !== 'string' || !SOCKET_ID.test(socketId))) {
    throw new HttpError('invalidInput', `${where}Invalid socket_id`);
  }
  const { extras, ephemeral, messageKey } = parseExtras(body.extras, where, rules);
  const tags = parseTags(body.tags, where);
  const { message_id: messageId } = body;
  if (messageId !== undefined && (typeof messageId !== 'string' || messageId === '' || messageId.length > 128)) {
    throw new HttpError('invalidInput', `${where}message_id must be a string of 1 to 128 characters`);
  }
  const idempotencyKey = body.idempotency_key === undefined || !rules.keys ? undefined : checkIdempotencyKey(body.idempotency_key, where);
  // Absent fields are left out rather than set to undefined: every property, even an undefined one, costs the
  // structured clone that carries a worker's admitted publishes to the primary.
  const event: PublishEvent = { name, channels, data, ephemeral };
  if (socketId !== undefined && socketId !== null) event.socketId = socketId;
  if (messageId !== undefined) event.messageId = messageId;
  if (extras !== undefined) event.extras = extras;
  if (tags !== undefined) event.tags = tags;
  if (idempotencyKey !== undefined) event.idempotencyKey = idempotencyKey;
  if (messageKey !== undefined) event.messageKey = messageKey;
  return event;
}

/** `extras`: `headers` (flat scalars), `ephemeral`, `echo`, plus opaque keys passed through to V2. */
function parseExtras(v: unknown, where: string, rules: PublishRules): { extras?: Record<string, unknown>; ephemeral: boolean; messageKey?: string } {
  if (v === undefined || v === null) return { ephemeral: false };
  if (!isObject(v)) throw new HttpError('invalidInput', `${where}extras must be an object`);
  if (v.headers !== undefined) {
    if (!isObject(v.headers)) throw new HttpError('invalidInput', `${where}extras.headers must be an object`);
    for (const [k, h] of Object.entries(v.headers)) {
      if (!['string', 'number', 'boolean'].includes(typeof h)) throw new HttpError('invalidInput', `${where}extras.headers.${k} must be a string, number or boolean`);
    }
  }
  for (const flag of ['ephemeral', 'echo'] as const) {
    if (v[flag] !== undefined && typeof v[flag] !== 'boolean') throw new HttpError('invalidInput', `${where}extras.${flag} must be a boolean`);
  }
  const { idempotencyKey, ...rest } = v; // never delivered
  const messageKey = idempotencyKey === undefined || !rules.keys ? undefined : checkIdempotencyKey(idempotencyKey, `${where}extras.idempotencyKey: `);
  if (!rules.ephemeral) delete rest.ephemeral;
  if (!rules.echo) delete rest.echo;
  return { extras: Object.keys(rest).length > 0 ? rest : undefined, ephemeral: rest.ephemeral === true, messageKey };
}

/** `tags`: a flat map; numbers and booleans become strings. */
function parseTags(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new HttpError('invalidInput', `${where}tags must be an object of strings`);
  const tags: Record<string, string> = {};
  for (const [k, t] of Object.entries(v)) {
    if (!['string', 'number', 'boolean'].includes(typeof t)) throw new HttpError('invalidInput', `${where}tags.${k} must be a string`);
    tags[k] = String(t);
  }
  return tags;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
