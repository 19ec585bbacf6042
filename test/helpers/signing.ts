// Builds Pusher-signed API URLs by hand, so tests can also sign things the SDK never would.
import { createHash, createHmac } from 'node:crypto';

export interface SignOptions {
  method?: string;
  path: string;
  body?: string;
  key?: string;
  secret?: string;
  timestamp?: number;
  /** Extra query parameters, signed with the rest. */
  extra?: Record<string, string>;
  /** Replace these parameters after signing (to forge). */
  override?: Record<string, string>;
  omit?: string[];
}

export function signedUrl(base: string, o: SignOptions): string {
  const method = o.method ?? 'POST';
  const params: Record<string, string> = {
    auth_key: o.key ?? 'app-key',
    auth_timestamp: String(o.timestamp ?? Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
    // Pusher signs lower-cased parameter names.
    ...Object.fromEntries(Object.entries(o.extra ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
  if (method === 'POST') params.body_md5 = createHash('md5').update(o.body ?? '').digest('hex');
  for (const k of o.omit ?? []) delete params[k];
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  params.auth_signature = createHmac('sha256', o.secret ?? 'app-secret').update(`${method}\n${o.path}\n${canonical}`).digest('hex');
  Object.assign(params, o.override);
  return `${base}${o.path}?${new URLSearchParams(params).toString()}`;
}
