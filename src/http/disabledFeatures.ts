// The routes of Sockudo features this server does not keep (durable history, versioned messages, annotations,
// presence history): answered as Sockudo answers them with those features off, its default (422 feature_disabled).
import type { AppConfig } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import type { HttpRequestMessage } from '../ipc/messages.ts';
import { channelNameError, isPresenceChannel } from '../protocol/channels.ts';

type Family = 'history' | 'messages' | 'presence';

/** Paths after /apps/{id}/channels/{channel}/ (null: any segment), the methods Sockudo routes there, and the family. */
const ROUTES: { path: (string | null)[]; methods: string[]; family: Family }[] = [
  { path: ['history'], methods: ['GET'], family: 'history' },
  { path: ['history', 'state'], methods: ['GET'], family: 'history' },
  { path: ['history', 'reset'], methods: ['POST'], family: 'history' },
  { path: ['history', 'purge'], methods: ['POST'], family: 'history' },
  { path: ['presence', 'history'], methods: ['GET'], family: 'presence' },
  { path: ['presence', 'history', 'state'], methods: ['GET'], family: 'presence' },
  { path: ['presence', 'history', 'snapshot'], methods: ['GET'], family: 'presence' },
  { path: ['presence', 'history', 'reset'], methods: ['POST'], family: 'presence' },
  { path: ['messages', null], methods: ['GET'], family: 'messages' },
  { path: ['messages', null, 'versions'], methods: ['GET'], family: 'messages' },
  { path: ['messages', null, 'update'], methods: ['POST'], family: 'messages' },
  { path: ['messages', null, 'delete'], methods: ['POST'], family: 'messages' },
  { path: ['messages', null, 'append'], methods: ['POST'], family: 'messages' },
  { path: ['messages', null, 'annotations'], methods: ['GET', 'POST'], family: 'messages' },
  { path: ['messages', null, 'annotations', null], methods: ['DELETE'], family: 'messages' },
];

// Sockudo's texts (http_handler/history, versioned_messages, presence_history): every messages/* route, annotations
// included, checks versioned messages first, so that is the text they all give.
const DISABLED: Record<Family, (channel: string) => string> = {
  history: (ch) => `Durable history is disabled by policy for channel '${ch}'`,
  messages: (ch) => `Versioned messages are disabled for channel '${ch}'`,
  presence: (ch) => `Presence history is disabled by policy for channel '${ch}'`,
};

/**
 * Throws Sockudo's answer when `rest` (the path after /apps/{id}/) is one of these routes; returns otherwise. Called
 * after the signature check, as Sockudo's routes sit behind its API auth middleware. In Sockudo's order: a POST's JSON
 * body (its handlers take axum's Json extractor: 415, 400), the channel name (400), the presence- prefix for presence
 * history (400), then 422 feature_disabled.
 */
export function refuseDisabledFeature(req: HttpRequestMessage, app: AppConfig, rest: string[], readJsonBody: () => unknown): void {
  if (rest[0] !== 'channels' || rest.length < 3) return;
  const tail = rest.slice(2);
  const route = ROUTES.find((r) => r.path.length === tail.length && r.path.every((p, i) => p === null || p === tail[i]));
  if (!route) return;
  if (!route.methods.includes(req.method)) throw new HttpError('methodNotAllowed', `${req.method} is not allowed here; use ${route.methods.join(' or ')}`);
  if (req.method === 'POST') readJsonBody();
  const channel = rest[1];
  const err = channelNameError(channel, app.limits.max_channel_name_length);
  if (err) throw new HttpError('invalidInput', `Invalid channel name: ${err}`);
  if (route.family === 'presence' && !isPresenceChannel(channel)) throw new HttpError('invalidInput', 'Only presence channels support this endpoint');
  throw new HttpError('featureDisabled', DISABLED[route.family](channel));
}
