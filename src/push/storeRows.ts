// Row mapping shared by the SQL stores (SQLite and PostgreSQL use the same column names), and pagination.
import type { ChannelSubscription, DeadLetter, Delivery, DeliveryState, DeviceRecord, Page, Provider, PublishCounters, PublishRecord, PublishState } from './types.ts';

export type Row = Record<string, unknown>;

/** Opaque list cursors: the last item's key, base64url. */
export function encodeCursor(key: string): string {
  return Buffer.from(key).toString('base64url');
}

export function decodeCursor(cursor: string | null): string | null {
  return cursor ? Buffer.from(cursor, 'base64url').toString() : null;
}

export function countersFromStates(states: Partial<Record<DeliveryState, number>>, retryAttempted: number, retryScheduled: number): PublishCounters {
  const n = (s: DeliveryState) => Number(states[s] ?? 0);
  const planned = Object.values(states).reduce((a: number, b) => a + Number(b ?? 0), 0);
  return {
    planned,
    dispatched: n('succeeded') + n('failed') + n('dead') + n('inflight'),
    succeeded: n('succeeded'),
    failed: n('failed') + n('dead'),
    expired: n('expired'),
    retryScheduled,
    retryAttempted,
    deadLettered: n('dead'),
  };
}

export function pageOf<T>(rows: T[], limit: number, key: (item: T) => string): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, nextCursor: more ? encodeCursor(key(items[items.length - 1])) : null };
}

export function publishKey(r: Row): { appId: string; publishId: string } {
  return { appId: String(r.app_id), publishId: String(r.publish_id) };
}

export function deviceFromRow(r: Row): DeviceRecord {
  return {
    appId: String(r.app_id),
    id: String(r.id),
    clientId: (r.client_id as string | null) ?? null,
    formFactor: String(r.form_factor),
    platform: String(r.platform),
    metadata: JSON.parse(String(r.metadata)),
    timezone: String(r.timezone),
    locale: String(r.locale),
    recipient: JSON.parse(String(r.recipient)),
    tokenHash: String(r.token_hash),
    pushState: r.push_state as DeviceRecord['pushState'],
    failureCount: Number(r.failure_count),
    identityHash: (r.identity_hash as string | null) ?? null,
    lastActiveAtMs: Number(r.last_active_at),
    updatedAtMs: Number(r.updated_at),
  };
}

export function subscriptionFromRow(r: Row): ChannelSubscription {
  return { appId: String(r.app_id), channel: String(r.channel), deviceId: String(r.device_id), clientId: (r.client_id as string | null) ?? null, createdAtMs: Number(r.created_at) };
}

export function publishFromRow(r: Row): PublishRecord {
  return {
    appId: String(r.app_id),
    publishId: String(r.publish_id),
    state: r.state as PublishState,
    intent: JSON.parse(String(r.intent)),
    expectedRecipients: Number(r.expected),
    createdAtMs: Number(r.created_at),
    keepUntilMs: Number(r.keep_until),
    errorReason: (r.error_reason as string | null) ?? null,
  };
}

export function deliveryFromRow(r: Row): Delivery {
  return {
    id: Number(r.id),
    appId: String(r.app_id),
    publishId: String(r.publish_id),
    deviceKey: String(r.device_key),
    deviceId: (r.device_id as string | null) ?? null,
    provider: r.provider as Provider,
    recipient: JSON.parse(String(r.recipient)),
    attempts: Number(r.attempts),
    nextAtMs: Number(r.next_at),
    lastError: (r.last_error as string | null) ?? null,
  };
}

export function deadLetterFromRow(r: Row): DeadLetter {
  return {
    id: Number(r.id),
    appId: String(r.app_id),
    publishId: String(r.publish_id),
    deviceId: (r.device_id as string | null) ?? null,
    provider: r.provider as Provider,
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? null,
    deadAtMs: Number(r.updated_at),
  };
}
