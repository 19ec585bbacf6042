// The HTTP API, run on the primary: routing, authentication, and the JSON answers for /apps/{id}/... .
import { randomUUID } from 'node:crypto';
import { type ApiRateBudget, rateLimitedError } from '../apps/apiRateBudget.ts';
import { verifyApiRequest, parseQuery } from '../auth/apiSignature.ts';
import type { AppConfig, Config } from '../config/schema.ts';
import { HttpError } from '../errors.ts';
import type { IdempotentCompletion } from '../adapter/envelope.ts';
import type { HttpRequestMessage, OwnPublishPositions, WorkerToPrimary } from '../ipc/messages.ts';
import type { Logger } from '../log.ts';
import type { ApiMetrics } from '../metrics/registry.ts';
import type { Hub } from '../primary/hub.ts';
import { LocalOnlyDelivery, type Publisher } from '../primary/publisher.ts';
import { type PublishEvent, type PublishRules, checkIdempotencyKey, parseBatchBody, parseEventBody, publishRules } from './events.ts';
import { IdempotentPublisher, fingerprint } from './idempotentPublish.ts';
import { MessageKeyClaims, messageKeyOf } from './messageKeys.ts';
import { channelPushes, sendChannelPushes } from './channelPush.ts';
import { refuseDisabledFeature } from './disabledFeatures.ts';
import type { IdempotencyStore } from '../idempotency/store.ts';
import { channelInfo, listChannels, presenceUsers, publishInfo } from './queries.ts';
import type { PushService } from '../push/pushService.ts';
import { handlePush } from './pushApi.ts';
import { parseRoute } from './route.ts';

export interface ApiResponse {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

export interface ApiDeps {
  config: Config;
  log: Logger;
  publisher: Publisher;
  metrics: ApiMetrics;
  hub: Hub;
  idempotency: IdempotencyStore;
  /** Each app's API request budget, shared with the workers that admit publishes (apps/apiRateBudget.ts). */
  rateBudget: ApiRateBudget;
  /** Null when push is disabled: the /push routes answer 404. */
  push: PushService | null;
  now?: () => number;
}

export class Api {
  private readonly appsByKey: Map<string, AppConfig>;
  private readonly appsById: Map<string, AppConfig>;
  private readonly appIndex: Map<string, number>;
  private readonly idempotent: IdempotentPublisher;

  constructor(private readonly deps: ApiDeps) {
    this.appsByKey = new Map(deps.config.apps.map((a) => [a.key, a]));
    this.appsById = new Map(deps.config.apps.map((a) => [a.id, a]));
    this.appIndex = new Map(deps.config.apps.map((a, i) => [a.id, i]));
    this.idempotent = new IdempotentPublisher(deps.idempotency, deps.metrics);
    this.rules = publishRules(deps.config);
  }

  /** The publish features the config turns off (events.ts PublishRules). */
  private readonly rules: PublishRules;

  async handle(req: HttpRequestMessage): Promise<ApiResponse> {
    let appLabel = 'unknown';
    let res: ApiResponse;
    try {
      const route = parseRoute(req.path);
      if (!route) throw new HttpError('notFound', `No API route for ${req.method} ${req.path}`);
      if (this.appIndex.has(route.appId)) appLabel = route.appId;
      const { app, params } = this.authenticate(req, route.appId);
      res = await this.route(req, app, route.rest, params);
    } catch (err) {
      res = this.errorResponse(err, req);
    }
    this.deps.metrics.httpCall(appLabel, Buffer.byteLength(req.body), Buffer.byteLength(res.body));
    return res;
  }

