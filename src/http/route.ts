// The shape of an HTTP API path: /apps/{appId}/... split into decoded segments.
import { HttpError } from '../errors.ts';

export interface Route {
  appId: string;
  /** Path segments after /apps/{appId}/, decoded. */
  rest: string[];
}

/** Splits /apps/{appId}/... into decoded segments; a trailing slash is ignored. */
export function parseRoute(path: string): Route | null {
  const parts = (path.endsWith('/') ? path.replace(/\/+$/, '') : path).split('/');
  if (parts.length < 4 || parts[0] !== '' || parts[1] !== 'apps') return null;
  try {
    // Plain segments (nearly all) skip decodeURIComponent: every API request is routed on a worker and again here.
    const [appId, ...rest] = parts.slice(2).map((p) => (p.includes('%') ? decodeURIComponent(p) : p));
    return appId ? { appId, rest } : null;
  } catch {
    throw new HttpError('invalidInput', 'Malformed percent-encoding in the path');
  }
}
