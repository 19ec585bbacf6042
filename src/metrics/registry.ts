// Prometheus metrics with Sockudo's names, aggregated over every thread: socket counters are read from the
// workers' shared counters at scrape time; HTTP API counters are kept here, where the API runs.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConnectionQuota } from '../apps/connectionQuota.ts';
import type { Config } from '../config/schema.ts';
import { CHANNEL_TYPES, FIELD, type WorkerCounters } from './workerCounters.ts';

import type { ClusterMetrics } from '../adapter/redisCluster.ts';
import type { WebhookMetrics } from '../webhooks/webhookSender.ts';

export interface ApiMetrics {
  httpCall(appId: string, receivedBytes: number, sentBytes: number): void;
  idempotentPublish(appId: string): void;
  idempotentDuplicate(appId: string): void;
}

export class Metrics implements ApiMetrics, WebhookMetrics, ClusterMetrics {
  readonly registry = new Registry();
  private readonly port: string;
  private readonly httpCalls: Counter<'app_id' | 'port'>;
  private readonly httpReceived: Counter<'app_id' | 'port'>;
  private readonly httpSent: Counter<'app_id' | 'port'>;
  private readonly idemPublish: Counter<'app_id' | 'port'>;
  private readonly idemDuplicate: Counter<'app_id' | 'port'>;
  private readonly webhookSent: Counter<'app_id' | 'port'>;
  private readonly webhookFailed: Counter<'app_id' | 'port'>;
  private readonly webhookDropped: Counter<'app_id' | 'port'>;
  private readonly clusterCounters: Record<'sent' | 'received' | 'failed', Counter<'port'>>;
  private readonly clusterRedisUp: Gauge<'port'>;

  constructor(config: Config, quota: ConnectionQuota, counters: WorkerCounters) {
    this.port = String(config.metrics.port);
    const registers = [this.registry];
    const apps = config.apps.map((a, i) => ({ labels: { app_id: a.id, port: this.port }, index: i }));
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
    const fromWorkers = (name: string, help: string, field: number) =>
      new Counter({
        name,
        help,
        labelNames: ['app_id', 'port'],
        registers,
        collect() {
          this.reset();
          for (const a of apps) this.inc(a.labels, counters.sum(a.index, field));
        },
      });
    fromWorkers('sockudo_new_connections_total', 'Total number of new connections', FIELD.newConnections);
    fromWorkers('sockudo_new_disconnections_total', 'Total number of disconnections', FIELD.disconnections);
    fromWorkers('sockudo_ws_messages_received_total', 'Total WebSocket messages received', FIELD.wsMessagesReceived);
    fromWorkers('sockudo_ws_messages_sent_total', 'Total WebSocket messages sent (broadcasts count each recipient)', FIELD.wsMessagesSent);
    fromWorkers('sockudo_socket_received_bytes', 'Bytes received over WebSockets', FIELD.socketBytesReceived);
    fromWorkers('sockudo_socket_transmitted_bytes', 'Bytes sent over WebSockets', FIELD.socketBytesSent);
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
    perChannelType('sockudo_channel_subscriptions_total', 'Total channel subscriptions', FIELD.subscriptions);
    perChannelType('sockudo_channel_unsubscriptions_total', 'Total channel unsubscriptions', FIELD.unsubscriptions);

    const http = (name: string, help: string) => new Counter({ name, help, labelNames: ['app_id', 'port'], registers });
    this.httpCalls = http('sockudo_http_calls_received_total', 'Total HTTP API calls received');
    this.httpReceived = http('sockudo_http_received_bytes', 'Bytes received by the HTTP API');
    this.httpSent = http('sockudo_http_transmitted_bytes', 'Bytes sent by the HTTP API');
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
    const labels = { app_id: appId, port: this.port };
    this.httpCalls.inc(labels);
    this.httpReceived.inc(labels, receivedBytes);
    this.httpSent.inc(labels, sentBytes);
  }
}