  /**
   * A publish a worker has already answered (worker/publishAdmission.ts): signed, validated, single host, no
   * idempotency key, so delivering it cannot fail here: it is delivered and counted. Returns what the admitting
   * worker needs to deliver it itself (Publisher.publishAdmitted). With no other worker to hand frames to, the
   * message ids and positions come from the channels the worker listed; otherwise the body, as read, is parsed
   * again with the code that admitted it, under the same configuration, so it validates.
   */
  acceptedPublish(m: Extract<WorkerToPrimary, { type: 'accepted-publish' }>, fromWorker: number): OwnPublishPositions | undefined {
    const app = this.deps.config.apps[m.app];
    this.deps.metrics.httpCall(app.id, m.receivedBytes, m.sentBytes);
    for (let i = 0; i < m.ephemeralEvents; i++) this.deps.metrics.ephemeralMessage(app.id);
    if (!this.deps.publisher.othersNeedFrames()) return this.deps.publisher.positionsOnly(app.id, m.positionChannels, m.positions);
    let events: PublishEvent[];
    try {
      const body: unknown = JSON.parse(m.body);
      events = m.batch ? parseBatchBody(body, app, this.rules) : [parseEventBody(body, app, this.rules)];
    } catch (err) {
      // Cannot happen short of a bug (the worker validated it with this code): the client has its 200 already.
      this.deps.log.error({ err, app: app.id }, 'an accepted publish did not validate on the primary; not delivered');
      // Numbers the worker gave it and sent out stay taken: its next publishes continue from them.
      if (m.positions) this.deps.publisher.positionsOnly(app.id, m.positionChannels, m.positions);
      return undefined;
    }
    return this.deps.publisher.publishAdmitted(m.app, app.id, events, fromWorker, m.positions);
  }

  /** The request's app, and its query parameters (parsed when first asked for). */
  private authenticate(req: HttpRequestMessage, routeAppId: string): { app: AppConfig; params: () => Map<string, string> } {
    // The worker that read the request checked its signature already (worker/apiPrecheck.ts), which means its
    // query parsed; publishes never read it again, so only the routes that do parse it (7–10 % of this
    // thread's time per publish, profiled).
    const verified = req.verifiedAppId === routeAppId ? this.appsById.get(routeAppId) : undefined;
    if (verified) {
      let parsed: Map<string, string> | undefined;
      return { app: verified, params: () => (parsed ??= parseQuery(req.query)) };
    }
    const params = parseQuery(req.query);
    const parsed = () => params;
    if (!params.has('auth_key') && !params.has('auth_signature')) {
      const app = this.appsById.get(routeAppId);
      // Development mode only: the default app accepts the guide's unsigned curl. Never in production.
      if (this.deps.config.mode === 'development' && app?.development_app) return { app, params: parsed };
      // As Sockudo: no query at all is a 400; a query without auth_key names no app (404, below).
      if (params.size === 0) throw new HttpError('missingAuth');
    }
    const nowSeconds = Math.floor((this.deps.now?.() ?? Date.now()) / 1000);
    return { app: verifyApiRequest(req, params, (k) => this.appsByKey.get(k), routeAppId, nowSeconds), params: parsed };
  }

