// Read-only HTTP API answers about channels and presence, from the primary's shared state: no worker is
// asked, subscription counts are read from shared memory.
import type { AppConfig } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import type { Hub } from '../primary/hub.ts';
import type { Publisher } from '../primary/publisher.ts';
import { channelNameError, isPresenceChannel } from '../protocol/channels.ts';

type Attribute = 'subscription_count' | 'user_count' | 'cache';

/** Parses `info=a,b` into the attributes in `allowed`; others are ignored, as Sockudo's parser looks only for known names. */
export function parseInfo(info: string | undefined, allowed: readonly Attribute[]): Set<Attribute> {
  const set = new Set<Attribute>();
  for (const raw of (info ?? '').split(',')) {
    const a = raw.trim() as Attribute;
    if (allowed.includes(a)) set.add(a);
  }
  return set;
}

export async function listChannels(hub: Hub, app: AppConfig, params: Map<string, string>): Promise<unknown> {
  const prefix = params.get('filter_by_prefix') ?? '';
  const info = parseInfo(params.get('info'), ['subscription_count', 'user_count']);
  const { counts, complete } = await hub.subscriptionCounts(app.id, prefix);
  const channels: Record<string, Record<string, number>> = {};
  let whole = complete;
  for (const [name, n] of Object.entries(counts)) {
    if (n <= 0) continue;
    // As Sockudo: refused only when a channel in the answer is not a presence channel.
    if (info.has('user_count') && !isPresenceChannel(name)) {
      throw new HttpError('invalidInput', 'user_count is only available for presence channels. Use filter_by_prefix=presence-');
    }
    const entry: Record<string, number> = {};
    if (info.has('subscription_count')) entry.subscription_count = n;
    if (info.has('user_count')) {
      const users = await hub.presenceMemberCount(app.id, name);
      entry.user_count = users.count;
      whole &&= users.complete;
    }
    // As Sockudo: an `info` given (even empty, or naming nothing a listing has) lists only channels with an attribute.
    if (params.has('info') && Object.keys(entry).length === 0) continue;
    channels[name] = entry;
  }
  // A host that did not answer in time (or Redis, down) is left out, and the answer says so.
  return whole ? { channels } : { channels, partial: true };
}

export async function channelInfo(hub: Hub, publisher: Publisher, app: AppConfig, channel: string, params: Map<string, string>): Promise<unknown> {
  assertChannel(app, channel);
  const info = parseInfo(params.get('info'), ['subscription_count', 'user_count', 'cache']);
  if (info.has('user_count') && !isPresenceChannel(channel)) throw new HttpError('invalidInput', 'user_count is only available for presence channels');
  const { counts, complete } = await hub.subscriptionCounts(app.id, '', [channel]);
  const subscriptions = counts[channel] ?? 0;
  const body: Record<string, unknown> = { occupied: subscriptions > 0 };
  if (info.has('subscription_count')) body.subscription_count = subscriptions;
  let whole = complete;
  if (info.has('user_count')) {
    // Without Redis: this host's members, and the answer says it is incomplete.
    const users = await hub.presenceMemberCount(app.id, channel);
    body.user_count = users.count;
    whole &&= users.complete;
  }
  if (!whole) body.subscription_count_complete = false;
  if (info.has('cache')) {
    const key = `${app.id}\n${channel}`;
    const frame = publisher.cache.get(key);
    if (frame !== undefined) body.cache = { data: frame, ttl: Math.ceil(publisher.cache.remainingTtl(key) / 1000) };
  }
  return body;
}

export async function presenceUsers(hub: Hub, app: AppConfig, channel: string): Promise<unknown> {
  assertChannel(app, channel);
  if (!isPresenceChannel(channel)) throw new HttpError('invalidInput', 'Only presence channels support this endpoint');
  // A list with members missing would look complete: while Redis cannot be asked the answer is a 503.
  const members = await hub.presenceMembers(app.id, channel).catch(() => {
    throw new HttpError('serviceUnavailable', 'Presence members are temporarily unavailable: the cluster store (Redis) cannot be reached', { 'Retry-After': '1' });
  });
  return { users: [...members.keys()].map((id) => ({ id })) };
}

/** The `info` answer of POST /events: counts for each channel right after the publish. */
/**
 * The answer to a publish that asked for `info` or carried a `message_id`: per channel its acknowledgement id
 * (the message id it was delivered with) and the counts `info` names.
 */
export async function publishInfo(hub: Hub, app: AppConfig, channels: readonly string[], infoParam: unknown, acknowledgementId: string): Promise<{ channels: Record<string, Record<string, unknown>> }> {
  if (infoParam !== undefined && typeof infoParam !== 'string') throw new HttpError('invalidInput', "'info' must be a comma-separated string");
  const info = infoParam === undefined ? new Set<string>() : parseInfo(infoParam, ['subscription_count', 'user_count']);
  const { counts } = info.has('subscription_count') ? await hub.subscriptionCounts(app.id, '', [...channels]) : { counts: {} as Record<string, number> };
  const out: Record<string, Record<string, unknown>> = {};
  for (const channel of channels) {
    const entry: Record<string, unknown> = { acknowledgement_id: acknowledgementId };
    if (info.has('subscription_count')) entry.subscription_count = counts[channel] ?? 0;
    if (info.has('user_count') && isPresenceChannel(channel)) entry.user_count = (await hub.presenceMemberCount(app.id, channel)).count;
    out[channel] = entry;
  }
  return { channels: out };
}

function assertChannel(app: AppConfig, channel: string): void {
  const err = channelNameError(channel, app.limits.max_channel_name_length);
  if (err) throw new HttpError('invalidInput', `Invalid channel name: ${err}`);
}
