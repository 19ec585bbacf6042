// FCM HTTP v1: `POST {endpoint}/v1/projects/{project}/messages:send` with an OAuth2 bearer token.
import { Agent, request } from 'undici';
import type { CryptoPool } from '../cryptoPool.ts';
import type { DeliveryRecipient } from '../types.ts';
import { GoogleAccessToken, type ServiceAccount } from './googleAccessToken.ts';
import { type AttemptResult, type ProviderSender, REQUEST_TIMEOUT_MS, type SendItem, classifyStatus, describeError, retryAfterMs } from './provider.ts';

/**
 * FCM's answers that mean this registration token will never work again (Sockudo's `DeviceTerminal`): the
 * v1 error code UNREGISTERED, the legacy NotRegistered / InvalidRegistration codes, and an INVALID_ARGUMENT
 * that names the registration token. Nothing else invalidates a device: a bare 404 is what a wrong endpoint,
 * project or proxy answers, and says nothing about the token.
 */
const DEAD_TOKEN_CODES = new Set(['UNREGISTERED', 'NotRegistered', 'InvalidRegistration']);
const INVALID_TOKEN_MESSAGE = /registration token is not a valid FCM registration token|invalid registration token/i;

export class FcmSender implements ProviderSender {
  readonly provider = 'fcm' as const;
  readonly token: GoogleAccessToken;
  private readonly agent: Agent;
  private readonly url: string;

  constructor(account: ServiceAccount, projectId: string, endpoint: string, tokenUri: string, pool: CryptoPool, connections: number) {
    this.agent = new Agent({ connections, connectTimeout: 5000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
    this.token = new GoogleAccessToken(account, tokenUri, pool, this.agent);
    this.url = `${endpoint.replace(/\/+$/, '')}/v1/projects/${encodeURIComponent(projectId)}/messages:send`;
  }

  sendBatch(items: SendItem[]): Promise<AttemptResult[]> {
    return Promise.all(items.map((item) => this.send(item)));
  }

  private async send(item: SendItem): Promise<AttemptResult> {
    const target = targetOf(item.delivery.recipient);
    if (!target) return { kind: 'failed', error: 'an FCM delivery without a gcm recipient, topic or condition' };
    // FCM takes exactly one of token, topic and condition: the delivery's, never one an override brought.
    const { token: _t, topic: _p, condition: _c, ...rendered } = item.rendered.fcm;
    const body = JSON.stringify({ message: { ...rendered, ...target } });
    const result = await this.post(body);
    // A topic or condition has no device whose token could be invalid: such an answer just fails the delivery.
    return result.kind === 'invalidToken' && !('token' in target) ? { kind: 'failed', error: result.error } : result;
  }

  private async post(body: string): Promise<AttemptResult> {
    // A refused token is renewed and the request repeated once, within the same attempt.
    for (let round = 0; ; round++) {
      let bearer: string;
      try {
        bearer = await this.token.get();
      } catch (err) {
        return { kind: 'retry', error: `cannot get an FCM access token: ${(err as Error).message}`.slice(0, 300) };
      }
      try {
        const res = await request(this.url, {
          method: 'POST',
          headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
          body,
          dispatcher: this.agent,
        });
        const text = await res.body.text();
        if (res.statusCode === 401 && round === 0) {
          this.token.invalidate(bearer);
          continue;
        }
        return classify(res.statusCode, text, retryAfterMs(res.headers['retry-after']));
      } catch (err) {
        return { kind: 'retry', error: describeError(err) };
      }
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** The `message` field naming where FCM sends it: a device's token, a topic, or a condition over topics. */
function targetOf(r: DeliveryRecipient): { token: string } | { topic: string } | { condition: string } | null {
  if (r.transportType === 'gcm') return { token: r.registrationToken };
  if (r.transportType === 'fcmTopic') return { topic: r.topic };
  if (r.transportType === 'fcmCondition') return { condition: r.condition };
  return null;
}

/** Reads one FCM answer (exported for the unit tests); Sockudo's `classify_fcm_response`. */
export function classify(status: number, text: string, retryAfter: number | undefined): AttemptResult {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  let code = '';
  let message = text.slice(0, 200);
  let tokenError = false;
  try {
    const e = (JSON.parse(text) as { error?: { status?: string; message?: string; details?: { errorCode?: string }[] } }).error;
    const detail = e?.details?.find((d) => d.errorCode)?.errorCode;
    code = detail ?? e?.status ?? '';
    message = `${code} ${e?.message ?? ''}`.trim();
    tokenError = DEAD_TOKEN_CODES.has(detail ?? '') || (code === 'INVALID_ARGUMENT' && INVALID_TOKEN_MESSAGE.test(e?.message ?? ''));
  } catch {
    // not JSON: keep the raw text
  }
  if (tokenError) return { kind: 'invalidToken', error: `${status}: ${message}` };
  if (status === 429 || status >= 500) return classifyStatus(status, message, retryAfter);
  // 400/413: the payload; 401/403/404: credentials or configuration. Neither is the device's fault.
  return { kind: 'failed', error: `${status}: ${message}` };
}
