// Push metrics with Sockudo's names (sockudo_push_*), registered on the primary's registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AttemptResult } from './providers/provider.ts';
import type { PublishState } from './types.ts';

export class PushMetrics {
  private readonly accepted: Counter<'app' | 'result'>;
  private readonly acceptance: Histogram;
  private readonly dispatchedTotal: Counter<'provider' | 'status' | 'app'>;
  private readonly duration: Histogram<'provider'>;
  private readonly inflightGauge: Gauge<'provider'>;
  private readonly fanoutSize: Histogram;
  private readonly failures: Counter<'provider' | 'reason'>;
  private readonly dead: Counter<'provider' | 'app'>;
  private readonly finished: Counter<'app' | 'state'>;
  private readonly breaker: Gauge<'provider'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.accepted = new Counter({ name: 'sockudo_push_publish_accepted_total', help: 'Push publish requests by admission result', labelNames: ['app', 'result'], registers });
    this.acceptance = new Histogram({ name: 'sockudo_push_publish_acceptance_duration_seconds', help: 'Time to accept (persist) a push publish', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25], registers });
    this.dispatchedTotal = new Counter({ name: 'sockudo_push_dispatched_total', help: 'Provider attempts by result (ok, retry, invalidToken, failed)', labelNames: ['provider', 'status', 'app'], registers });
    this.duration = new Histogram({ name: 'sockudo_push_dispatch_duration_seconds', help: 'Provider attempt duration (batch time per delivery)', labelNames: ['provider'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers });
    this.inflightGauge = new Gauge({ name: 'sockudo_push_dispatch_inflight', help: 'Provider requests in flight', labelNames: ['provider'], registers });
    this.fanoutSize = new Histogram({ name: 'sockudo_push_fanout_size', help: 'Deliveries planned per publish', buckets: [0, 1, 10, 100, 1000, 10_000, 100_000], registers });
    this.failures = new Counter({ name: 'sockudo_push_provider_failures_total', help: 'Provider attempts that did not succeed, by reason', labelNames: ['provider', 'reason'], registers });
    this.dead = new Counter({ name: 'sockudo_push_dead_letters_total', help: 'Deliveries that exhausted their retries', labelNames: ['provider', 'app'], registers });
    this.finished = new Counter({ name: 'sockudo_push_publish_finished_total', help: 'Publishes that reached a terminal state, by state', labelNames: ['app', 'state'], registers });
    this.breaker = new Gauge({ name: 'sockudo_push_circuit_breaker_state', help: "A provider's circuit breaker: 0 closed, 1 open, 2 half open", labelNames: ['provider'], registers });
  }

  publishAccepted(app: string, result: 'accepted' | 'duplicate' | 'rate_limited' | 'invalid' | 'unavailable' | 'quota_exceeded', seconds?: number): void {
    this.accepted.inc({ app, result });
    if (seconds !== undefined) this.acceptance.observe(seconds);
  }

  dispatched(provider: string, app: string, status: AttemptResult['kind'], seconds: number): void {
    this.dispatchedTotal.inc({ provider, status, app });
    this.duration.observe({ provider }, seconds);
    if (status !== 'ok') this.failures.inc({ provider, reason: status });
  }

  inflight(provider: string, n: number): void {
    this.inflightGauge.set({ provider }, n);
  }

  fanout(size: number): void {
    this.fanoutSize.observe(size);
  }

  deadLettered(app: string, provider: string): void {
    this.dead.inc({ provider, app });
  }

  circuitBreaker(provider: string, value: number): void {
    this.breaker.set({ provider }, value);
  }

  publishFinished(app: string, state: PublishState): void {
    this.finished.inc({ app, state });
  }
}
