// What a loader process needs from a subscriber implementation: open one, have it count marker frames into
// shared counters, and drop it.

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

/** Resolves once the server confirmed the subscription; rejects with the reason it could not. */
export type OpenSubscriber = (url: string, channel: string, marker: Buffer, counts: SubscriberCounts) => Promise<Subscriber>;

export const SUBSCRIBE_TIMEOUT_MS = 20_000;

export function subscribeFrame(channel: string): string {
  return JSON.stringify({ event: 'pusher:subscribe', data: { channel } });
}
