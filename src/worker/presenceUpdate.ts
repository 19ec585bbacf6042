// A V2 member changing its user_info (`sockudo:presence_update`, Sockudo's handler/presence_update.rs): checked
// here in Sockudo's order and with its texts, then kept and announced by the primary (primary/hub.ts presenceUpdate):
// `sockudo_internal:presence_update` to the channel's V2 sockets, the sender among them, and `member_updated`.
import { isPresenceChannel } from '../protocol/channels.ts';
import type { SocketState } from './socketState.ts';
import { joinInFlight } from './subscriptions.ts';
import type { WsServer } from './wsServer.ts';

/** Sockudo's MAX_PRESENCE_UPDATE_BYTES: the new user_info as compact JSON. */
const MAX_UPDATE_BYTES = 1024;

/** Per socket, per channel: the one-second window of updates (kept off SocketState, so idle sockets stay small). */
const windows = new WeakMap<SocketState, Map<string, { start: number; count: number }>>();

/** `event` is the frame's own name: only the public prefixes ask for an update (Sockudo ignores the internal ones). */
export function handlePresenceUpdate(core: WsServer, s: SocketState, event: string, data: unknown): void {
  if (event !== 'sockudo:presence_update' && event !== 'pusher:presence_update') return;
  if (s.protocol !== 2) return core.sendError(s, 'presenceUpdateInvalid', 'presence_update requires protocol V2');
  const request = readRequest(data);
  if (typeof request === 'string') return core.sendError(s, 'presenceUpdateInvalid', request);
  const { channel, info } = request;
  if (!isPresenceChannel(channel)) return core.sendError(s, 'presenceUpdateInvalid', 'presence_update requires a presence channel');
  const infoJson = JSON.stringify(info);
  // Each UTF-16 unit is at most 3 bytes: short texts need no count.
  if (infoJson.length * 3 > MAX_UPDATE_BYTES && Buffer.byteLength(infoJson) > MAX_UPDATE_BYTES) return core.sendError(s, 'presenceUpdateTooLarge');
  // This socket's own membership, as Sockudo checks it: another socket of the user does not count.
  const userId = s.presence.get(channel);
  if (userId !== undefined) return submit(core, s, channel, userId, info);
  // Sockudo reads a socket's frames one after another, so an update sent right after the subscribe meets the member
  // that subscribe made: here it waits for the join's answer (worker/subscriptions.ts presenceJoined).
  const pending = joinInFlight(core, s, channel);
  if (pending?.wanted) return void (pending.updates ??= []).push(info);
  core.sendError(s, 'presenceUpdateInvalid', 'presence_update requires active membership');
}

/** The updates a join was sent before its answer: as `userId` once it stands, refused when it did not (undefined). */
export function applyPendingUpdates(core: WsServer, s: SocketState, channel: string, userId: string | undefined, updates: unknown[] | undefined): void {
  if (updates === undefined) return;
  for (const info of updates) {
    if (userId === undefined) core.sendError(s, 'presenceUpdateInvalid', 'presence_update requires active membership');
    else submit(core, s, channel, userId, info);
  }
}

function submit(core: WsServer, s: SocketState, channel: string, userId: string, info: unknown): void {
  if (overLimit(s, channel, core.deps.config.presence.update_rate_limit_per_member_per_second)) return core.sendError(s, 'clientEventRateLimited');
  core.deps.toPrimary({ type: 'presence-update', app: s.appIndex, channel, socketId: s.socketId, userId, userInfo: info });
}

/**
 * `data`: `{channel, data}` (the new user_info), as an object or as a JSON string holding one; otherwise Sockudo's
 * text for what is wrong. (Sockudo's frame decoder turns an object with a string `channel` into subscribe-shaped
 * data its parser cannot read, so only the string form works there; the object form works here.)
 */
function readRequest(data: unknown): { channel: string; info: unknown } | string {
  if (data === undefined || data === null) return 'presence_update data is required';
  let root: unknown = data;
  if (typeof data === 'string') {
    try {
      root = JSON.parse(data);
    } catch {
      return 'presence_update data must be a JSON object';
    }
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return 'presence_update channel is required';
  const request = root as Record<string, unknown>;
  const channel = Object.hasOwn(request, 'channel') ? request.channel : undefined;
  if (typeof channel !== 'string' || channel === '') return 'presence_update channel is required';
  if (!Object.hasOwn(request, 'data')) return 'presence_update data field is required';
  return { channel, info: request.data };
}

/** Sockudo's fixed window: it opens at the first update and lasts a second; refused updates count too. */
function overLimit(s: SocketState, channel: string, limit: number): boolean {
  let perChannel = windows.get(s);
  if (!perChannel) windows.set(s, (perChannel = new Map()));
  const now = Date.now();
  let window = perChannel.get(channel);
  if (!window || now >= window.start + 1000) {
    // A socket that goes through many channels keeps only the windows still open.
    if (!window && perChannel.size >= 16) for (const [c, w] of perChannel) if (now >= w.start + 1000) perChannel.delete(c);
    perChannel.set(channel, (window = { start: now, count: 0 }));
  }
  return ++window.count > limit;
}
