// The push scheduler, on the primary thread: plans accepted publishes into per-device deliveries, claims due
// deliveries from storage with bounded concurrency per provider, sends them, records outcomes with the retry
// policy, and moves each publish to its terminal state. Everything it knows is in the store, so a restart
// resumes where it stopped.
import { EventEmitter } from 'node:events';
import type { PushConfig } from '../config/pushSchema.ts';
import type { Logger } from '../log.ts';
import { BREAKER_GAUGE, CircuitBreaker } from './circuitBreaker.ts';
import type { PushMetrics } from './pushMetrics.ts';
import { type RenderedPayloads, render } from './render.ts';
import { outcomeOf } from './retryPolicy.ts';
import type { DeliveryOutcome, PushStore } from './store.ts';
import type { AttemptResult, ProviderSender, SendItem } from './providers/provider.ts';
import { tokenHash } from './tokens.ts';
import { type Delivery, type DeliveryState, PROVIDERS, type Provider, type PublishIntent, type PublishRecord, type PublishState, TERMINAL_STATES, isFcmAudience, recipientToken } from './types.ts';

/** How long a claimed delivery belongs to this host; past it another host may decide it was interrupted. */
const LEASE_MS = 60_000;
/** The shortest idle pause: a retry or a delayed publish due sooner is noticed up to this late. */
const IDLE_POLL_MS = 100;
/**
 * Housekeeping's period, and the longest idle pause: an idle scheduler sleeps until the next retry or delayed
 * publish is due (PushStore.nextDueAt), but wakes at least this often for housekeeping and for work another
 * host stored. New publishes on this host wake it at once (wake()).
 */
const HOUSEKEEPING_MS = 1000;
const PURGE_MS = 10 * 60_000;
/** Deliveries sent as one unit (one crypto task, one outcome transaction). */
const DISPATCH_GROUP = 16;
const MAX_CACHED_PAYLOADS = 1000;
const MAX_PLAN_FAILURES = 5;

export interface SchedulerOptions {
  store: PushStore;
  senders: Map<Provider, ProviderSender>;
  config: PushConfig;
  log: Logger;
  metrics: PushMetrics;
  /** True when no other host can hold leases on this store (SQLite): in-flight rows at start are ours. */
  soleOwner: boolean;
  now?: () => number;
}

/** The terminal state of a publish whose deliveries are all finished. */
export function finalState(states: Partial<Record<DeliveryState, number>>): { state: PublishState; reason: string | null } {
  const n = (s: DeliveryState) => states[s] ?? 0;
  const total = Object.values(states).reduce((a, b) => a + (b ?? 0), 0);
  if (n('succeeded') === total) return { state: 'succeeded', reason: null };
  const summary = `${n('succeeded')} of ${total} deliveries succeeded, ${n('failed')} failed, ${n('dead')} dead-lettered, ${n('expired')} expired, ${n('cancelled')} cancelled`;
  if (n('succeeded') > 0) return { state: 'partiallySucceeded', reason: summary };
  if (n('dead') > 0) return { state: 'dead_lettered', reason: summary };
  if (n('failed') > 0) return { state: 'failed', reason: summary };
  if (n('expired') > 0) return { state: 'expired', reason: summary };
  return { state: 'cancelled', reason: summary };
}

export class PushScheduler {
  private readonly events = new EventEmitter();
  private readonly inflight = new Map<Provider, number>();
  /** FCM's, APNs's, HMS's and WNS's breakers. Web Push has none: its endpoints belong to many push services. */
  private readonly breakers = new Map<Provider, CircuitBreaker>();
  private readonly payloads = new Map<string, { intent: PublishIntent; rendered: RenderedPayloads }>();
  private readonly running = new Set<Promise<void>>();
  private readonly finishing = new Set<string>();
  private readonly planFailures = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private wakeAgain = false;
  private stopped = true;
  private lastHousekeeping = 0;
  private lastPurge = 0;
  private readonly now: () => number;

