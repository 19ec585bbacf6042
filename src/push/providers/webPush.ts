// Web Push (RFC 8030): encrypt each message for its subscription (RFC 8291, in the crypto pool) and POST it
// to the subscription's push service with a VAPID token (RFC 8292).
import { Agent, request } from 'undici';
import type { WebPushConfig } from '../../config/pushSchema.ts';
import type { CryptoPool } from '../cryptoPool.ts';
import type { VapidKeys } from '../cryptoTasks.ts';
import { webPushTopic } from '../render.ts';
import { type AttemptResult, type ProviderSender, REQUEST_TIMEOUT_MS, type SendItem, classifyStatus, describeError, retryAfterMs } from './provider.ts';

export class WebPushSender implements ProviderSender {
  readonly provider = 'webPush' as const;
  private readonly agent: Agent;

  constructor(
    private readonly pool: CryptoPool,
    private readonly vapid: VapidKeys,
    private readonly config: WebPushConfig,
    connections: number,
  ) {
    this.agent = new Agent({ connections, connectTimeout: 5000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
  }

  async sendBatch(items: SendItem[]): Promise<AttemptResult[]> {
    const now = Date.now();
    const encrypted = await this.pool.encryptWebPush(
      items.map(({ delivery, intent, rendered }) => {
        const r = delivery.recipient;
        if (r.transportType !== 'web') throw new Error('a Web Push delivery without a web recipient');
        // A publish that expires sooner than the configured TTL tells the push service so.
        const ttl = intent.expiresAtMs > 0 ? Math.max(0, Math.ceil((intent.expiresAtMs - now) / 1000)) : this.config.ttl_seconds;
        return { endpoint: r.endpoint, p256dh: r.p256dh, auth: r.auth, payload: JSON.stringify(rendered.webPush), ttlSeconds: Math.min(ttl, this.config.ttl_seconds), topic: webPushTopic(intent.payload.collapseKey) };
      }),
      this.vapid,
    );
    return Promise.all(items.map((item, i) => this.post(item, encrypted[i])));
  }

  private async post(item: SendItem, message: { headers: Record<string, string>; body: Uint8Array } | { error: string }): Promise<AttemptResult> {
    if ('error' in message) return { kind: 'failed', error: `cannot encrypt for this subscription: ${message.error}` };
    const endpoint = (item.delivery.recipient as { endpoint: string }).endpoint;
    try {
      const res = await request(endpoint, { method: 'POST', headers: message.headers, body: message.body, dispatcher: this.agent });
      const text = (await res.body.text()).slice(0, 200);
      return classifyStatus(res.statusCode, text || 'push service answer', retryAfterMs(res.headers['retry-after']));
    } catch (err) {
      return { kind: 'retry', error: describeError(err) };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
