// Huawei Push Kit (HMS) server API v1: `POST {endpoint}/v1/{appId}/messages:send` with a static bearer token,
// one device token per message (`message.token: [token]`), as Sockudo's dispatch/hms.rs sends it.
import { Agent, request } from 'undici';
import type { HmsConfig } from '../../config/pushSchema.ts';
import { type AttemptResult, type ProviderSender, REQUEST_TIMEOUT_MS, type SendItem, describeError, retryAfterMs } from './provider.ts';

/** HMS's success code; every answer carries one in `code`. */
const SUCCESS = '80000000';
/**
 * Codes that mean the one token sent is not (or no longer) a valid push token of this app: 80300007 "All the
 * tokens are invalid", and 80100000 "Some tokens are right, others are illegal" (with one token, that one).
 */
const DEAD_TOKEN_CODES = new Set(['80300007', '80100000']);
/** 80200001 OAuth authentication error, 80200003 OAuth token expired, 80300002 no permission for the app. */
const CREDENTIAL_CODES = new Set(['80200001', '80200003', '80300002']);
/** 80300008: the message body is over HMS's size limit. */
const TOO_LARGE_CODES = new Set(['80300008']);

export class HmsSender implements ProviderSender {
  readonly provider = 'hms' as const;
  private readonly agent: Agent;
  private readonly url: string;

  constructor(
    private readonly config: HmsConfig,
    connections: number,
  ) {
    this.agent = new Agent({ connections, connectTimeout: 5000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
    this.url = `${config.endpoint.replace(/\/+$/, '')}/v1/${encodeURIComponent(config.app_id)}/messages:send`;
  }

  sendBatch(items: SendItem[]): Promise<AttemptResult[]> {
    return Promise.all(items.map((item) => this.send(item)));
  }

  private async send(item: SendItem): Promise<AttemptResult> {
    const r = item.delivery.recipient;
    if (r.transportType !== 'hms') return { kind: 'failed', error: 'an HMS delivery without an hms recipient' };
    // HMS takes one of token, topic and condition: the delivery's token, never a target an override brought.
    const { token: _t, topic: _p, condition: _c, ...rendered } = item.rendered.hms;
    const body = JSON.stringify({ message: { ...rendered, token: [r.registrationToken] } });
    try {
      const res = await request(this.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.config.provider_token}`, 'content-type': 'application/json' },
        body,
        dispatcher: this.agent,
      });
      const text = await res.body.text();
      return classifyHms(res.statusCode, text, retryAfterMs(res.headers['retry-after']));
    } catch (err) {
      return { kind: 'retry', error: describeError(err) };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/**
 * Reads one HMS answer: Sockudo's `classify_hms_response`, with two changes. A 401/403 is a credential failure
 * before anything else (Sockudo's body test, "token" with "invalid", would take "access token invalid" for a dead
 * device and invalidate every device), and HMS's own codes decide where they are known.
 */
export function classifyHms(status: number, text: string, retryAfter: number | undefined): AttemptResult {
  let code: string | undefined;
  let msg = '';
  try {
    const parsed = JSON.parse(text) as { code?: unknown; msg?: unknown };
    if (typeof parsed.code === 'string' || typeof parsed.code === 'number') code = String(parsed.code);
    if (typeof parsed.msg === 'string') msg = parsed.msg;
  } catch {
    // not JSON: the status decides
  }
  if (status >= 200 && status < 300 && (code === undefined || code === SUCCESS)) return { kind: 'ok' };
  const detail = `${status}: ${code ? `${code} ` : ''}${msg || text.slice(0, 200)}`.trim();
  const lower = text.toLowerCase();
  if (status === 401 || status === 403 || (code !== undefined && CREDENTIAL_CODES.has(code))) return { kind: 'failed', error: `credentials refused: ${detail}` };
  if ((code !== undefined && DEAD_TOKEN_CODES.has(code)) || status === 404 || status === 410 || (lower.includes('token') && (lower.includes('invalid') || lower.includes('not exist')))) {
    return { kind: 'invalidToken', error: detail };
  }
  if (status === 413 || (code !== undefined && TOO_LARGE_CODES.has(code))) return { kind: 'failed', error: `payload too large: ${detail}` };
  if (status === 429 || lower.includes('quota')) return { kind: 'retry', error: `throttled: ${detail}`, retryAfterMs: retryAfter };
  if (status >= 500) return { kind: 'retry', error: detail, retryAfterMs: retryAfter };
  return { kind: 'failed', error: detail };
}
