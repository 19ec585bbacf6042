// Windows Push Notification Services: `POST <channelUri>` with a static bearer token and `x-wns-type`, the
// rendered JSON as the body, as Sockudo's dispatch/wns.rs sends it.
import { Agent, request } from 'undici';
import type { WnsConfig } from '../../config/pushSchema.ts';
import { WNS_TYPES, type WnsType } from '../render.ts';
import { type AttemptResult, type ProviderSender, REQUEST_TIMEOUT_MS, type SendItem, describeError, retryAfterMs } from './provider.ts';

export class WnsSender implements ProviderSender {
  readonly provider = 'wns' as const;
  private readonly agent: Agent;

  constructor(
    private readonly config: WnsConfig,
    connections: number,
  ) {
    this.agent = new Agent({ connections, connectTimeout: 5000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
  }

  sendBatch(items: SendItem[]): Promise<AttemptResult[]> {
    return Promise.all(items.map((item) => this.send(item)));
  }

  private async send(item: SendItem): Promise<AttemptResult> {
    const r = item.delivery.recipient;
    if (r.transportType !== 'wns') return { kind: 'failed', error: 'a WNS delivery without a wns recipient' };
    if (!/^https:\/\//i.test(r.channelUri)) return { kind: 'failed', error: 'the WNS channel URI is not an https URL' };
    const type = wnsType(item.intent.overrides.wns?.type, this.config.type);
    if (!type) return { kind: 'failed', error: `invalid WNS notification type ${JSON.stringify(item.intent.overrides.wns?.type)} (one of ${WNS_TYPES.join(', ')})` };
    const body = JSON.stringify({ ...item.rendered.wns, type });
    try {
      const res = await request(r.channelUri, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.config.provider_token}`,
          'x-wns-type': `wns/${type}`,
          // Sockudo's content types: JSON, and raw notifications as octet-stream (as WNS requires for raw).
          'content-type': type === 'raw' ? 'application/octet-stream' : 'application/json',
        },
        body,
        dispatcher: this.agent,
      });
      const text = (await res.body.text()).slice(0, 200);
      const description = res.headers['x-wns-error-description'];
      return classifyWns(res.statusCode, (typeof description === 'string' && description) || text || 'WNS answer', retryAfterMs(res.headers['retry-after']));
    } catch (err) {
      return { kind: 'retry', error: describeError(err) };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** The publish's own type (its wns override's `type`), else the configured one; null when the override's is not WNS's. */
export function wnsType(requested: unknown, configured: WnsType): WnsType | null {
  if (requested === undefined) return configured;
  return typeof requested === 'string' && (WNS_TYPES as readonly string[]).includes(requested) ? (requested as WnsType) : null;
}

/**
 * Reads one WNS answer: Sockudo's `classify_wns_response` (2xx accepted; 404/410 the channel URI is unknown or
 * expired; 401/403 credentials; 413 payload; 429 and 5xx retried), and 406, WNS's "throttle limit exceeded", retried
 * like a 429 as Microsoft documents it (Sockudo's catch-all refuses it).
 */
export function classifyWns(status: number, detail: string, retryAfter: number | undefined): AttemptResult {
  if (status >= 200 && status <= 202) return { kind: 'ok' };
  if (status === 404 || status === 410) return { kind: 'invalidToken', error: `${status}: channel URI ${status === 410 ? 'expired' : 'not valid'} (${detail})` };
  if (status === 401 || status === 403) return { kind: 'failed', error: `credentials refused: ${status}: ${detail}` };
  if (status === 413) return { kind: 'failed', error: `payload too large: ${status}: ${detail}` };
  if (status === 429 || status === 406) return { kind: 'retry', error: `${status} throttled: ${detail}`, retryAfterMs: retryAfter };
  if (status >= 500) return { kind: 'retry', error: `${status}: ${detail}`, retryAfterMs: retryAfter };
  return { kind: 'failed', error: `${status}: ${detail}` };
}