  private async route(req: HttpRequestMessage, app: AppConfig, rest: string[], params: () => Map<string, string>): Promise<ApiResponse> {
    if (!app.enabled) throw new HttpError('forbidden', 'Application disabled');
    const index = this.appIndex.get(app.id) as number;
    // The worker that verified a request spent its app's API budget already (worker/apiRateGate.ts).
    if (req.verifiedAppId !== app.id) this.spendBudget(app, index);
    const { hub, publisher } = this.deps;
    const second = rest[1];
    const is = (method: string, ...pattern: (string | null)[]) =>
      rest.length === pattern.length && pattern.every((p, i) => p === null || p === rest[i]) && this.method(req, method);

    if (is('POST', 'events')) {
      const body = this.jsonBody(req);
      const event = parseEventBody(body, app, this.rules);
      const info = (body as Record<string, unknown>).info ?? undefined; // null is absent, as Sockudo reads it
      const messageKey = messageKeyOf(event); // before acknowledge() gives the message an id of the server's
      const ackId = acknowledge(event, info, this.deps.config.connection_recovery.enabled);
      if (event.ephemeral) this.deps.metrics.ephemeralMessage(app.id);
      const key = event.idempotencyKey ?? (req.idempotencyKey && this.keysOn ? checkIdempotencyKey(req.idempotencyKey) : undefined);
      const keyed = key !== undefined && this.deps.config.idempotency.enabled;
      const print = keyed ? fingerprint('events', body) : '';
      const publish = async () => {
        const answer = JSON.stringify(ackId !== undefined ? await publishInfo(hub, app, event.channels, info, ackId) : { ok: true });
        // With several hosts the key travels with the publish, so whichever host reads it marks it done.
        const completes = keyed ? { scope: app.id, key: key as string, print, status: 200, body: answer, ttlMs: this.ttlMs(app) } : undefined;
        await this.publishKeyed(app, index, [event], [messageKey], completes);
        return { status: 200, body: answer };
      };
      if (!keyed) return json200((await publish()).body);
      const stored = await this.idempotent.run(app.id, app.id, key as string, print, this.ttlMs(app), publish);
      return { status: stored.status, contentType: 'application/json', body: stored.body };
    }
    if (is('POST', 'batch_events')) {
      const body = this.jsonBody(req);
      const events = parseBatchBody(body, app, this.rules);
      for (const e of events) if (e.ephemeral) this.deps.metrics.ephemeralMessage(app.id);
      const raw = (body as { batch: Record<string, unknown>[] }).batch;
      const messageKeys = events.map(messageKeyOf); // before acknowledge() gives messages ids of the server's
      // With `info` or a `message_id` on any item, the answer lists each such item's first channel ({} for the others).
      const ackIds = events.map((e, i) => acknowledge(e, raw[i].info ?? undefined, this.deps.config.connection_recovery.enabled));
      const answer = async () => {
        if (ackIds.every((id) => id === undefined)) return {};
        const infos = events.map(async (e, i) =>
          ackIds[i] !== undefined ? (await publishInfo(hub, app, e.channels, raw[i].info ?? undefined, ackIds[i])).channels[e.channels[0]] : {},
        );
        return { batch: await Promise.all(infos) };
      };
      const headerKey = req.idempotencyKey && this.deps.config.idempotency.enabled ? checkIdempotencyKey(req.idempotencyKey) : undefined;
      const batchPrint = headerKey === undefined ? '' : fingerprint('batch_events', body);
      const items = await this.skipDuplicateItems(app, events, raw, messageKeys);
      let published = false;
      const publish = async () => {
        const reply = JSON.stringify(await answer());
        published = true; // even a local-only delivery has happened on this host
        const completes = headerKey === undefined ? undefined : { scope: `batch:${app.id}`, key: headerKey, print: batchPrint, status: 200, body: reply, ttlMs: this.ttlMs(app) };
        await this.publishKeyed(app, index, items.events, items.messageKeys, completes);
        return { status: 200, body: reply };
      };
      try {
        // The header key covers the whole batch; item keys were claimed above.
        const stored = headerKey === undefined ? await publish() : await this.idempotent.run(app.id, `batch:${app.id}`, headerKey, batchPrint, this.ttlMs(app), publish);
        return { status: stored.status, contentType: 'application/json', body: stored.body };
      } finally {
        // Item claims stand only if this request published them.
        for (const k of items.keys) {
          if (published) await this.idempotent.completeItem(app.id, k.key, k.print, this.ttlMs(app));
          else await this.idempotent.releaseItem(app.id, k.key);
        }
      }
    }
    if (rest[0] === 'push' && this.deps.push) {
      const answer = await handlePush(this.deps.push, req, app, rest.slice(1), params());
      return answer.status === 204 ? { status: 204, contentType: 'application/json', body: '' } : json(answer.status, answer.body);
    }
    if (is('GET', 'channels')) return json(200, await listChannels(hub, app, params()));
    if (is('GET', 'channels', null)) return json(200, await channelInfo(hub, publisher, app, second, params()));
    if (is('GET', 'channels', null, 'users')) return json(200, await presenceUsers(hub, app, second));
    if (is('POST', 'users', null, 'terminate_connections')) {
      await publisher.terminateUser(index, app.id, second, false);
      return json(200, { ok: true });
    }
    if (is('POST', 'users', null, 'force_reconnect')) {
      await publisher.terminateUser(index, app.id, second, true);
      return json(200, { ok: true });
    }
    // Sockudo's history, mutable-message, annotation and presence-history routes: 422 feature_disabled, as its default.
    refuseDisabledFeature(req, app, rest, () => this.jsonBody(req));
    throw new HttpError('notFound', `No API route for ${req.method} ${req.path}`);
  }

