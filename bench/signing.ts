// Signs Pusher HTTP API publishes (auth_key, auth_timestamp, auth_version, body_md5, auth_signature) and
// private/presence channel subscriptions exactly as the `pusher` server SDK does, so every target does its
// full authentication work.
import { createHash, createHmac } from 'node:crypto';

export interface AppCredentials {
  id: string;
  key: string;
  secret: string;
}

export const BENCH_APP: AppCredentials = { id: 'app-id', key: 'app-key', secret: 'app-secret' };

/** The signed request path with query for a POST of `body` to `path`, at `timestampSeconds`. */
export function signedPath(app: AppCredentials, path: string, body: string, timestampSeconds: number): string {
  return signed(app, 'POST', path, { body_md5: createHash('md5').update(body).digest('hex') }, timestampSeconds);
}

/** The signed path with query for a GET of `path` (no body, so no body_md5). */
export function signedGetPath(app: AppCredentials, path: string, timestampSeconds: number): string {
  return signed(app, 'GET', path, {}, timestampSeconds);
}

function signed(app: AppCredentials, method: string, path: string, extra: Record<string, string>, timestampSeconds: number): string {
  const params: Record<string, string> = { auth_key: app.key, auth_timestamp: String(timestampSeconds), auth_version: '1.0', ...extra };
  const query = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  const signature = createHmac('sha256', app.secret).update(`${method}\n${path}\n${query}`).digest('hex');
  return `${path}?${query}&auth_signature=${signature}`;
}

/** `events`: one event (POST /apps/{id}/events); `batch_events`: up to 10 (POST /apps/{id}/batch_events). */
export type PublishKind = 'events' | 'batch_events';

/**
 * A fixed body's signed URL changes only with the timestamp, so the loader signs once per second and spends
 * its CPU on load rather than on HMACs. The server still verifies every request in full.
 */
export class SignedPublish {
  private second = -1;
  private cached = '';
  constructor(
    private readonly app: AppCredentials,
    readonly body: string,
    private readonly kind: PublishKind = 'events',
  ) {}

  get path(): string {
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.second) {
      this.second = now;
      this.cached = signedPath(this.app, `/apps/${this.app.id}/${this.kind}`, this.body, now);
    }
    return this.cached;
  }
}

/** Private and presence channel auth as a client's auth endpoint signs it: `key:` + HMAC of socket_id:channel[:channel_data]. */
export function channelAuth(app: AppCredentials, socketId: string, channel: string, channelData?: string): string {
  const message = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  return `${app.key}:${createHmac('sha256', app.secret).update(message).digest('hex')}`;
}
