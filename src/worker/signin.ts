// pusher:signin on a worker: the signature over `socket_id::user::user_data` is checked here; the socket
// then holds its user's topic (server-to-user events, watchlist notifications) and the primary is told.
import { safeEqual, sign } from '../auth/hmac.ts';
import type { AppConfig } from '../config/schema.ts';
import { dataObject } from '../protocol/clientFrame.ts';
import { signinSuccess } from '../protocol/frames.ts';
import { userTopic } from '../protocol/topics.ts';
import type { SocketState } from './socketState.ts';
import type { WsServer } from './wsServer.ts';

export function handleSignin(core: WsServer, s: SocketState, data: unknown): void {
  const app = s.app as AppConfig;
  // Sockudo's order and texts: the fields, then user_data and its id, then the signature.
  const d = dataObject(data);
  const userData = d?.user_data;
  const auth = d?.auth;
  if (typeof userData !== 'string') return core.sendError(s, 'signinInvalid', "Authentication error: Missing 'user_data' field in signin data");
  if (typeof auth !== 'string') return core.sendError(s, 'signinInvalid', "Authentication error: Missing 'auth' field in signin data");
  let user: unknown;
  try {
    user = JSON.parse(userData);
  } catch (err) {
    return core.sendError(s, 'signinInvalid', `Authentication error: Invalid user_data JSON: ${(err as Error).message}`);
  }
  const id = typeof user === 'object' && user !== null ? (user as Record<string, unknown>).id : undefined;
  if (typeof id !== 'string') return core.sendError(s, 'signinInvalid', "Authentication error: Missing 'id' field in user_data");
  // Only the signature after the first ':' counts (Sockudo strips the key part of `auth`).
  const signature = auth.slice(auth.indexOf(':') + 1);
  if (!safeEqual(signature, sign(app.secret, `${s.socketId}::user::${userData}`))) return core.sendError(s, 'signinInvalid');
  const list = (user as Record<string, unknown>).watchlist;
  const watchlist = Array.isArray(list) ? list.filter((u): u is string => typeof u === 'string') : [];

  const previous = s.userId;
  s.userId = id;
  s.authorized = true;
  core.send(s, signinSuccess(s.protocol, userData));
  if (previous === id) return;
  core.delivery.flushHeld(); // what is held for the user's topic came before the sign-in
  if (previous !== null) {
    // Signing in as another user replaces the first on this connection, as Sockudo does.
    s.ws?.unsubscribe(userTopic(s.protocol, app.id, previous));
    removeUserSocket(core, s, previous);
    core.deps.toPrimary({ type: 'user-signout', app: s.appIndex, userId: previous, socketId: s.socketId });
  } else if (s.presenceUserId !== null) {
    // Signed in as another user than a presence join identified it as: that user's events are not its any more.
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
