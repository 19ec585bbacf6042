// The push domain: devices, channel subscriptions, publishes and their per-device deliveries.
import { tokenHash } from './tokens.ts';

/** Where a device receives pushes, in Sockudo's shape (`push.recipient`). */
export type Recipient =
  | { transportType: 'web'; endpoint: string; p256dh: string; auth: string }
  | { transportType: 'gcm'; registrationToken: string }
  | { transportType: 'apns'; deviceToken: string }
  /** Huawei Push Kit (HMS): the app's push token on the device. */
  | { transportType: 'hms'; registrationToken: string }
  /** Windows Push Notification Services: the channel URI the app got from WNS. */
  | { transportType: 'wns'; channelUri: string };

export type Provider = 'webPush' | 'fcm' | 'apns' | 'hms' | 'wns';
export const PROVIDERS: readonly Provider[] = ['webPush', 'fcm', 'apns', 'hms', 'wns'];

const PROVIDER_OF: Record<Recipient['transportType'], Provider> = { web: 'webPush', gcm: 'fcm', apns: 'apns', hms: 'hms', wns: 'wns' };

export function providerOf(r: Recipient): Provider {
  return PROVIDER_OF[r.transportType];
}

/** The token a provider knows the device by (for Web Push, its endpoint; for WNS, its channel URI). */
export function recipientToken(r: Recipient): string {
  switch (r.transportType) {
    case 'web':
      return r.endpoint;
    case 'gcm':
    case 'hms':
      return r.registrationToken;
    case 'apns':
      return r.deviceToken;
    case 'wns':
      return r.channelUri;
  }
}

/**
 * An FCM topic or condition (Sockudo's providerTopic / providerCondition targets): FCM fans the message out to
 * the devices it knows there, so the delivery has no device row; this is its `recipient`.
 */
export type FcmAudience = { transportType: 'fcmTopic'; topic: string } | { transportType: 'fcmCondition'; condition: string };

/** Where one delivery goes: a device's recipient, or an FCM topic or condition. */
export type DeliveryRecipient = Recipient | FcmAudience;

export function isFcmAudience(r: DeliveryRecipient): r is FcmAudience {
  return r.transportType === 'fcmTopic' || r.transportType === 'fcmCondition';
}

/** A delivery that needs no device row: a raw recipient, or an FCM topic or condition. */
export interface DirectDelivery {
  /** The delivery's device_key: the same target twice in one publish is one delivery. */
  key: string;
  provider: Provider;
  recipient: DeliveryRecipient;
}

/** The publish's targets that are sent as they are, without looking up devices (both stores plan them so). */
export function directDeliveries(targets: readonly Target[]): DirectDelivery[] {
  const out = new Map<string, DirectDelivery>();
  const add = (key: string, provider: Provider, recipient: DeliveryRecipient) => {
    if (!out.has(key)) out.set(key, { key, provider, recipient });
  };
  for (const t of targets) {
    if (t.type === 'recipient') add(`raw:${tokenHash(recipientToken(t.recipient))}`, providerOf(t.recipient), t.recipient);
    else if (t.type === 'providerTopic') add(`topic:${tokenHash(t.topic)}`, 'fcm', { transportType: 'fcmTopic', topic: t.topic });
    else if (t.type === 'providerCondition') add(`condition:${tokenHash(t.condition)}`, 'fcm', { transportType: 'fcmCondition', condition: t.condition });
  }
  return [...out.values()];
}

export type PushState = 'ACTIVE' | 'FAILING' | 'FAILED';

export interface DeviceRecord {
  appId: string;
  id: string;
  clientId: string | null;
  formFactor: string;
  platform: string;
  metadata: Record<string, unknown>;
  timezone: string;
  locale: string;
  recipient: Recipient;
  tokenHash: string;
  pushState: PushState;
  failureCount: number;
  /** sha256 of the device identity token (push-subscribe callers prove they hold it). */
  identityHash: string | null;
  lastActiveAtMs: number;
  updatedAtMs: number;
}

export interface ChannelSubscription {
  appId: string;
  channel: string;
  deviceId: string;
  clientId: string | null;
  createdAtMs: number;
}

export type PublishState =
  | 'queued'
  | 'dispatching'
  | 'succeeded'
  | 'partiallySucceeded'
  | 'failed'
  | 'dead_lettered'
  | 'expired'
  | 'cancelled'
  /** Refused at admission by `push.fanout_max` / `push.delivery_quota_daily` (still a 202, as Sockudo): nothing sent. */
  | 'quota_exceeded';

export const TERMINAL_STATES: ReadonlySet<PublishState> = new Set(['succeeded', 'partiallySucceeded', 'failed', 'dead_lettered', 'expired', 'cancelled', 'quota_exceeded']);

export type Target =
  | { type: 'channel'; channel: string }
  | { type: 'device'; deviceId: string }
  | { type: 'client'; clientId: string }
  | { type: 'recipient'; recipient: Recipient }
  /** Sent to FCM as `message.topic` / `message.condition`: one delivery, no device (FCM only, as validated). */
  | { type: 'providerTopic'; provider: 'fcm'; topic: string }
  | { type: 'providerCondition'; provider: 'fcm'; condition: string };

export interface PushPayload {
  title?: string;
  body?: string;
  icon?: string;
  sound?: string;
  collapseKey?: string;
  /** Custom data (`templateData`, or the guide's `data`). */
  data?: Record<string, unknown>;
}

export interface PublishIntent {
  recipients: Target[];
  payload: PushPayload;
  /** Per-provider payload fragments merged over the rendered payload. */
  overrides: Partial<Record<Provider, Record<string, unknown>>>;
  notBeforeMs: number;
  expiresAtMs: number;
}

export interface PublishRecord {
  appId: string;
  publishId: string;
  state: PublishState;
  intent: PublishIntent;
  expectedRecipients: number;
  createdAtMs: number;
  /** Until then the publish id is remembered for duplicate detection. */
  keepUntilMs: number;
  errorReason: string | null;
}

export type DeliveryState = 'pending' | 'inflight' | 'succeeded' | 'failed' | 'dead' | 'expired' | 'cancelled';

export interface Delivery {
  id: number;
  appId: string;
  publishId: string;
  /**
   * Device id, `raw:<tokenHash>` for a raw recipient, `topic:<sha256>` / `condition:<sha256>` for an FCM topic or
   * condition: one delivery per device (or topic, or condition) per publish.
   */
  deviceKey: string;
  deviceId: string | null;
  provider: Provider;
  recipient: DeliveryRecipient;
  attempts: number;
  nextAtMs: number;
  lastError: string | null;
}

export interface DeadLetter {
  id: number;
  appId: string;
  publishId: string;
  deviceId: string | null;
  provider: Provider;
  attempts: number;
  lastError: string | null;
  deadAtMs: number;
}

export interface PublishCounters {
  planned: number;
  dispatched: number;
  succeeded: number;
  failed: number;
  expired: number;
  retryScheduled: number;
  retryAttempted: number;
  deadLettered: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
