// Prometheus metrics with Sockudo's names, aggregated over every thread: socket counters are read from the
// workers' shared counters at scrape time; HTTP API counters are kept here, where the API runs.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConnectionQuota } from '../apps/connectionQuota.ts';
import type { Config } from '../config/schema.ts';
import { CHANNEL_TYPES, ERROR_TYPES, FIELD, LATENCY_BUCKETS_MS, RECIPIENT_BUCKETS, type WorkerCounters, latencySeries } from './workerCounters.ts';
import { ANSWER_TIMEOUT_MS, type HostLoad, type WorkerLoad } from './threadStats.ts';

import type { ClusterMetrics } from '../adapter/redisCluster.ts';
import type { WebhookMetrics } from '../webhooks/webhookSender.ts';

export interface ApiMetrics {
  httpCall(appId: string, receivedBytes: number, sentBytes: number): void;
  idempotentPublish(appId: string): void;
  idempotentDuplicate(appId: string): void;
  apiRateChecked(appId: string, refused: boolean): void;
  ephemeralMessage(appId: string): void;
}

/** One app's labels and the value a scraped counter reports for it. */
type AppSample = [{ app_id: string; port: string }, number];

export class Metrics implements ApiMetrics, WebhookMetrics, ClusterMetrics {
  readonly registry = new Registry();
  private readonly port: string;
  /**
   * Per app: HTTP API calls and their bytes, read into their three counters when scraped. Every API call counts
   * in all three, and prom-client's `inc` with labels hashes the labels object each time (6 % of the primary in
   * the signed-publish benchmark).
   */
  private readonly httpTotals = new Map<string, { calls: number; received: number; sent: number }>();
  private readonly idemPublish: Counter<'app_id' | 'port'>;
  private readonly idemDuplicate: Counter<'app_id' | 'port'>;
  private readonly webhookSent: Counter<'app_id' | 'port'>;
  private readonly webhookFailed: Counter<'app_id' | 'port'>;
  private readonly webhookDropped: Counter<'app_id' | 'port'>;
  private readonly clusterCounters: Record<'sent' | 'received' | 'failed', Counter<'port'>>;
  private readonly clusterRedisUp: Gauge<'port'>;
  private readonly apiRate: Record<'checks' | 'triggered', Map<string, number>> = { checks: new Map(), triggered: new Map() };
  private readonly ephemeral: Counter<'app_id' | 'port'>;
  private readonly queryCounters: Record<'sent' | 'received' | 'responses' | 'resolved' | 'uncomplete', Counter<'port'>>;
  private readonly queryTime: Histogram<'port'>;
  /** Set by the primary: occupied channels of an app on this host, by channel type. */
  activeChannels: ((appId: string) => Record<string, number>) | null = null;
  /** Set by the primary: each thread's load, asked for at scrape time (metrics/threadStats.ts). */
  hostLoad: (() => Promise<HostLoad>) | null = null;