  constructor(private readonly o: SchedulerOptions) {
    this.now = o.now ?? Date.now;
    this.events.setMaxListeners(0);
    for (const p of o.senders.keys()) {
      this.inflight.set(p, 0);
      if (p === 'webPush' || !o.config.circuit_breaker.enabled) continue;
      this.breakers.set(
        p,
        new CircuitBreaker(o.config.circuit_breaker, (state, failures) => {
          o.metrics.circuitBreaker(p, BREAKER_GAUGE[state]);
          if (state === 'open') o.log.warn({ provider: p, failures, cooldownSecs: o.config.circuit_breaker.cooldown_secs }, 'push: provider circuit breaker open; nothing is sent to it during the cooldown');
          else o.log.info({ provider: p, state }, `push: provider circuit breaker ${state === 'closed' ? 'closed' : 'half open'}`);
        }),
      );
      o.metrics.circuitBreaker(p, BREAKER_GAUGE.closed);
    }
  }

  async start(): Promise<void> {
    this.stopped = false;
    // Deliveries in flight when this host last stopped: whether the provider got them is unknown.
    const interrupted = await this.o.store.failExpiredLeases(this.o.soleOwner ? Number.MAX_SAFE_INTEGER : this.now());
    if (interrupted.length > 0) this.o.log.warn({ publishes: interrupted.length }, 'push: deliveries interrupted by the last stop were marked failed (never sent twice)');
    for (const p of await this.o.store.dispatchingPublishes(10_000)) await this.finishIfDone(p.appId, p.publishId);
    this.wake();
  }

