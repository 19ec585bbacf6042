// Turns a publish's generic payload into each provider's message (Sockudo's shapes, §6.4), with the
// publish's per-provider overrides merged on top.
import { createHash } from 'node:crypto';
import type { Provider, PublishIntent } from './types.ts';

/** Largest message body each provider accepts. */
export const PROVIDER_LIMIT_BYTES: Record<Provider, number> = { webPush: 4096, fcm: 4096, apns: 4096 };

export interface RenderedPayloads {
  /** The JSON a service worker receives. */
  webPush: { notification: Record<string, unknown>; data: Record<string, unknown> } & Record<string, unknown>;
  /** The FCM `message` without its target (`token`, `topic` or `condition`: the sender adds it). */
  fcm: Record<string, unknown>;
  /** The APNs JSON body. */
  apns: Record<string, unknown>;
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** FCM requires every data value to be a string. */
function stringValues(data: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

export function render(intent: PublishIntent): RenderedPayloads {
  const p = intent.payload;
  const data = p.data ?? {};
  const webPush = {
    notification: defined({ title: p.title, body: p.body, icon: p.icon, sound: p.sound, tag: p.collapseKey }),
    data,
    ...(intent.overrides.webPush ?? {}),
  };
  const android = defined({ collapse_key: p.collapseKey, notification: p.icon || p.sound ? defined({ icon: p.icon, sound: p.sound }) : undefined });
  const fcm = {
    ...defined({ notification: p.title || p.body ? defined({ title: p.title, body: p.body }) : undefined }),
    ...(Object.keys(data).length > 0 ? { data: stringValues(data) } : {}),
    ...(Object.keys(android).length > 0 ? { android } : {}),
    ...(intent.overrides.fcm ?? {}),
  };
  const alert = defined({ title: p.title, body: p.body });
  const apns = {
    aps: defined({ alert: Object.keys(alert).length > 0 ? alert : undefined, sound: p.sound }),
    ...(Object.keys(data).length > 0 ? { data } : {}),
    ...(intent.overrides.apns ?? {}),
  };
  return { webPush, fcm, apns };
}

/** The providers whose rendered message is over its size limit (checked when a publish is accepted). */
export function oversized(rendered: RenderedPayloads): Provider[] {
  return (Object.keys(PROVIDER_LIMIT_BYTES) as Provider[]).filter((p) => Buffer.byteLength(JSON.stringify(rendered[p])) > PROVIDER_LIMIT_BYTES[p]);
}

/** Web Push `Topic`: at most 32 characters of the URL-safe base64 alphabet, so other keys are hashed. */
export function webPushTopic(collapseKey: string | undefined): string | undefined {
  if (!collapseKey) return undefined;
  if (/^[A-Za-z0-9_-]{1,32}$/.test(collapseKey)) return collapseKey;
  return createHash('sha256').update(collapseKey).digest('base64url').slice(0, 32);
}
