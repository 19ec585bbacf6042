// What a loader process needs from a subscriber implementation: open one (subscribed to a channel, or idle:
// just connected), have it count marker frames into shared counters, and drop it. Also the protocol details both implementations share (V1 `pusher:` and V2
// `sockudo:` prefixes).

export interface SubscriberCounts {
  /** Frames carrying the benchmark's marker, over every subscriber of this process. */
  delivered: number;
  /** Subscribers whose connection ended after subscribing and before the loader closed it. */
  lost: number;
  /** Set by the process when it closes everything on purpose. */
  closing: boolean;
}

export interface Subscriber {
  close(): void;
}

/** Protocol V1 (Pusher, `pusher:` prefixes) or V2 (Sockudo, `sockudo:` prefixes, `?protocol=2`). */
export type ProtocolVersion = 1 | 2;

/** The channel of an idle connection: it subscribes to nothing and counts as ready at connection_established. */
export const IDLE = '';

/**
 * Resolves once the server confirmed the subscription (or, for IDLE, the connection); rejects with the reason
 * it could not. `filter` (V2 only) goes into the subscribe's data as is.
 */
export type OpenSubscriber = (
  url: string,
  channel: string,
  protocol: ProtocolVersion,
  marker: Buffer,
  counts: SubscriberCounts,
  filter?: object,
) => Promise<Subscriber>;

export const SUBSCRIBE_TIMEOUT_MS = 20_000;

export function subscribeFrame(channel: string, protocol: ProtocolVersion = 1, filter?: object): string {
  const data = filter === undefined ? { channel } : { channel, filter };
  return JSON.stringify({ event: protocol === 2 ? 'sockudo:subscribe' : 'pusher:subscribe', data });
}

/** The pong answering an app-level ping (V1 only: V2 servers ping natively). */
export const PONG = JSON.stringify({ event: 'pusher:pong', data: {} });

/**
 * A server event without its protocol prefix: `pusher:connection_established` and
 * `sockudo:connection_established` → `connection_established`, `*_internal:subscription_succeeded` →
 * `subscription_succeeded`, `pusher:error` → `error`. Anything else is returned unchanged.
 */
export function controlEvent(event: string | undefined): string | undefined {
  if (event === undefined) return undefined;
  const colon = event.indexOf(':');
  if (colon < 0) return event;
  const prefix = event.slice(0, colon);
  return prefix === 'pusher' || prefix === 'sockudo' || prefix === 'pusher_internal' || prefix === 'sockudo_internal' ? event.slice(colon + 1) : event;
}
