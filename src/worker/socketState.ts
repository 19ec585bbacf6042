// The one fixed-shape object kept per WebSocket (uWS user data), and socket id allocation.
import { randomInt } from 'node:crypto';
import type { AppConfig } from '../config/schema.ts';
import type { WsErrorName } from '../errors.ts';
import type { CompiledFilter } from '../protocol/filters.ts';
import type { ProtocolVersion } from '../protocol/frames.ts';
import type { WebSocket } from '../transport/uws.ts';

/** One channel subscription of a socket: the uWS topic it holds and, for V2, its filter. */
export interface Subscription {
  topic: string;
  filter: CompiledFilter | undefined;
  wildcard: boolean;
}

/** A private or presence subscription's signature that was found valid for this socket. */
export interface VerifiedAuth {
  readonly channel: string;
  readonly auth: string;
  readonly channelData: string | undefined;
}

/** Shared, always empty: writing to one is a bug, so it throws instead of leaking into other sockets. */
class EmptyMap<K, V> extends Map<K, V> {
  override set(): this {
    throw new Error('write to a shared empty collection; use the writable*() helpers of socketState.ts');
  }
}
const NO_CHANNELS: Map<string, Subscription> = new EmptyMap();
const NO_PRESENCE: Map<string, string> = new EmptyMap();
const NO_PENDING: Map<string, number> = new EmptyMap();

export function writableChannels(s: SocketState): Map<string, Subscription> {
  if (s.channels === NO_CHANNELS) s.channels = new Map();
  return s.channels;
}

export function writablePresence(s: SocketState): Map<string, string> {
  if (s.presence === NO_PRESENCE) s.presence = new Map();
  return s.presence;
}

export function writablePendingPresence(s: SocketState): Map<string, number> {
  if (s.pendingPresence === NO_PENDING) s.pendingPresence = new Map();
  return s.pendingPresence;
}

/**
 * What uWS holds as a socket's user data. uWS copies the user data's own properties onto its WebSocket
 * object, which then keeps them in a dictionary (a heap snapshot showed ~830 bytes per socket for the ~18
 * fields of SocketState); one property pointing at a fixed-shape SocketState costs a few dozen.
 */
export interface UwsUserData {
  readonly state: SocketState;
}

export class SocketState {
  /** Set at open; null for sockets that are refused right after the upgrade, and after close. */
  ws: WebSocket<UwsUserData> | null = null;
  // The three collections start as shared empty ones and become the socket's own on first write
  // (writableChannels() & co.): a large idle crowd would otherwise hold a few hundred bytes of empty
  // collections per connection.
  /** Channels (or V2 wildcard patterns) this socket is subscribed to; server-to-user channels excluded. */
  channels: Map<string, Subscription> = NO_CHANNELS;
  /** Presence channels joined → the user id the socket joined as. */
  presence: Map<string, string> = NO_PRESENCE;
  /** Presence joins sent to the primary and not yet answered: channel → the join's request id (WsServer.pendingJoins). */
  pendingPresence: Map<string, number> = NO_PENDING;
  /** Set by pusher:signin. */
  userId: string | null = null;
  /**
   * The user of the socket's first presence join while it was not signed in: Sockudo sends server-to-user events
   * to sockets signed in or presence-identified as the user, so the socket holds that user's topic too.
   */
  presenceUserId: string | null = null;
  /** True once signed in or subscribed to a private/presence channel (the sign-in deadline is met). */
  authorized = false;
  readonly connectedAt: number;
  lastActivity: number;
  /** When the server sent its pusher:ping, 0 when none is outstanding. */
  pingSentAt = 0;
  closed = false;
  /** Client-event rate limit: start of the current one-second window and events in it. */
  clientEventWindow = 0;
  clientEventCount = 0;
  /** The app's message_rate_limit window (every frame), when the app has one. */
  messageWindow = 0;
  messageCount = 0;
  /** V2: whether the socket receives its own client events (`?echo_messages=false` turns it off). */
  echo = true;
  /** V2: a `sockudo:resume` has been handled (later subscriptions are not held back; see liveHold.ts). */
  resumed = false;
  /** The IpQuota bucket this socket holds a place in, -1 when none. */
  ipBucket = -1;
  /** The last channel auth this socket presented that checked out (see subscriptions.ts). */
  verifiedAuth: VerifiedAuth | null = null;

  constructor(
    readonly socketId: string,
    readonly app: AppConfig | null,
    readonly appIndex: number,
    readonly protocol: ProtocolVersion,
    /** When set, the socket is sent this error and closed as soon as it opens. */
    public rejection: WsErrorName | null,
    now: number,
  ) {
    this.connectedAt = now;
    this.lastActivity = now;
  }
}

/**
 * Socket ids look like Pusher's and Sockudo's (`^\d+\.\d+$`). The first part is drawn at random for every socket
 * from Sockudo's range (up to 10^10), so no id can be guessed from another; the second is this thread's counter
 * with the worker index in its last four digits, so ids never repeat on a host (of up to 10,000 workers).
 */
export class SocketIdAllocator {
  private counter = 0;

  constructor(private readonly workerIndex: number) {}

  next(): string {
    this.counter++;
    return `${randomInt(0, 10_000_000_001)}.${this.counter * 10_000 + this.workerIndex}`;
  }
}
