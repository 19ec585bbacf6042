// APNs: HTTP/2 `POST /3/device/{token}` with an ES256 provider token (kid, iss; reused for 50 minutes, Apple
// refuses tokens older than an hour and throttles ones renewed more often than every 20 minutes).
import { createHash } from 'node:crypto';
import { type ClientHttp2Session, connect, constants } from 'node:http2';
import type { ApnsConfig } from '../../config/pushSchema.ts';
import type { CryptoPool } from '../cryptoPool.ts';
import { type AttemptResult, type ProviderSender, REQUEST_TIMEOUT_MS, type SendItem, classifyStatus, describeError, retryAfterMs } from './provider.ts';

const TOKEN_REUSE_MS = 50 * 60_000;
/** APNs reasons that mean the device token is no longer valid for this app. */
const DEAD_TOKEN_REASONS = new Set(['Unregistered', 'BadDeviceToken', 'DeviceTokenNotForTopic']);
const TOKEN_REASONS = new Set(['ExpiredProviderToken', 'InvalidProviderToken']);

export class ApnsSender implements ProviderSender {
  readonly provider = 'apns' as const;
  private session: ClientHttp2Session | null = null;
  private token: { jwt: string; mintedAtMs: number } | null = null;
  private minting: Promise<string> | null = null;
  /** Provider tokens signed so far (for tests and logs). */
  minted = 0;

  constructor(
    private readonly config: ApnsConfig,
    private readonly privateKeyPem: string,
    private readonly pool: CryptoPool,
  ) {}

  sendBatch(items: SendItem[]): Promise<AttemptResult[]> {
    return Promise.all(items.map((item) => this.send(item)));
  }

  private async providerToken(): Promise<string> {
    if (this.token && Date.now() - this.token.mintedAtMs < TOKEN_REUSE_MS) return this.token.jwt;
    this.minting ??= this.pool
      .signJwt({ alg: 'ES256', privateKeyPem: this.privateKeyPem, kid: this.config.key_id, claims: { iss: this.config.team_id, iat: Math.floor(Date.now() / 1000) } })
      .then((jwt) => {
        this.minted++;
        this.token = { jwt, mintedAtMs: Date.now() };
        return jwt;
      })
      .finally(() => {
        this.minting = null;
      });
    return this.minting;
  }

  /** One HTTP/2 connection, reopened when it closes or fails. */
  private connection(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = connect(this.config.endpoint);
    session.on('error', () => session.destroy());
    session.on('goaway', () => session.close());
    session.on('close', () => {
      if (this.session === session) this.session = null;
    });
    this.session = session;
    return session;
  }

  private async send(item: SendItem): Promise<AttemptResult> {
    const r = item.delivery.recipient;
    if (r.transportType !== 'apns') return { kind: 'failed', error: 'an APNs delivery without an apns recipient' };
    const headers: Record<string, string> = {
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: `/3/device/${r.deviceToken}`,
      'apns-topic': this.config.topic,
      'apns-push-type': this.config.push_type,
      'apns-priority': String(this.config.priority),
      // The same id for every attempt of one publish to one device, so Apple's logs tie them together.
      'apns-id': stableUuid(`${item.delivery.appId}\0${item.delivery.publishId}\0${item.delivery.deviceKey}`),
      'content-type': 'application/json',
    };
    if (item.intent.payload.collapseKey) headers['apns-collapse-id'] = item.intent.payload.collapseKey;
    if (item.intent.expiresAtMs > 0) headers['apns-expiration'] = String(Math.floor(item.intent.expiresAtMs / 1000));
    const body = JSON.stringify(item.rendered.apns);
    for (let round = 0; ; round++) {
      let jwt: string;
      try {
        jwt = await this.providerToken();
      } catch (err) {
        return { kind: 'failed', error: `cannot sign the APNs provider token: ${(err as Error).message}`.slice(0, 300) };
      }
      let answer: { status: number; reason: string; retryAfter: string | undefined };
      try {
        answer = await this.post({ ...headers, authorization: `bearer ${jwt}` }, body);
      } catch (err) {
        return { kind: 'retry', error: describeError(err) };
      }
      if (answer.status === 403 && TOKEN_REASONS.has(answer.reason) && round === 0) {
        if (this.token?.jwt === jwt) this.token = null;
        continue;
      }
      if (DEAD_TOKEN_REASONS.has(answer.reason) || answer.status === 410) return { kind: 'invalidToken', error: `${answer.status}: ${answer.reason}` };
      return classifyStatus(answer.status, answer.reason || 'APNs answer', retryAfterMs(answer.retryAfter));
    }
  }

  private post(headers: Record<string, string>, body: string): Promise<{ status: number; reason: string; retryAfter: string | undefined }> {
    return new Promise((resolve, reject) => {
      const stream = this.connection().request(headers);
      stream.setTimeout(REQUEST_TIMEOUT_MS, () => stream.close(constants.NGHTTP2_CANCEL));
      let status = 0;
      let retryAfter: string | undefined;
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        status = Number(h[constants.HTTP2_HEADER_STATUS]);
        retryAfter = h['retry-after'] as string | undefined;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('close', () => {
        if (status === 0) return reject(Object.assign(new Error('stream closed without an answer'), { code: 'APNS_NO_ANSWER' }));
        let reason = '';
        try {
          reason = chunks.length > 0 ? String((JSON.parse(Buffer.concat(chunks).toString()) as { reason?: string }).reason ?? '') : '';
        } catch {
          reason = Buffer.concat(chunks).toString().slice(0, 200);
        }
        resolve({ status, reason, retryAfter });
      });
      stream.end(body);
    });
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s && !s.destroyed) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** A UUID-shaped id derived from `seed` (APNs wants the canonical 8-4-4-4-12 form). */
function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
