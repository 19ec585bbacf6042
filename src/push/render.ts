// Turns a publish's generic payload into each provider's message (Sockudo's shapes, §6.4), with the
// publish's per-provider overrides merged on top.
import { createHash } from 'node:crypto';
import type { Provider, PublishIntent } from './types.ts';

/** Largest message body each provider accepts (Sockudo's domain.rs: 4096, WNS 5000). */
export const PROVIDER_LIMIT_BYTES: Record<Provider, number> = { webPush: 4096, fcm: 4096, apns: 4096, hms: 4096, wns: 5000 };

/** WNS notification types (`x-wns-type: wns/<type>`), as Sockudo's dispatch/wns.rs accepts them. */
export const WNS_TYPES = ['toast', 'tile', 'raw'] as const;
export type WnsType = (typeof WNS_TYPES)[number];

export interface RenderedPayloads {
  /** The JSON a service worker receives. */
  webPush: { notification: Record<string, unknown>; data: Record<string, unknown> } & Record<string, unknown>;
  /** The FCM `message` without its target (`token`, `topic` or `condition`: the sender adds it). */
  fcm: Record<string, unknown>;
  /** The APNs JSON body. */
  apns: Record<string, unknown>;
  /** The HMS `message` without its `token` (the sender adds `token: [registrationToken]`). */
  hms: Record<string, unknown>;
  /** The WNS JSON body (Sockudo's toast shape; `type` is the x-wns-type). */
  wns: Record<string, unknown>;
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
  // Sockudo's HMS shape (transform.rs) with Push Kit's types: `data` is a string and `collapse_key` an integer
  // from -1 to 100, so another collapseKey is left out; click_action 3 opens the app, as Sockudo sends it.
  const collapse = p.collapseKey !== undefined && /^-?\d{1,3}$/.test(p.collapseKey) && Number(p.collapseKey) >= -1 && Number(p.collapseKey) <= 100 ? Number(p.collapseKey) : undefined;
  const hms = {
    ...defined({ notification: p.title || p.body || p.icon ? defined({ title: p.title, body: p.body, image: p.icon }) : undefined }),
    ...(Object.keys(data).length > 0 ? { data: JSON.stringify(data) } : {}),
    android: defined({ collapse_key: collapse, notification: defined({ click_action: { type: 3 }, sound: p.sound }) }),
    ...(intent.overrides.hms ?? {}),
  };
  const wns = {
    type: 'toast',
    toast: {
      visual: { binding: defined({ template: 'ToastGeneric', text: [p.title, p.body].filter((t) => t !== undefined), image: p.icon }) },
      ...(p.sound ? { audio: { src: p.sound } } : {}),
    },
    ...(Object.keys(data).length > 0 ? { data } : {}),
    ...(intent.overrides.wns ?? {}),
  };
  return { webPush, fcm, apns, hms, wns };
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
