// Checks an API request's signature on the worker thread that read it. The primary thread is the
// bottleneck of HTTP publishing, and the HMAC, MD5 and query parsing were a quarter of its time per
// publish; the workers have time to spare. Only a request that passes is marked verified: anything else
// goes to the primary unmarked, which checks it again and gives the coded answer, log line and metrics.
import { parseQuery, verifyApiRequest } from '../auth/apiSignature.ts';
import type { AppConfig, Config } from '../config/schema.ts';
import { parseRoute } from '../http/route.ts';

export class ApiPrecheck {
  private readonly appsByKey: Map<string, AppConfig>;

  private readonly findApp = (key: string) => this.appsByKey.get(key);

  constructor(config: Config) {
    this.appsByKey = new Map(config.apps.map((a) => [a.key, a]));
  }

  /** The app id a correctly signed request belongs to; undefined when it is not (or not signed at all). */
  verifiedAppId(method: string, path: string, query: string, body: string): string | undefined {
    try {
      const route = parseRoute(path);
      if (!route) return undefined;
      const params = parseQuery(query);
      if (!params.has('auth_signature')) return undefined;
      const app = verifyApiRequest({ method, path, query, body }, params, this.findApp, route.appId, Math.floor(Date.now() / 1000));
      return app.id;
    } catch {
      return undefined;
    }
  }
}
