// The HTTP API, run on the primary: routing, authentication, and the JSON answers for /apps/{id}/... .
import { verifyApiRequest, parseQuery } from '../auth/apiSignature.ts';
import type { AppConfig, Config } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import type { HttpRequestMessage } from '../ipc/messages.ts';
import type { Logger } from '../log.ts';
import type { ApiMetrics } from '../metrics/registry.ts';
import type { Publisher } from '../primary/publisher.ts';
import { parseBatchBody, parseEventBody } from './events.ts';

export interface ApiResponse {
  status: number;
  contentType: string;
  body: string;
}

export interface ApiDeps {
  config: Config;
  log: Logger;
  publisher: Publisher;
  metrics: ApiMetrics;
  now?: () => number;
}

const ROUTE = /^\/apps\/([^/]+)\/([a-z_]+)\/?$/;

export class Api {
  private readonly appsByKey: Map<string, AppConfig>;
  private readonly appIndex: Map<string, number>;

  constructor(private readonly deps: ApiDeps) {
    this.appsByKey = new Map(deps.config.apps.map((a) => [a.key, a]));
    this.appIndex = new Map(deps.config.apps.map((a, i) => [a.id, i]));
  }

  handle(req: HttpRequestMessage): ApiResponse {
    let appLabel = 'unknown';
    let res: ApiResponse;
    try {
      const match = ROUTE.exec(req.path);
      if (!match) throw new HttpError('notFound', `No API route for ${req.method} ${req.path}`);
      const [, routeAppId, action] = match;
      if (this.appIndex.has(routeAppId)) appLabel = routeAppId;
      const app = this.authenticate(req, routeAppId);
      res = this.route(req, app, action);
    } catch (err) {
      res = this.errorResponse(err, req);
    }
    this.deps.metrics.httpCall(appLabel, Buffer.byteLength(req.body), Buffer.byteLength(res.body));
    return res;
  }

  private authenticate(req: HttpRequestMessage, routeAppId: string): AppConfig {
    const params = parseQuery(req.query);
    if (!params.has('auth_key') && !params.has('auth_signature')) {
      const app = this.deps.config.apps.find((a) => a.id === routeAppId);
      // Development mode only: the default app accepts the guide's unsigned curl. Never in production.
      if (this.deps.config.mode === 'development' && app?.development_app) return app;
      throw new HttpError('missingAuth');
    }
    const nowSeconds = Math.floor((this.deps.now?.() ?? Date.now()) / 1000);
    return verifyApiRequest(req, params, (k) => this.appsByKey.get(k), routeAppId, nowSeconds);
  }

  private route(req: HttpRequestMessage, app: AppConfig, action: string): ApiResponse {
    if (!app.enabled) throw new HttpError('forbidden', 'Application disabled');
    switch (action) {
      case 'events': {
        const event = parseEventBody(this.jsonBody(req), app);
        this.deps.publisher.publish(this.appIndex.get(app.id) as number, app.id, [event]);
        return json(200, { ok: true });
      }
      case 'batch_events': {
        const events = parseBatchBody(this.jsonBody(req), app);
        this.deps.publisher.publish(this.appIndex.get(app.id) as number, app.id, events);
        return json(200, {});
      }
      default:
        throw new HttpError('notFound', `No API route for ${req.method} ${req.path}`);
    }
  }

  private jsonBody(req: HttpRequestMessage): unknown {
    if (req.method !== 'POST') throw new HttpError('methodNotAllowed', `${req.method} is not allowed here; use POST`);
    if (!/^application\/json\b/i.test(req.contentType)) throw new HttpError('unsupportedMediaType');
    try {
      return JSON.parse(req.body);
    } catch (err) {
      throw new HttpError('invalidJson', `Request body is not valid JSON: ${(err as Error).message}`);
    }
  }

  private errorResponse(err: unknown, req: HttpRequestMessage): ApiResponse {
    if (err instanceof HttpError) {
      if (err.status === 401) this.deps.log.info({ path: req.path, remote: req.remoteAddress, reason: err.message }, 'API request refused');
      return { status: err.status, contentType: 'application/json', body: err.toBody() };
    }
    this.deps.log.error({ err, path: req.path }, 'API request failed');
    const e = new HttpError('internal');
    return { status: e.status, contentType: 'application/json', body: e.toBody() };
  }
}

function json(status: number, value: unknown): ApiResponse {
  return { status, contentType: 'application/json', body: JSON.stringify(value) };
}