  constructor(config: Config, quota: ConnectionQuota, counters: WorkerCounters) {
    this.port = String(config.metrics.port);
    const registers = [this.registry];
    const apps = config.apps.map((a, i) => ({ labels: { app_id: a.id, port: this.port }, index: i }));
    // prom-client's default 10 ms lag sampler. Its `nodejs_eventloop_lag_*` figures are whole intervals between
    // the sampler's ticks (the period plus the lag), so a longer period would raise every figure by the difference:
    // session 18's 100 ms made an idle host read 100 ms of lag (docs/benchmarks.md "Session 19").
    collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: 'sockudo_connected',
      help: 'Number of currently connected sockets',
      labelNames: ['app_id', 'port'],
      registers,
      collect() {
        for (const a of apps) this.set(a.labels, quota.appConnections(a.index));
      },
    });
    /** A counter whose per-app values are read when scraped (shared worker counters, plain totals), not counted through prom-client. */
    const scraped = (name: string, help: string, values: () => Iterable<AppSample>) =>
      new Counter({
        name,
        help,
        labelNames: ['app_id', 'port'],
        registers,
        collect() {
          this.reset();
          for (const [labels, value] of values()) this.inc(labels, value);
        },
      });
    const fromWorkers = (name: string, help: string, field: number) =>
      scraped(name, help, () => apps.map((a): AppSample => [a.labels, counters.sum(a.index, field)]));
    fromWorkers('sockudo_new_connections_total', 'Total number of new connections', FIELD.newConnections);
    fromWorkers('sockudo_new_disconnections_total', 'Total number of disconnections', FIELD.disconnections);
    fromWorkers('sockudo_ws_messages_received_total', 'Total WebSocket messages received', FIELD.wsMessagesReceived);
    fromWorkers('sockudo_ws_messages_sent_total', 'Total WebSocket messages sent (broadcasts count each recipient)', FIELD.wsMessagesSent);
    fromWorkers('sockudo_socket_received_bytes', 'Bytes received over WebSockets', FIELD.socketBytesReceived);
    fromWorkers('sockudo_socket_transmitted_bytes', 'Bytes sent over WebSockets', FIELD.socketBytesSent);
    fromWorkers('sockudo_event_filter_suppressed_total', 'V2 deliveries held back by subscription filters', FIELD.filterSuppressed);
    fromWorkers('sockudo_echo_suppressed_total', 'V2 client events not echoed to their sender', FIELD.echoSuppressed);
    fromWorkers('sockudo_publishes_held_total', 'HTTP publishes a worker held for a moment to be written with the next ones, its own or handed over by the primary (fanout_hold_ms)', FIELD.publishesHeld);
    const perChannelType = (name: string, help: string, base: number) =>
      new Counter({
        name,
        help,
        labelNames: ['app_id', 'port', 'channel_type'],
        registers,
        collect() {
          this.reset();
          for (const a of apps) {
            CHANNEL_TYPES.forEach((t, i) => this.inc({ ...a.labels, channel_type: t }, counters.sum(a.index, base + i)));
          }
        },
      });
    const withUnknown = [...apps, { labels: { app_id: 'unknown', port: this.port }, index: config.apps.length }];
    new Counter({
      name: 'sockudo_connection_errors_total',
      help: 'Errors sent to or closing connections, by type',
      labelNames: ['app_id', 'port', 'error_type'],
      registers,
      collect() {
        this.reset();
        for (const a of withUnknown) {
          ERROR_TYPES.forEach((t, i) => {
            const n = counters.sum(a.index, FIELD.errors + i);
            if (n > 0) this.inc({ ...a.labels, error_type: t }, n);
          });
        }
      },
    });
    const apiRate = this.apiRate;
    // Client events are checked on the workers; API requests on the worker that verified them, or on the primary.
    const rateLimit = (name: string, help: string, field: number, api: Map<string, number>, apiField: number) =>
      new Counter({
        name,
        help,
        labelNames: ['app_id', 'port', 'limiter_type', 'request_context'],
        registers,
        collect() {
          this.reset();
          for (const a of apps) {
            this.inc({ ...a.labels, limiter_type: 'client_events', request_context: 'websocket' }, counters.sum(a.index, field));
            const onPrimary = api.get(a.labels.app_id);
            const onWorkers = counters.sum(a.index, apiField);
            if (onPrimary !== undefined || onWorkers > 0) this.inc({ ...a.labels, limiter_type: 'api', request_context: 'http' }, (onPrimary ?? 0) + onWorkers);
          }
        },
      });
    rateLimit('sockudo_rate_limit_checks_total', 'Rate limit checks', FIELD.clientEventRateChecks, apiRate.checks, FIELD.apiRateChecks);
    rateLimit('sockudo_rate_limit_triggered_total', 'Rate limit checks that refused', FIELD.clientEventRateLimited, apiRate.triggered, FIELD.apiRateRefused);
    this.ephemeral = new Counter({ name: 'sockudo_ephemeral_messages_total', help: 'Ephemeral V2 messages published', labelNames: ['app_id', 'port'], registers });
    new Gauge({
      name: 'sockudo_active_channels',
      help: 'Channels with at least one subscriber on this host',
      labelNames: ['app_id', 'port', 'channel_type'],
      registers,
      collect: () => {
        const gauge = this.registry.getSingleMetric('sockudo_active_channels') as Gauge<'app_id' | 'port' | 'channel_type'>;
        gauge.reset();
        for (const a of apps) {
          const byType = this.activeChannels?.(a.labels.app_id);
          for (const t of CHANNEL_TYPES) gauge.set({ ...a.labels, channel_type: t }, byType?.[t] ?? 0);
        }
      },
    });
    const horizontal = (name: string, help: string) => new Counter({ name, help, labelNames: ['port'], registers });
    this.queryCounters = {
      sent: horizontal('sockudo_horizontal_adapter_sent_requests', 'Count queries this host sent to the other hosts'),
      received: horizontal('sockudo_horizontal_adapter_received_requests', 'Count queries this host answered'),
      responses: horizontal('sockudo_horizontal_adapter_received_responses', 'Answers this host received to its queries'),
      resolved: horizontal('sockudo_horizontal_adapter_resolved_promises', 'Queries answered by every live host'),
      uncomplete: horizontal('sockudo_horizontal_adapter_uncomplete_promises', 'Queries that timed out with hosts missing'),
    };
    this.queryTime = new Histogram({
      name: 'sockudo_horizontal_adapter_resolve_time',
      help: 'Milliseconds until a count query was resolved',
      labelNames: ['port'],
      buckets: [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
    });
    // A histogram whose buckets live in the workers' shared counters: exposed through prom-client's
    // metric interface directly (prom-client histograms cannot be set, only observed).
    const latency = 'sockudo_broadcast_latency_ms';
    const latencyHelp = 'End-to-end latency for broadcast messages in milliseconds: per channel of an HTTP publish, from its hand-over to a worker (or its admission there) until uWS has it for every local subscriber';
    this.registry.registerMetric({
      name: latency,
      help: latencyHelp,
      type: 'histogram',
      aggregator: 'sum',
      reset() {},
      async get() {
        const values = [];
        for (const a of apps) {
          for (const [t, channel_type] of CHANNEL_TYPES.entries()) {
            for (const [r, recipient_count_bucket] of RECIPIENT_BUCKETS.entries()) {
              // As Sockudo's recorder: a series appears once something was observed in it.
              const series = FIELD.latency + latencySeries(t, r);
              const count = counters.sum(a.index, series + LATENCY_BUCKETS_MS.length + 2);
              if (count === 0) continue;
              const labels = { ...a.labels, channel_type, recipient_count_bucket };
              let cumulative = 0;
              for (const [i, bound] of [...LATENCY_BUCKETS_MS, Number.POSITIVE_INFINITY].entries()) {
                cumulative += counters.sum(a.index, series + i);
                values.push({ metricName: `${latency}_bucket`, labels: { ...labels, le: bound === Number.POSITIVE_INFINITY ? '+Inf' : bound }, value: cumulative });
              }
              values.push({ metricName: `${latency}_sum`, labels, value: counters.sum(a.index, series + LATENCY_BUCKETS_MS.length + 1) });
              values.push({ metricName: `${latency}_count`, labels, value: count });
            }
          }
        }
        return { name: latency, help: latencyHelp, type: 'histogram', aggregator: 'sum', values };
      },
    } as unknown as Parameters<Registry['registerMetric']>[0]);
    perChannelType('sockudo_channel_subscriptions_total', 'Total channel subscriptions', FIELD.subscriptions);
    perChannelType('sockudo_channel_unsubscriptions_total', 'Total channel unsubscriptions', FIELD.unsubscriptions);

    const http = (name: string, help: string) => new Counter({ name, help, labelNames: ['app_id', 'port'], registers });
    // The primary's totals, plus the calls workers answered without it (their 429s: worker/apiRateGate.ts; health
    // checks, /up under app_id "system" in the counters' row after the apps: worker/httpBridge.ts).
    const withSystem = [...apps, { labels: { app_id: 'system', port: this.port }, index: config.apps.length }];
    const httpTotal = (name: string, help: string, field: 'calls' | 'received' | 'sent', workerField: number) =>
      scraped(name, help, () => {
        const totals = new Map<string, number>();
        for (const [appId, t] of this.httpTotals) totals.set(appId, t[field]);
        for (const a of withSystem) {
          const answered = counters.sum(a.index, workerField);
          if (answered > 0) totals.set(a.labels.app_id, (totals.get(a.labels.app_id) ?? 0) + answered);
        }
        return [...totals].map(([appId, v]): AppSample => [{ app_id: appId, port: this.port }, v]);
      });
    httpTotal('sockudo_http_calls_received_total', 'Total HTTP API calls received', 'calls', FIELD.httpCalls);
    httpTotal('sockudo_http_received_bytes', 'Bytes received by the HTTP API', 'received', FIELD.httpBytesReceived);
    httpTotal('sockudo_http_transmitted_bytes', 'Bytes sent by the HTTP API', 'sent', FIELD.httpBytesSent);
    this.idemPublish = http('sockudo_idempotency_publish_total', 'Publishes made with an idempotency key');
    this.idemDuplicate = http('sockudo_idempotency_duplicates_total', 'Repeated idempotent publishes answered without delivering');
    this.webhookSent = http('sockudo_webhook_events_sent_total', 'Webhook events delivered');
    this.webhookFailed = http('sockudo_webhook_requests_failed_total', 'Webhook requests given up after retries');
    this.webhookDropped = http('sockudo_webhook_events_dropped_total', 'Webhook events dropped because the queue was full');
    const cluster = (name: string, help: string) => new Counter({ name, help, labelNames: ['port'], registers });
    this.clusterCounters = {
      sent: cluster('sockudo_horizontal_adapter_sent_messages_total', 'Messages this host sent to the other hosts through Redis'),
      received: cluster('sockudo_horizontal_adapter_received_messages_total', 'Messages this host read from Redis (its own included)'),
      failed: cluster('sockudo_horizontal_adapter_send_failures_total', 'Messages that could not go through Redis (delivered on this host only)'),
    };
    this.clusterRedisUp = new Gauge({ name: 'sockudo_horizontal_adapter_redis_up', help: '1 while Redis is reachable', labelNames: ['port'], registers });
    this.threadGauges(registers);
  }

  /**
   * Each thread's load, read when scraped. The worker figures keep Sockudo's names for its runtime's workers
   * (`sockudo_tokio_*`), so dashboards made for it read ours: here a worker is a uWS socket thread. The ratios
   * cover the time since the previous scrape by anyone; with several scrapers, `rate()` of the busy seconds.
   */
  private threadGauges(registers: Registry[]): void {
    const port = this.port;
    type Label = 'port' | 'worker';
    type Sample = [Partial<Record<Label, string>>, number];
    type Samples = (load: HostLoad) => Sample[];
    const read = async () => (this.hostLoad ? await this.hostLoad() : null);
    /** Resets `metric` and writes the samples of the host's load now (a gauge sets them, a counter adds them to 0). */
    const fill = async (metric: { reset(): void }, samples: Samples, write: (labels: Sample[0], v: number) => void) => {
      const load = await read();
      metric.reset();
      for (const [labels, v] of load ? samples(load) : []) write(labels, v);
    };
    const gauge = (name: string, help: string, labelNames: Label[], samples: Samples) =>
      new Gauge({ name, help, labelNames, registers, collect() { return fill(this, samples, (l, v) => this.set(l, v)); } });
    const counter = (name: string, help: string, labelNames: Label[], samples: Samples) =>
      new Counter({ name, help, labelNames, registers, collect() { return fill(this, samples, (l, v) => this.inc(l, v)); } });
    const perWorker = (value: (w: WorkerLoad) => number | undefined) => (load: HostLoad) =>
      load.workers.flatMap((w): Sample[] => {
        const v = value(w);
        return v === undefined ? [] : [[{ port, worker: String(w.worker) }, v]];
      });
    gauge('sockudo_tokio_workers_count', 'Worker threads serving sockets', ['port'], (load) => [[{ port }, load.workers.length]]);
    gauge('sockudo_tokio_worker_busy_ratio', "Share of time a worker thread's event loop was busy since the previous scrape", ['port', 'worker'], perWorker((w) => w.load?.busyRatio));
    counter('sockudo_worker_busy_seconds_total', "Time a worker thread's event loop has been busy", ['port', 'worker'], perWorker((w) => w.load?.busySeconds));
    gauge('sockudo_worker_heap_used_bytes', 'V8 heap in use by a worker thread', ['port', 'worker'], perWorker((w) => w.load?.heapUsedBytes));
    gauge(
      'sockudo_worker_response_seconds',
      `Round trip of the scrape's question, primary to worker and back (both threads' queues and event-loop lag); ${ANSWER_TIMEOUT_MS / 1000} when the worker did not answer in time`,
      ['port', 'worker'],
      perWorker((w) => w.responseSeconds),
    );
    gauge('sockudo_primary_busy_ratio', "Share of time the primary thread's event loop was busy since the previous scrape", ['port'], (load) => [[{ port }, load.primary.busyRatio]]);
    counter('sockudo_primary_busy_seconds_total', "Time the primary thread's event loop has been busy", ['port'], (load) => [[{ port }, load.primary.busySeconds]]);
  }

  apiRateChecked(appId: string, refused: boolean): void {
    this.apiRate.checks.set(appId, (this.apiRate.checks.get(appId) ?? 0) + 1);
    if (refused) this.apiRate.triggered.set(appId, (this.apiRate.triggered.get(appId) ?? 0) + 1);
  }

  ephemeralMessage(appId: string): void {
    this.ephemeral.inc({ app_id: appId, port: this.port });
  }

  querySent(): void {
    this.queryCounters.sent.inc({ port: this.port });
  }

  queryAnswered(): void {
    this.queryCounters.received.inc({ port: this.port });
  }

  replyReceived(): void {
    this.queryCounters.responses.inc({ port: this.port });
  }

  queryResolved(complete: boolean, ms: number): void {
    this.queryCounters[complete ? 'resolved' : 'uncomplete'].inc({ port: this.port });
    this.queryTime.observe({ port: this.port }, ms);
  }

  clusterSent(): void {
    this.clusterCounters.sent.inc({ port: this.port });
  }

  clusterReceived(): void {
    this.clusterCounters.received.inc({ port: this.port });
  }

  clusterSendFailed(): void {
    this.clusterCounters.failed.inc({ port: this.port });
  }

  clusterUp(up: boolean): void {
    this.clusterRedisUp.set({ port: this.port }, up ? 1 : 0);
  }

  sent(appId: string, events: number): void {
    this.webhookSent.inc({ app_id: appId, port: this.port }, events);
  }

  failed(appId: string): void {
    this.webhookFailed.inc({ app_id: appId, port: this.port });
  }

  dropped(appId: string, events: number): void {
    this.webhookDropped.inc({ app_id: appId, port: this.port }, events);
  }

  idempotentPublish(appId: string): void {
    this.idemPublish.inc({ app_id: appId, port: this.port });
  }

  idempotentDuplicate(appId: string): void {
    this.idemDuplicate.inc({ app_id: appId, port: this.port });
  }

  httpCall(appId: string, receivedBytes: number, sentBytes: number): void {
    let t = this.httpTotals.get(appId);
    if (!t) this.httpTotals.set(appId, (t = { calls: 0, received: 0, sent: 0 }));
    t.calls++;
    t.received += receivedBytes;
    t.sent += sentBytes;
  }
}
