// The push domain: devices, channel subscriptions, publishes and their per-device deliveries.

/** Where a device receives pushes, in Sockudo's shape (`push.recipient`). */
export type Recipient =
  | { transportType: 'web'; endpoint: string; p256dh: string; auth: string }
  | { transportType: 'gcm'; registrationToken: string }
  | { transportType: 'apns'; deviceToken: string };

export type Provider = 'webPush' | 'fcm' | 'apns';
export const PROVIDERS: readonly Provider[] = ['webPush', 'fcm', 'apns'];

export function providerOf(r: Recipient): Provider {
  return r.transportType === 'web' ? 'webPush' : r.transportType === 'gcm' ? 'fcm' : 'apns';
}

/** The token a provider knows the device by (for Web Push, its endpoint). */
export function recipientToken(r: Recipient): string {
  return r.transportType === 'web' ? r.endpoint : r.transportType === 'gcm' ? r.registrationToken : r.deviceToken;
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
  | 'cancelled';

export const TERMINAL_STATES: ReadonlySet<PublishState> = new Set(['succeeded', 'partiallySucceeded', 'failed', 'dead_lettered', 'expired', 'cancelled']);

export type Target =
  | { type: 'channel'; channel: string }
  | { type: 'device'; deviceId: string }
  | { type: 'client'; clientId: string }
  | { type: 'recipient'; recipient: Recipient };

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
  /** Device id, or `raw:<tokenHash>` for a raw recipient: one delivery per device per publish. */
  deviceKey: string;
  deviceId: string | null;
  provider: Provider;
  recipient: Recipient;
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
