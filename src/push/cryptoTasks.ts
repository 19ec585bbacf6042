// The CPU-heavy parts of push, run in the piscina pool (never on the primary's event loop): Web Push
// encryption (RFC 8291 aes128gcm) with its VAPID token (RFC 8292), and provider JWT signing (ES256, RS256).
import { SignJWT, importPKCS8 } from 'jose';
import webpush from 'web-push';

export interface WebPushItem {
  endpoint: string;
  p256dh: string;
  auth: string;
  payload: string;
  ttlSeconds: number;
  topic?: string;
}

export interface VapidKeys {
  subject: string;
  publicKey: string;
  privateKey: string;
}

export interface EncryptedPush {
  headers: Record<string, string>;
  body: Uint8Array;
}

/** VAPID tokens depend only on the push service's origin: one per origin, reused for 12 of its 24 hours. */
const VAPID_LIFETIME_S = 12 * 3600;
const vapidByOrigin = new Map<string, { authorization: string; renewAtMs: number }>();

function vapidAuthorization(endpoint: string, vapid: VapidKeys): string {
  const origin = new URL(endpoint).origin;
  const cached = vapidByOrigin.get(origin);
  if (cached && cached.renewAtMs > Date.now()) return cached.authorization;
  const expiration = Math.floor(Date.now() / 1000) + VAPID_LIFETIME_S;
  const headers = webpush.getVapidHeaders(origin, vapid.subject, vapid.publicKey, vapid.privateKey, 'aes128gcm', expiration);
  const authorization = String(headers.Authorization);
  vapidByOrigin.set(origin, { authorization, renewAtMs: Date.now() + (VAPID_LIFETIME_S / 2) * 1000 });
  return authorization;
}

/** Encrypts each item for its subscription; an item that cannot be encrypted (bad keys) gets its error text. */
export function encryptWebPush(task: { items: WebPushItem[]; vapid: VapidKeys }): (EncryptedPush | { error: string })[] {
  return task.items.map((item) => {
    try {
      // A fresh ephemeral ECDH key and salt per message, as RFC 8291 requires.
      const { cipherText } = webpush.encrypt(item.p256dh, item.auth, item.payload, 'aes128gcm');
      const headers: Record<string, string> = {
        authorization: vapidAuthorization(item.endpoint, task.vapid),
        'content-encoding': 'aes128gcm',
        'content-type': 'application/octet-stream',
        ttl: String(item.ttlSeconds),
        urgency: 'normal',
      };
      if (item.topic) headers.topic = item.topic;
      return { headers, body: new Uint8Array(cipherText) };
    } catch (err) {
      return { error: (err as Error).message };
    }
  });
}

export interface JwtTask {
  alg: 'ES256' | 'RS256';
  privateKeyPem: string;
  kid?: string;
  claims: Record<string, unknown>;
}

/** Signs a provider token (APNs: ES256 with kid; Google OAuth2 assertion: RS256). */
export async function signJwt(task: JwtTask): Promise<string> {
  const key = await importPKCS8(task.privateKeyPem, task.alg);
  return new SignJWT(task.claims).setProtectedHeader({ alg: task.alg, typ: 'JWT', ...(task.kid ? { kid: task.kid } : {}) }).sign(key);
}
