// Push notifications on the primary: owns the store, the crypto pool, the providers and the scheduler, and
// admits publishes (validated, rate-limited, deduplicated by publishId, persisted before they are answered).
import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { PushConfig } from '../config/pushSchema.ts';
import type { AppConfig } from '../config/schema.ts';
import { ConfigError } from '../config/load.ts';
import { HttpError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { CryptoPool } from './cryptoPool.ts';
import { setUpProviders } from './providerSetup.ts';
import { PushMetrics } from './pushMetrics.ts';
import type { ParsedPublish } from './requests.ts';
import { PushScheduler } from './scheduler.ts';
import { SqlitePushStore } from './sqliteStore.ts';
import type { PushStore } from './store.ts';
import { PROVIDERS, type PublishRecord, TERMINAL_STATES, directDeliveries } from './types.ts';

export interface PublishAnswer {
  status: number;
  body: Record<string, unknown>;
}

export class PushService {
  private readonly limiters = new Map<string, RateLimiterMemory>();

  private constructor(
    readonly store: PushStore,
    readonly scheduler: PushScheduler,
    private readonly pool: CryptoPool,
    private readonly senders: ReadonlyMap<string, { close(): Promise<void> }>,
    readonly vapidPublicKey: string | null,
    private readonly config: PushConfig,
    private readonly metrics: PushMetrics,
    private readonly log: Logger,
    private readonly maxSyncWaitMs: number,
  ) {}

  /** The key stored provider credentials are encrypted with (push.credential_encryption_key; '' = none). */
  get credentialKey(): string {
    return this.config.credential_encryption_key;
  }

  static async start(config: PushConfig, mode: 'development' | 'production', registry: Registry, log: Logger, maxSyncWaitMs: number): Promise<PushService> {
    // pg is loaded only by hosts that use it.
    const store: PushStore =
      config.storage.driver === 'postgres' ? new (await import('./postgresStore.ts')).PostgresPushStore(requireUrl(config)) : new SqlitePushStore(config.storage.sqlite_path);
    await store.init();
    const pool = new CryptoPool(config.crypto_threads);
    const { senders, vapidPublicKey } = await setUpProviders(config, mode, pool, log, store);
    const metrics = new PushMetrics(registry);
    const scheduler = new PushScheduler({ store, senders, config, log, metrics, soleOwner: config.storage.driver === 'sqlite' });
    await scheduler.start();
    log.info({ providers: [...senders.keys()], storage: config.storage.driver }, senders.size > 0 ? 'push ready' : 'push: no provider configured; publishes answer 503');
    return new PushService(store, scheduler, pool, senders, vapidPublicKey, config, metrics, log, maxSyncWaitMs);
  }

  /**
   * Admits one publish: 202 with its id (or, for `sync`, 200 with its final state). `paid`: its place in the app's
   * acceptance rate was taken already (a batch takes all its items' places before accepting any, spendAcceptance).
   * `quotaOverride`: the push-admin caller sent `x-sockudo-push-quota-override`, so the quotas are not checked.
   */
  async publish(app: AppConfig, parsed: ParsedPublish, nowMs = Date.now(), paid = false, quotaOverride = false): Promise<PublishAnswer> {
    const started = performance.now();
    if (this.senders.size === 0) {
      this.metrics.publishAccepted(app.id, 'unavailable');
      throw new HttpError('serviceUnavailable', 'push admission unavailable: push providers are disabled');
    }
    if (!paid) await this.spendAcceptance(app);
    const publishId = parsed.publishId ?? randomUUID();
    const { intent } = parsed;
    const targets = { channels: [] as string[], devices: [] as string[], clients: [] as string[] };
    for (const t of intent.recipients) {
      if (t.type === 'channel') targets.channels.push(t.channel);
      else if (t.type === 'device') targets.devices.push(t.deviceId);
      else if (t.type === 'client') targets.clients.push(t.clientId);
    }
    // Raw recipients, FCM topics and conditions count 1 each (as Sockudo counts them), the same one twice once (as planned).
    const expectedRecipients = (await this.store.countRecipients(app.id, targets.channels, targets.devices, targets.clients)) + directDeliveries(intent.recipients).length;
    const overQuota = quotaOverride ? null : this.quotaFailure(app, expectedRecipients);
    const record: PublishRecord = {
      appId: app.id,
      publishId,
      state: overQuota ? 'quota_exceeded' : 'queued',
      intent,
      expectedRecipients,
      createdAtMs: nowMs,
      keepUntilMs: intent.expiresAtMs > 0 ? intent.expiresAtMs : nowMs + this.config.publish_ttl_hours * 3600_000,
      errorReason: overQuota,
    };
    const created = await this.store.createPublish(record, nowMs);
    if (!created.created) {
      // The same publishId again inside its lifetime: nothing is sent twice; answer with the first one's state.
      this.metrics.publishAccepted(app.id, 'duplicate');
      this.log.info({ app: app.id, publishId }, 'push publish is a duplicate; not sent again');
      const existing = created.existing;
      return { status: 202, body: { ...ids(publishId), status: existing.state, expectedRecipients: existing.expectedRecipients, duplicate: true } };
    }
    if (overQuota) {
      // As Sockudo: still a 202, the publish is kept (its status says why) and nothing is sent.
      this.metrics.publishAccepted(app.id, 'quota_exceeded');
      this.log.info({ app: app.id, publishId, expectedRecipients, reason: overQuota }, 'push publish over quota; not sent');
      return { status: 202, body: { ...ids(publishId), status: 'quota_exceeded', expectedRecipients, fanoutRegime: 'fastPath' } };
    }
    this.metrics.publishAccepted(app.id, 'accepted', (performance.now() - started) / 1000);
    this.scheduler.wake();
    if (parsed.sync) {
      const state = await this.scheduler.waitForFinal(app.id, publishId, Math.min(this.config.sync_timeout_ms, this.maxSyncWaitMs));
      const status = await this.status(app.id, publishId);
      return { status: state ? 200 : 202, body: status ?? { ...ids(publishId), state: 'queued' } };
    }
    // As Sockudo shows them: FCM's and HMS's payloads are the bodies of their requests, `{"message": …}` (the
    // sender adds the token, topic or condition).
    const renderedPayloads = PROVIDERS.map((provider) => ({
      provider,
      payload: provider === 'fcm' || provider === 'hms' ? { message: parsed.rendered[provider] } : parsed.rendered[provider],
      usedOverride: intent.overrides[provider] !== undefined,
    }));
    return { status: 202, body: { ...ids(publishId), status: 'accepted', expectedRecipients, fanoutRegime: 'fastPath', renderedPayloads } };
  }

  /** Why a publish to `expected` recipients is over the app's quota (Sockudo's texts), or null. */
  private quotaFailure(app: AppConfig, expected: number): string | null {
    if (this.config.fanout_max > 0 && expected > this.config.fanout_max) return `fanout_max exceeded for app ${app.id}`;
    if (this.config.delivery_quota_daily > 0 && expected > this.config.delivery_quota_daily) return `delivery_quota_daily exceeded for app ${app.id}`;
    return null;
  }

  /** The status document of a publish, or null when unknown. */
  async status(appId: string, publishId: string): Promise<Record<string, unknown> | null> {
    const p = await this.store.getPublish(appId, publishId);
    if (!p) return null;
    return {
      appId,
      ...ids(publishId),
      state: p.state,
      // Nothing was planned for a publish over quota; Sockudo's counters show what it would have reached.
      counters: p.state === 'quota_exceeded' ? { ...(await this.store.counters(appId, publishId)), planned: p.expectedRecipients } : await this.store.counters(appId, publishId),
      expectedRecipients: p.expectedRecipients,
      fanoutRegime: 'fastPath',
      ...(p.errorReason ? { errorReason: p.errorReason } : {}),
    };
  }

  /** Cancels a publish that has not finished: its pending deliveries are not sent. */
  async cancel(appId: string, publishId: string): Promise<boolean> {
    const p = await this.store.getPublish(appId, publishId);
    if (!p || TERMINAL_STATES.has(p.state)) return false;
    await this.store.cancelDeliveries(appId, publishId);
    if (p.state === 'queued') {
      await this.store.setPublishState(appId, publishId, 'cancelled', 'cancelled before dispatch');
      this.scheduler.notifyFinal(appId, publishId, 'cancelled');
    } else {
      await this.scheduler.finishIfDone(appId, publishId);
    }
    return true;
  }

  /**
   * Takes `count` places in the app's acceptance rate (push.acceptance_rps per second), all or none: a batch over
   * the rate is refused whole (429), never half accepted, so its retry sends nothing twice. A batch larger than the
   * whole rate takes the whole second's places.
   */
  async spendAcceptance(app: AppConfig, count = 1): Promise<void> {
    let limiter = this.limiters.get(app.id);
    if (!limiter) {
      limiter = new RateLimiterMemory({ points: this.config.acceptance_rps, duration: 1 });
      this.limiters.set(app.id, limiter);
    }
    try {
      await limiter.consume(app.id, Math.min(count, this.config.acceptance_rps));
    } catch (refusal) {
      this.metrics.publishAccepted(app.id, 'rate_limited');
      const wait = Math.max(1, Math.ceil(((refusal as { msBeforeNext?: number }).msBeforeNext ?? 1000) / 1000));
      throw new HttpError('rateLimited', 'push.acceptance_rate_limit exceeded', { 'Retry-After': String(wait) });
    }
  }

  /** Stops taking work, lets sends in flight finish and be recorded, then closes everything. */
  async stop(): Promise<void> {
    await this.scheduler.stop();
    for (const s of this.senders.values()) await s.close();
    await this.pool.close();
    await this.store.close();
  }
}

/** Sockudo answers `publishId`; the guide reads `publish_id`: both are sent. */
function ids(publishId: string): { publishId: string; publish_id: string } {
  return { publishId, publish_id: publishId };
}

function requireUrl(config: PushConfig): string {
  if (!config.storage.postgres_url) throw new ConfigError('push.storage.postgres_url: required with the postgres driver');
  return config.storage.postgres_url;
}
