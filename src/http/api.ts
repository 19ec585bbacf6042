// The HTTP API, run on the primary: routing, authentication, and the JSON answers for /apps/{id}/... .
import { verifyApiRequest, parseQuery } from '../auth/apiSignature.ts';
import type { AppConfig, Config } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import type { HttpRequestMessage } from '../ipc/messages.ts';
import type { Logger } from '../log.ts';
import type { ApiMetrics } from '../metrics/registry.ts';
import type { Hub } from '../primary/hub.ts';
import type { Publisher } from '../primary/publisher.ts';
import { parseBatchBody, parseEventBody } from './events.ts';
import { channelInfo, listChannels, presenceUsers, publishInfo } from './queries.ts';

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
  hub: Hub;
  /** Closes every socket of a user on every worker (terminate_connections). */
  terminateUser: (appIndex: number, userId: string) => void;
  now?: () => number;
}

interface Route {
  appId: string;
  /** Path segments after /apps/{appId}/, decoded. */
  rest: string[];
}

/** Splits /apps/{appId}/... into decoded segments; a trailing slash is ignored. */
function parseRoute(path: string): Route | null {
  const parts = path.replace(/\/+$/, '').split('/');
  if (parts.length < 4 || parts[0] !== '' || parts[1] !== 'apps') return null;
  try {
    const [appId, ...rest] = parts.slice(2).map(decodeURIComponent);
    return appId ? { appId, rest } : null;
  } catch {
    throw new HttpError('invalidInput', 'Malformed percent-encoding in the path');
  }
}

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
      const route = parseRoute(req.path);
      if (!route) throw new HttpError('notFound', `No API route for ${req.method} ${req.path}`);
      if (this.appIndex.has(route.appId)) appLabel = route.appId;
      const { app, params } = this.authenticate(req, route.appId);
      res = this.route(req, app, route.rest, params);
    } catch (err) {
      res = this.errorResponse(err, req);
    }
    this.deps.metrics.httpCall(appLabel, Buffer.byteLength(req.body), Buffer.byteLength(res.body));
    return res;
  }

  private authenticate(req: HttpRequestMessage, routeAppId: string): { app: AppConfig; params: Map<string, string> } {
    const params = parseQuery(req.query);
    if (!params.has('auth_key') && !params.has('auth_signature')) {
      const app = this.deps.config.apps.find((a) => a.id === routeAppId);
      // Development mode only: the default app accepts the guide's unsigned curl. Never in production.
      if (this.deps.config.mode === 'development' && app?.development_app) return { app, params };
      throw new HttpError('missingAuth');
    }
    const nowSeconds = Math.floor((this.deps.now?.() ?? Date.now()) / 1000);
    return { app: verifyApiRequest(req, params, (k) => this.appsByKey.get(k), routeAppId, nowSeconds), params };
  }

  private route(req: HttpRequestMessage, app: AppConfig, rest: string[], params: Map<string, string>): ApiResponse {
    if (!app.enabled) throw new HttpError('forbidden', 'Application disabled');
    const index = this.appIndex.get(app.id) as number;
    const { hub, publisher } = this.deps;
    const second = rest[1];
    const is = (method: string, ...pattern: (string | null)[]) =>
      rest.length === pattern.length && pattern.every((p, i) => p === null || p === rest[i]) && this.method(req, method);

    if (is('POST', 'events')) {
      const body = this.jsonBody(req);
      const event = parseEventBody(body, app);
      const info = (body as Record<string, unknown>).info;
      publisher.publish(index, app.id, [event]);
      return json(200, info === undefined ? { ok: true } : publishInfo(hub, app, event.channels, info));
    }
    if (is('POST', 'batch_events')) {
      publisher.publish(index, app.id, parseBatchBody(this.jsonBody(req), app));
      return json(200, {});
    }
    if (is('GET', 'channels')) return json(200, listChannels(hub, app, params));
    if (is('GET', 'channels', null)) return json(200, channelInfo(hub, publisher, app, second, params));
    if (is('GET', 'channels', null, 'users')) return json(200, presenceUsers(hub, app, second));
    if (is('POST', 'users', null, 'terminate_connections')) {
      this.deps.terminateUser(index, second);
      return json(200, {});
    }
    throw new HttpError('notFound', `No API route for ${req.method} ${req.path}`);
  }

  /** True when the method matches; a known path with another method is a 405. */
  private method(req: HttpRequestMessage, expected: string): boolean {
    if (req.method !== expected) throw new HttpError('methodNotAllowed', `${req.method} is not allowed here; use ${expected}`);
    return true;
  }

  private jsonBody(req: HttpRequestMessage): unknown {
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