  /**
   * Publishes events whose messages may carry their own keys (`messageKeys[i]`, http/messageKeys.ts): each keyed
   * message goes only to the channels that have not had it within the window.
   */
  private async publishKeyed(app: AppConfig, index: number, events: PublishEvent[], messageKeys: (string | undefined)[], completes?: IdempotentCompletion): Promise<void> {
    // Checked before anything is claimed or published: a bad push payload refuses the whole request.
    const pushes = channelPushes(events, this.deps.push);
    if (!this.deps.config.idempotency.enabled || messageKeys.every((k) => k === undefined)) {
      await this.deps.publisher.publish(index, app.id, events, completes);
      return sendChannelPushes(app, events, pushes, this.deps.push, this.deps.log);
    }
    const claims = new MessageKeyClaims(this.idempotent, app.id, this.ttlMs(app), () => this.deps.metrics.idempotentDuplicate(app.id));
    const sent = await claims.take(events, messageKeys);
    const fresh = sent.filter((e): e is PublishEvent => e !== null);
    try {
      if (fresh.length > 0 || completes) await this.deps.publisher.publish(index, app.id, fresh, completes, claims.completions());
    } catch (err) {
      await claims.release();
      throw err;
    }
    await claims.complete();
    // The channels that had a message already had its push too.
    sendChannelPushes(app, sent, pushes, this.deps.push, this.deps.log);
  }

  /** Claims the per-item keys of a batch; items already published with their key are left out. */
  private async skipDuplicateItems(app: AppConfig, events: PublishEvent[], raw: unknown[], messageKeys: (string | undefined)[]) {
    const fresh: PublishEvent[] = [];
    const freshKeys: (string | undefined)[] = [];
    const keys: { key: string; print: string }[] = [];
    if (!this.deps.config.idempotency.enabled) return { events, keys, messageKeys };
    try {
      for (const [i, e] of events.entries()) {
        if (e.idempotencyKey === undefined) {
          fresh.push(e);
          freshKeys.push(messageKeys[i]);
          continue;
        }
        const print = fingerprint('events', raw[i]);
        if ((await this.idempotent.claimItem(app.id, e.idempotencyKey, print, this.ttlMs(app))) === 'claimed') {
          fresh.push(e);
          freshKeys.push(messageKeys[i]);
          keys.push({ key: e.idempotencyKey, print });
        } else {
          this.deps.metrics.idempotentDuplicate(app.id);
        }
      }
    } catch (err) {
      for (const k of keys) await this.idempotent.releaseItem(app.id, k.key);
      throw err;
    }
    return { events: fresh, keys, messageKeys: freshKeys };
  }

  /** Per-app HTTP rate limit: 429 with Retry-After once the window's budget is spent (apps/apiRateBudget.ts). */
  private spendBudget(app: AppConfig, index: number): void {
    const limit = app.limits.max_api_requests_per_second;
    if (limit === 0) return;
    const answer = this.deps.rateBudget.spend(index, limit);
    this.deps.metrics.apiRateChecked(app.id, !answer.granted);
    if (!answer.granted) throw rateLimitedError(limit, answer.msUntilRefill);
  }

  /** Whether idempotency keys count (`idempotency.enabled`): when not, they are ignored unchecked, as in Sockudo. */
  private get keysOn(): boolean {
    return this.deps.config.idempotency.enabled;
  }


  private ttlMs(app: AppConfig): number {
    return (app.idempotency_ttl_seconds ?? this.deps.config.idempotency.ttl_seconds) * 1000;
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
    if (err instanceof LocalOnlyDelivery) err = new HttpError('localOnly', err.message);
    if (err instanceof HttpError) {
      if (err.status === 401) this.deps.log.info({ path: req.path, remote: req.remoteAddress, reason: err.message }, 'API request refused');
      return { status: err.status, contentType: 'application/json', body: err.toBody(), headers: err.headers };
    }
    this.deps.log.error({ err, path: req.path }, 'API request failed');
    const e = new HttpError('internal');
    return { status: e.status, contentType: 'application/json', body: e.toBody() };
  }
}

function json200(body: string): ApiResponse {
  return { status: 200, contentType: 'application/json', body };
}

function json(status: number, value: unknown): ApiResponse {
  return { status, contentType: 'application/json', body: JSON.stringify(value) };
}

/**
 * Sockudo answers a publish that asks for `info` or carries a `message_id` with an acknowledgement id per
 * channel (undefined: no acknowledgement). With connection recovery on, it is the message id it was delivered
 * with: such a publish without a `message_id` gets one now, shared by all its channels (Sockudo assigns one per
 * publish too), so the id answered is the id V2 subscribers see. With recovery off, broadcasts carry no id that
 * the publisher did not give, so the acknowledgement id is the answer's alone.
 */
function acknowledge(event: PublishEvent, info: unknown, recovery: boolean): string | undefined {
  if (info === undefined && event.messageId === undefined) return undefined;
  if (event.messageId !== undefined) return event.messageId;
  const id = randomUUID();
  if (recovery) event.messageId = id;
  return id;
}
