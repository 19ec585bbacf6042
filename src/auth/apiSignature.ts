// Verifies Pusher HTTP API request signatures (auth_key, auth_timestamp, body_md5, auth_signature).
import type { AppConfig } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import { md5Hex, safeEqual, sign } from './hmac.ts';

export const TIMESTAMP_WINDOW_SECONDS = 600;

export interface SignedRequest {
  method: string;
  path: string;
  /** Raw query string without the leading `?`. */
  query: string;
  body: string;
}

/** Decodes a query string; repeated keys are refused because the signature could not say which one was meant. */
export function parseQuery(query: string): Map<string, string> {
  const params = new Map<string, string>();
  // A scan rather than split('&') and slices of slices: this runs for every API request on the worker.
  for (let start = 0; start < query.length; ) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const hasValue = eq >= 0 && eq < end;
      const key = decodeComponent(query.slice(start, hasValue ? eq : end)).toLowerCase();
      const value = hasValue ? decodeComponent(query.slice(eq + 1, end)) : '';
      if (params.has(key)) throw new HttpError('invalidInput', `Duplicate query parameter: ${key}`);
      params.set(key, value);
    }
    start = end + 1;
  }
  return params;
}

/** Form decoding as URLSearchParams does it ('+' is a space), without its allocations for plain text. */
function decodeComponent(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    throw new HttpError('invalidInput', 'Malformed percent-encoding in the query string');
  }
}

/** The string Pusher signs: METHOD\npath\nsorted key=value pairs (decoded values), without auth_signature. */
export function stringToSign(method: string, path: string, params: Map<string, string>): string {
  const keys: string[] = [];
  for (const k of params.keys()) if (k !== 'auth_signature') keys.push(k);
  keys.sort(); // code-unit order, as the SDKs sort
  let pairs = '';
  for (let i = 0; i < keys.length; i++) pairs += `${i === 0 ? '' : '&'}${keys[i]}=${params.get(keys[i])}`;
  return `${method.toUpperCase()}\n${path}\n${pairs}`;
}

/**
 * Checks a signed request against the app named in its route. Order and messages follow Sockudo (§4.1).
 * `nowSeconds` is injected so tests can probe the ±600 s window exactly.
 */
export function verifyApiRequest(
  req: SignedRequest,
  params: Map<string, string>,
  findAppByKey: (key: string) => AppConfig | undefined,
  routeAppId: string,
  nowSeconds: number,
): AppConfig {
  const key = params.get('auth_key');
  if (!key) throw new HttpError('appNotFound');
  const app = findAppByKey(key);
  if (!app) throw new HttpError('appNotFound');
  if (app.id !== routeAppId) throw new HttpError('authFailed', 'Authenticated app does not match route app_id');

  const ts = params.get('auth_timestamp');
  if (ts === undefined || ts === '') throw new HttpError('authFailed', 'auth_timestamp is missing');
  if (!/^\d+$/.test(ts)) throw new HttpError('authFailed', 'Invalid auth_timestamp format');
  if (Math.abs(nowSeconds - Number(ts)) > TIMESTAMP_WINDOW_SECONDS) {
    throw new HttpError('authFailed', 'Timestamp expired or too far in the future');
  }

  const bodyMd5 = params.get('body_md5');
  if (req.method === 'POST' || req.method === 'PUT') {
    if (!bodyMd5) throw new HttpError('authFailed', `body_md5 is required and must be non-empty in query parameters for ${req.method} requests with a non-empty body`);
    if (!safeEqual(bodyMd5.toLowerCase(), md5Hex(req.body))) throw new HttpError('authFailed', 'body_md5 mismatch');
  } else if (bodyMd5 !== undefined) {
    throw new HttpError('authFailed', `body_md5 must not be present in query parameters for ${req.method} requests`);
  }

  const signature = params.get('auth_signature') ?? '';
  // As Sockudo: the signed path has no trailing '/' (routing ignores it too).
  const path = req.path.length > 1 && req.path.endsWith('/') ? req.path.slice(0, -1) : req.path;
  const expected = sign(app.secret, stringToSign(req.method, path, params));
  // The lower-case hex HMAC exactly, as Sockudo compares it (an upper-case signature is refused).
  if (!safeEqual(signature, expected)) throw new HttpError('authFailed');
  return app;
}