  /** Runs a scheduling step soon (after an accepted publish, a finished batch, a replay). */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.wakeAgain = true;
      return;
    }
    this.schedule(0);
  }

  /** Resolves with the publish's terminal state, or null when `timeoutMs` passes first. */
  waitForFinal(appId: string, publishId: string, timeoutMs: number): Promise<PublishState | null> {
    const key = keyOf(appId, publishId);
    return new Promise((resolve) => {
      const done = (state: PublishState | null) => {
        clearTimeout(timer);
        this.events.off(key, done);
        resolve(state);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      this.events.on(key, done);
      // It may have finished already.
      void this.o.store.getPublish(appId, publishId).then((p) => {
        if (p && TERMINAL_STATES.has(p.state)) done(p.state);
      });
    });
  }

  /** Stops claiming work and waits for the sends in flight to be recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running.size > 0 || this.ticking) await Promise.race([...this.running, new Promise((r) => setTimeout(r, 10))]);
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    this.ticking = true;
    let busy = false;
    let idleMs = IDLE_POLL_MS;
    try {
      busy = await this.step();
      if (!busy) idleMs = await this.idlePause();
    } catch (err) {
      this.o.log.error({ err }, 'push scheduler step failed; retrying');
    } finally {
      this.ticking = false;
    }
    if (this.stopped) return;
    const again = this.wakeAgain || busy;
    this.wakeAgain = false;
    this.schedule(again ? 0 : idleMs);
  }

  /** How long to sleep after a step that found nothing to do: until the next work is due, within bounds. */
  private async idlePause(): Promise<number> {
    const due = await this.o.store.nextDueAt();
    const now = this.now();
    let untilDue = due === null ? HOUSEKEEPING_MS : due - now;
    // Work due but not claimed while a breaker is open is most likely that provider's: wait for its cooldown
    // (within bounds) instead of polling.
    const reopens = [...this.breakers.values()].map((b) => b.reopensAt()).filter((t): t is number => t !== null);
    if (untilDue <= 0 && reopens.length > 0) untilDue = Math.min(...reopens) - now;
    return Math.min(HOUSEKEEPING_MS, Math.max(IDLE_POLL_MS, untilDue));
  }

  /** One scheduling step; true when it found work (so the next step runs at once). */
  private async step(): Promise<boolean> {
    const { store } = this.o;
    const now = this.now();
    let busy = false;
    let expiredPlanned = false;
    for (const p of await store.duePublishes(now, 20)) {
      busy = true;
      let planned: number;
      try {
        planned = await store.planPublish(p.appId, p.publishId, now);
      } catch (err) {
        // Tried again on the next steps (the store may be briefly unavailable); a publish that keeps
        // failing fails alone instead of holding up the others behind it.
        const key = keyOf(p.appId, p.publishId);
        const failures = (this.planFailures.get(key) ?? 0) + 1;
        this.planFailures.set(key, failures);
        this.o.log.error({ err, app: p.appId, publishId: p.publishId, failures }, 'push publish could not be planned');
        if (failures >= MAX_PLAN_FAILURES) {
          this.planFailures.delete(key);
          await store.setPublishState(p.appId, p.publishId, 'failed', `planning failed: ${(err as Error).message}`.slice(0, 300));
          this.notifyFinal(p.appId, p.publishId, 'failed');
        }
        continue;
      }
      this.planFailures.delete(keyOf(p.appId, p.publishId));
      this.o.metrics.fanout(planned);
      this.o.log.debug({ app: p.appId, publishId: p.publishId, planned }, 'push publish planned');
      if (planned === 0) await this.finishIfDone(p.appId, p.publishId);
      else if (p.intent.expiresAtMs > 0 && p.intent.expiresAtMs <= now) expiredPlanned = true;
    }
    // A publish already past its expiresAtMs when planned: its deliveries are never claimed; settle them now
    // rather than at the next housekeeping.
    if (expiredPlanned) for (const p of await store.expireDeliveries(now)) await this.finishIfDone(p.appId, p.publishId);
    if (now - this.lastHousekeeping >= HOUSEKEEPING_MS) {
      this.lastHousekeeping = now;
      const touched = [...(await store.expireDeliveries(now)), ...(this.o.soleOwner ? [] : await store.failExpiredLeases(now))];
      for (const p of touched) await this.finishIfDone(p.appId, p.publishId);
      if (now - this.lastPurge >= PURGE_MS) {
        this.lastPurge = now;
        await store.purge(now);
      }
    }
    // Deliveries for a provider this server has no credentials for can never be sent: settle them.
    for (const provider of PROVIDERS) {
      if (this.o.senders.has(provider)) continue;
      const orphans = await store.claimDeliveries(provider, now, this.o.config.batch_size, now + LEASE_MS);
      if (orphans.length === 0) continue;
      busy = true;
      const error = `provider ${provider} is not configured on this server (push.${provider === 'webPush' ? 'webpush' : provider})`;
      await store.recordOutcomes(orphans.map((d) => ({ id: d.id, outcome: { kind: 'failed' as const, error } })), now);
      this.o.log.warn({ provider, deliveries: orphans.length }, 'push deliveries for a provider that is not configured were failed');
      for (const key of new Set(orphans.map((d) => keyOf(d.appId, d.publishId)))) {
        const [appId, publishId] = key.split('\0');
        await this.finishIfDone(appId, publishId);
      }
    }
    for (const [provider, sender] of this.o.senders) {
      const inflight = this.inflight.get(provider) ?? 0;
      const breaker = this.breakers.get(provider);
      const free = Math.min(this.o.config.concurrency_per_provider - inflight, breaker ? breaker.allowance(now, inflight) : Number.POSITIVE_INFINITY);
      if (free <= 0) continue;
      const claimed = await store.claimDeliveries(provider, now, Math.min(free, this.o.config.batch_size), now + LEASE_MS);
      if (claimed.length === 0) continue;
      busy = true;
      this.inflight.set(provider, (this.inflight.get(provider) ?? 0) + claimed.length);
      this.o.metrics.inflight(provider, this.inflight.get(provider) ?? 0);
      // Small groups: their encryption spreads over the pool's threads and their sends overlap.
      for (let i = 0; i < claimed.length; i += DISPATCH_GROUP) {
        const group = claimed.slice(i, i + DISPATCH_GROUP);
        const run = this.dispatch(sender, group).finally(() => {
          this.running.delete(run);
          this.inflight.set(provider, (this.inflight.get(provider) ?? 0) - group.length);
          this.o.metrics.inflight(provider, this.inflight.get(provider) ?? 0);
          this.wake();
        });
        this.running.add(run);
      }
    }
    return busy;
  }

  private async dispatch(sender: ProviderSender, claimed: Delivery[]): Promise<void> {
    const started = performance.now();
    const items: SendItem[] = [];
    const unknown: { id: number; outcome: DeliveryOutcome }[] = [];
    for (const d of claimed) {
      const payload = await this.payloadOf(d.appId, d.publishId);
      if (payload) items.push({ delivery: d, ...payload });
      else unknown.push({ id: d.id, outcome: { kind: 'failed', error: 'the publish was removed before it was sent' } });
    }
    let results: AttemptResult[];
    try {
      results = await sender.sendBatch(items);
    } catch (err) {
      // A sender bug must not strand the deliveries: treat it like a network failure.
      this.o.log.error({ err, provider: sender.provider }, 'push sender failed');
      results = items.map(() => ({ kind: 'retry', error: `sender error: ${(err as Error).message}` }));
    }
    const seconds = (performance.now() - started) / 1000;
    const now = this.now();
    const outcomes = [...unknown];
    const invalid: Delivery[] = [];
    const breaker = this.breakers.get(sender.provider);
    results.forEach((result, i) => {
      const d = items[i].delivery;
      breaker?.record(result.kind === 'retry' ? 'failure' : 'answered', now);
      const outcome = outcomeOf(result, d.attempts, this.o.config.retry, now);
      outcomes.push({ id: d.id, outcome });
      this.o.metrics.dispatched(sender.provider, d.appId, result.kind, seconds / items.length);
      if (result.kind !== 'ok') {
        this.o.log.debug({ provider: sender.provider, publishId: d.publishId, device: d.deviceId, attempt: d.attempts, result: result.kind, error: result.error }, 'push delivery not accepted');
      }
      if (result.kind === 'invalidToken') invalid.push(d);
      if (outcome.kind === 'dead') this.o.metrics.deadLettered(d.appId, sender.provider);
    });
    await this.o.store.recordOutcomes(outcomes, now);
    for (const d of invalid) {
      // Only the token that failed is invalidated: a device that re-registered with a new token meanwhile stays.
      // A delivery without a device (raw recipient, FCM topic or condition) invalidates nothing.
      const marked = d.deviceId && !isFcmAudience(d.recipient) ? await this.o.store.markDeviceInvalid(d.appId, d.deviceId, tokenHash(recipientToken(d.recipient))) : false;
      if (marked) this.o.log.info({ app: d.appId, device: d.deviceId, provider: sender.provider }, 'push: device token no longer valid; device marked FAILED and unsubscribed');
      else if (d.deviceId) this.o.log.info({ app: d.appId, device: d.deviceId, provider: sender.provider }, 'push: an old token of a device was refused; the device has a newer one and stays');
    }
    const publishes = new Map(claimed.map((d) => [keyOf(d.appId, d.publishId), d]));
    for (const d of publishes.values()) await this.finishIfDone(d.appId, d.publishId);
  }

  private async payloadOf(appId: string, publishId: string): Promise<{ intent: PublishIntent; rendered: RenderedPayloads } | null> {
    const key = keyOf(appId, publishId);
    const cached = this.payloads.get(key);
    if (cached) return cached;
    const publish: PublishRecord | null = await this.o.store.getPublish(appId, publishId);
    if (!publish) return null;
    const value = { intent: publish.intent, rendered: render(publish.intent) };
    // Bounded: publishes finished by another host never pass through finishIfDone here.
    if (this.payloads.size >= MAX_CACHED_PAYLOADS) this.payloads.delete(this.payloads.keys().next().value as string);
    this.payloads.set(key, value);
    return value;
  }

  /** Moves a dispatching publish with no open deliveries to its terminal state, and tells waiters. */
  async finishIfDone(appId: string, publishId: string): Promise<void> {
    const key = keyOf(appId, publishId);
    // Two groups of one publish can finish together: one of them settles it.
    if (this.finishing.has(key)) return;
    this.finishing.add(key);
    try {
      const { store } = this.o;
      if ((await store.openDeliveries(appId, publishId)) > 0) return;
      const publish = await store.getPublish(appId, publishId);
      if (!publish || publish.state !== 'dispatching') return;
      const { state, reason } = finalState(await store.deliveryStates(appId, publishId));
      await store.setPublishState(appId, publishId, state, reason);
      this.payloads.delete(key);
      this.o.metrics.publishFinished(appId, state);
      this.o.log.info({ app: appId, publishId, state }, 'push publish finished');
      this.events.emit(key, state);
    } finally {
      this.finishing.delete(key);
    }
  }

  /** Tells waiters of a publish that reached a terminal state outside the scheduler (cancel). */
  notifyFinal(appId: string, publishId: string, state: PublishState): void {
    this.payloads.delete(keyOf(appId, publishId));
    this.events.emit(keyOf(appId, publishId), state);
  }
}

function keyOf(appId: string, publishId: string): string {
  return `${appId}\0${publishId}`;
}
