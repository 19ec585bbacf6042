// pusher:signin on a worker: the signature over `socket_id::user::user_data` is checked here; the socket
// then holds its user's topic (server-to-user events, watchlist notifications) and the primary is told.
import { safeEqual, sign } from '../auth/hmac.ts';
import type { AppConfig } from '../config/schema.ts';
import { dataObject } from '../protocol/clientFrame.ts';
import { signinSuccess } from '../protocol/frames.ts';
import { userTopic } from '../protocol/topics.ts';
import type { SocketState } from './socketState.ts';
import type { WsServer } from './wsServer.ts';

const MAX_WATCHLIST = 100;

export function handleSignin(core: WsServer, s: SocketState, data: unknown): void {
  const app = s.app as AppConfig;
  const d = dataObject(data);
  const userData = d?.user_data;
  const auth = d?.auth;
  if (typeof userData !== 'string' || typeof auth !== 'string') {
    return core.sendError(s, 'signinInvalid', 'Authentication error: user_data and auth are required');
  }
  if (!safeEqual(auth, `${app.key}:${sign(app.secret, `${s.socketId}::user::${userData}`)}`)) return core.sendError(s, 'signinInvalid');
  let user: Record<string, unknown>;
  try {
    user = JSON.parse(userData) as Record<string, unknown>;
  } catch {
    return core.sendError(s, 'signinInvalid', 'Authentication error: user_data is not valid JSON');
  }
  const id = user?.id;
  if (typeof id !== 'string' || id === '' || id.length > 128) {
    return core.sendError(s, 'signinInvalid', 'Authentication error: user_data must have a string id');
  }
  const watchlist = Array.isArray(user.watchlist) ? user.watchlist.filter((u): u is string => typeof u === 'string').slice(0, MAX_WATCHLIST) : [];
  if (s.userId !== null && s.userId !== id) return core.sendError(s, 'signinInvalid', 'Authentication error: already signed in as another user');

  const first = s.userId === null;
  s.userId = id;
  s.authorized = true;
  core.send(s, signinSuccess(s.protocol, userData));
  if (!first) return;
  core.delivery.flushHeld(); // what is held for the user's topic came before the sign-in
  // Signed in as another user than a presence join identified it as: that user's events are not its any more.
  if (s.presenceUserId !== null) {
    if (s.presenceUserId !== id) s.ws?.unsubscribe(userTopic(s.protocol, app.id, s.presenceUserId));
    removeUserSocket(core, s, s.presenceUserId);
  }
  s.presenceUserId = null;
  s.ws?.subscribe(userTopic(s.protocol, app.id, id));
  addUserSocket(core, s, id);
  core.deps.toPrimary({
    type: 'user-signin',
    worker: core.deps.workerIndex,
    app: s.appIndex,
    userId: id,
    socketId: s.socketId,
    watchlist: app.features.enable_watchlist_events ? watchlist : [],
  });
}

/** On close of a signed-in socket. */
export function signout(core: WsServer, s: SocketState): void {
  const userId = s.userId as string;
  removeUserSocket(core, s, userId);
  core.deps.toPrimary({ type: 'user-signout', app: s.appIndex, userId, socketId: s.socketId });
}

/**
 * The user's sockets on this worker: signed in as the user, or identified as the user by a presence join (as Sockudo
 * counts them, §2.7). terminate_connections and force_reconnect close them.
 */
export function addUserSocket(core: WsServer, s: SocketState, userId: string): void {
  const key = `${s.appIndex}\n${userId}`;
  let set = core.users.get(key);
  if (!set) core.users.set(key, (set = new Set()));
  set.add(s);
}

export function removeUserSocket(core: WsServer, s: SocketState, userId: string): void {
  const key = `${s.appIndex}\n${userId}`;
  const set = core.users.get(key);
  set?.delete(s);
  if (set?.size === 0) core.users.delete(key);
}
