// OAuth2 access tokens for FCM from a Google service account: an RS256 JWT-bearer grant posted to the
// account's token_uri, cached until shortly before it expires, one request at a time.
import { type Agent, request } from 'undici';
import type { CryptoPool } from '../cryptoPool.ts';

export interface ServiceAccount {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
  token_uri?: string;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Renew this long before the token's stated expiry, so no request carries a token about to lapse. */
const RENEW_EARLY_MS = 5 * 60_000;

export class GoogleAccessToken {
  private cached: { token: string; renewAtMs: number } | null = null;
  private pending: Promise<string> | null = null;
  /** Tokens minted so far (for tests and logs). */
  minted = 0;

  constructor(
    private readonly account: ServiceAccount,
    private readonly tokenUri: string,
    private readonly pool: CryptoPool,
    private readonly agent: Agent,
  ) {}

  async get(): Promise<string> {
    if (this.cached && this.cached.renewAtMs > Date.now()) return this.cached.token;
    this.pending ??= this.mint().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** The provider refused the token (401): forget it so the next get() mints a new one. */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = null;
  }

  private async mint(): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    const assertion = await this.pool.signJwt({
      alg: 'RS256',
      privateKeyPem: this.account.private_key,
      kid: this.account.private_key_id,
      claims: { iss: this.account.client_email, scope: SCOPE, aud: this.tokenUri, iat, exp: iat + 3600 },
    });
    const res = await request(this.tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: GRANT, assertion }).toString(),
      dispatcher: this.agent,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`token endpoint answered ${res.statusCode}: ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as { access_token?: string; expires_in?: number };
    if (!body.access_token) throw new Error('token endpoint answered without access_token');
    this.minted++;
    this.cached = { token: body.access_token, renewAtMs: Date.now() + (body.expires_in ?? 3600) * 1000 - RENEW_EARLY_MS };
    return body.access_token;
  }
}
