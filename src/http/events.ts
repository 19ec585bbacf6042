// Validates the bodies of POST /apps/{id}/events and /batch_events into events ready to publish.
import type { AppConfig } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import { channelNameError } from '../protocol/channels.ts';

/** One event for one or more channels, with `data` already a string as subscribers receive it. */
export interface PublishEvent {
  name: string;
  channels: string[];
  data: string;
  socketId?: string;
}

const SOCKET_ID = /^\d+\.\d+$/;

export function parseEventBody(body: unknown, app: AppConfig): PublishEvent {
  return parseEvent(body, app, true, '');
}

export function parseBatchBody(body: unknown, app: AppConfig): PublishEvent[] {
  if (!isObject(body) || !Array.isArray(body.batch)) throw new HttpError('invalidInput', "Request must contain 'batch' (list of events)");
  const { batch } = body;
  if (batch.length === 0) throw new HttpError('invalidInput', 'Batch must contain at least one event');
  if (batch.length > app.limits.max_event_batch_size) {
    throw new HttpError('limitExceeded', `Batch size (${batch.length}) exceeds limit (${app.limits.max_event_batch_size})`);
  }
  return batch.map((item, i) => parseEvent(item, app, false, `batch[${i}]: `));
}

function parseEvent(body: unknown, app: AppConfig, allowChannelList: boolean, where: string): PublishEvent {
  if (!isObject(body)) throw new HttpError('invalidInput', `${where}Request body must be a JSON object`);
  const { limits } = app;

  const { name } = body;
  if (typeof name !== 'string' || name === '') throw new HttpError('invalidInput', `${where}Event name is required`);
  if (name.length > limits.max_event_name_length) {
    throw new HttpError('limitExceeded', `${where}Event name is too long (max ${limits.max_event_name_length} characters)`);
  }

  let channels: string[];
  if (allowChannelList && body.channels !== undefined) {
    if (!Array.isArray(body.channels) || body.channels.length === 0) throw new HttpError('missingChannel');
    if (!body.channels.every((c) => typeof c === 'string')) throw new HttpError('invalidInput', `${where}'channels' must be a list of strings`);
    if (body.channels.length > limits.max_event_channels_at_once) {
      throw new HttpError('limitExceeded', `${where}Too many channels (max ${limits.max_event_channels_at_once})`);
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
  if (Buffer.byteLength(data) > limits.max_event_payload_in_kb * 1024) {
    throw new HttpError('payloadTooLarge', `${where}Event data exceeds ${limits.max_event_payload_in_kb} KiB`);
  }

  const { socket_id: socketId } = body;
  if (socketId !== undefined && socketId !== null && (typeof socketId !== 'string' || !SOCKET_ID.test(socketId))) {
    throw new HttpError('invalidInput', `${where}Invalid socket_id`);
  }
  return { name, channels, data, socketId: socketId ?? undefined };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
