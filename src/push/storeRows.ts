// Row mapping shared by the SQL stores (SQLite and PostgreSQL use the same column names), pagination, and the
// queries both run as they are.
import { type ChannelSubscription, type DeadLetter, type Delivery, type DeliveryState, type DeviceRecord, type Page, PROVIDERS, type Provider, type PublishCounters, type PublishRecord, type PublishState } from './types.ts';

/**
 * PushStore.nextDueAt: the earliest notBefore of a queued publish or nextAt of a pending delivery, as `t`. One
 * MIN per provider, so each reads the end of the (provider, state, next_at) index instead of scanning the table.
 */
export const NEXT_DUE_SQL = `SELECT MIN(t) AS t FROM (
  SELECT MIN(not_before) AS t FROM push_publishes WHERE state = 'queued'
  ${PROVIDERS.map((p) => `UNION ALL SELECT MIN(next_at) AS t FROM push_deliveries WHERE provider = '${p}' AND state = 'pending'`).join('\n  ')}
) due`;

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

/** A page of documents (rows of id and JSON body, one more than `limit` when there are more). */
export function documentPage(rows: { id: string; body: string }[], limit: number): Page<unknown> {
  const page = pageOf(rows, limit, (r) => String(r.id));
  return { items: page.items.map((r) => JSON.parse(String(r.body))), nextCursor: page.nextCursor };
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
