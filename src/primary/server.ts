// The primary thread: starts the uWS workers and the metrics listener, answers API requests the workers
// hand over, publishes, and runs the shutdown protocol. It never touches a socket.
import { Worker } from 'node:worker_threads';
import type { Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { ApiRateBudget } from '../apps/apiRateBudget.ts';
import { ConnectionQuota } from '../apps/connectionQuota.ts';
import { ChannelCounts } from '../channels/channelCounts.ts';
import { IpQuota } from '../apps/ipQuota.ts';
import type { Config } from '../config/schema.ts';
import { Api } from '../http/api.ts';
import { type OwnPublishPositions, type PresenceJoined, type PrimaryToWorker, type TopicFrame, type WorkerInit, type WorkerToPrimary, assertNever } from '../ipc/messages.ts';
import type { Logger } from '../log.ts';
import { Metrics } from '../metrics/registry.ts';
import { startMetricsServer } from '../metrics/server.ts';
import { ThreadStats } from '../metrics/threadStats.ts';
import { WorkerCounters } from '../metrics/workerCounters.ts';
import { Outbox } from '../ipc/outbox.ts';
import { appendFrames, emptyFrameColumns } from '../ipc/frameColumns.ts';
import { appendPresenceAnswer, forEachPresenceChange } from '../ipc/presenceColumns.ts';
import { appendTaken, emptyPublishesTaken } from '../ipc/publishesTaken.ts';
import { InOrder, RequestSequence } from '../ipc/requestOrder.ts';
import { uws } from '../transport/uws.ts';
import { ClusterOccupancy } from '../adapter/clusterOccupancy.ts';
import { ClusterPresence } from '../adapter/clusterPresence.ts';
import { ClusterQueries, ReportedCounts } from '../adapter/clusterQueries.ts';
import { HostRegistry } from '../adapter/hostRegistry.ts';
import { RedisCluster } from '../adapter/redisCluster.ts';
import { MemoryIdempotencyStore } from '../idempotency/memoryStore.ts';
import { RedisIdempotencyStore } from '../idempotency/redisStore.ts';
import type { IdempotencyStore } from '../idempotency/store.ts';
import { WebhookSender } from '../webhooks/webhookSender.ts';
import { PushService } from '../push/pushService.ts';
import { Hub } from './hub.ts';
import { Publisher } from './publisher.ts';
import { ClusterCache } from '../adapter/clusterCache.ts';
import { resolveWorkerCount } from './workerCount.ts';

const WORKER_ENTRY = new URL('../../workers/ws-worker.mjs', import.meta.url);

export interface ServerHandle {
  /** The public port (WebSocket and HTTP API). */
  port: number;
  /** Per-worker private ports when `worker_ports` is on (testing aid), by worker index. */
  workerPorts: number[];
  metricsPort: number | null;
  workerCount: number;
  /** The shutdown protocol: drain, close, resolve when every worker has stopped. */
  shutdown(): Promise<void>;
}

class WorkerHandle {
  readyPort = 0;
  workerPort = 0;
  /** The thread has ended (at shutdown): nothing posted to it is answered. */
  exited = false;
  private readonly outbox: Outbox<PrimaryToWorker>;
  /** `settledThrough`: the last request stamp up to which the primary has finished every request (InOrder). */
  constructor(
    readonly index: number,
    readonly thread: Worker,
    private readonly settledThrough: () => number,
  ) {
    this.outbox = new Outbox<PrimaryToWorker>((m) => thread.postMessage(m));
  }
  post(m: PrimaryToWorker): void {
    this.outbox.post(m);
  }
  /** The answer to an API request: its client is waiting, so answers leave in chunks (ipc/outbox.ts). */
  answer(m: Extract<PrimaryToWorker, { type: 'http-response' }>): void {
    this.outbox.post(m);
    this.outbox.awaitedAdded();
  }
  /**
   * A hub reply: answers to presence joins join the `frames` message at the end of the queue, in order with
   * the member frames around them (ipc/frameColumns.ts). A bound function, so the hub can be handed it for
   * every message as it is.
   */
  readonly reply = (m: PrimaryToWorker | PresenceJoined): void => {
    if (m.type !== 'presence-joined') return this.post(m);
    appendPresenceAnswer(this.outbox.addTo('frames', emptyFrameColumns).answers, m);
    this.outbox.awaitedAdded();
  };
  // On both: everything the primary did for the stamps up to `through` was posted here before this message (a
  // request still waiting for something, e.g. an idempotency claim, holds `through` back: worker/localPublishOrder.ts).
  /** Joins the frames queued for this worker in a row into one `frames` message of columns (ipc/frameColumns.ts). */
  publish(frames: TopicFrame[]): void {
    appendFrames(this.outbox.addTo('frames', emptyFrameColumns), frames, performance.timeOrigin + performance.now(), this.settledThrough());
  }
  /** Joins the answers queued for this worker in a row into one `publishes-taken` (ipc/messages.ts). */
  publishTaken(seq: number, positions: OwnPublishPositions | undefined): void {
    appendTaken(this.outbox.addTo('publishes-taken', emptyPublishesTaken), seq, performance.timeOrigin + performance.now(), this.settledThrough(), positions);
  }
}

/** Binds and releases `port` (0: any free port) and returns it. */
function probePort(host: string, wanted: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(wanted, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export async function startServer(config: Config, log: Logger): Promise<ServerHandle> {
  uws(); // refuse to start here, with a clear error, if the native binary does not load
  const workerCount = resolveWorkerCount(config.workers);
  const connectionCounts = ConnectionQuota.allocate(config.apps.length);
  const rateBudgets = ApiRateBudget.allocate(config.apps.length);
  const metricCounters = WorkerCounters.allocate(workerCount, config.apps.length);
  const channelCountsBuffer = ChannelCounts.allocate(workerCount, config.max_channels_per_worker);
  const ipCounts = IpQuota.allocate();
  const requestSequence = RequestSequence.allocate();
  const inOrder = new InOrder((err) => log.error({ err }, 'API request ordering or processing failed'));
  const quota = new ConnectionQuota(connectionCounts);
  const metrics = new Metrics(config, quota, new WorkerCounters(metricCounters, workerCount, config.apps.length, 0));
  // Push first: a push configuration error stops start-up before anything listens.
  const push = config.push.enabled
    ? await PushService.start(config.push, config.mode, metrics.registry, log, config.http_request_timeout * 1000 - 500)
    : null;
  const workers: WorkerHandle[] = [];
  const publisher = new Publisher(() => workers, config, log);
  let cluster: RedisCluster | null = null;
  let clusterPresence: ClusterPresence | null = null;
  if (config.redis.url) {
    const streamTtlMs = config.connection_recovery.buffer_ttl_seconds * 1000;
    // Back in touch with Redis: this host's presence share and channels go back first (a restart may have emptied
    // Redis), then /up says OK again.
    const onHealth = (healthy: boolean) => {
      const tell = () => {
        if (cluster?.isHealthy === healthy) for (const w of workers) w.post({ type: 'health', degraded: !healthy });
      };
      if (healthy && hosts) void hosts.restoreNow().then(tell);
      else tell();
    };
    cluster = new RedisCluster(config.redis.url, config.redis.key_prefix, streamTtlMs, config.redis.stream_max_len, publisher.onEnvelope, onHealth, log);
    publisher.cluster = cluster;
    publisher.clusterCache = new ClusterCache(cluster.redis, config.redis.key_prefix);
    cluster.metrics = metrics;
    clusterPresence = new ClusterPresence(cluster.redis, config.redis.key_prefix, cluster.hostId);
  }
  const hub = new Hub(config, new ChannelCounts(channelCountsBuffer, config.max_channels_per_worker, -1), publisher, log, clusterPresence);
  let hosts: HostRegistry | null = null;
  if (cluster && clusterPresence) {
    const appIndex = new Map(config.apps.map((a, i) => [a.id, i]));
    const memberRemoved = (appId: string, channel: string, userId: string) => {
      const index = appIndex.get(appId);
      if (index !== undefined) hub.memberChanged(index, channel, 'removed', userId);
    };
    hub.occupancy = new ClusterOccupancy(cluster.redis, config.redis.key_prefix, cluster.hostId);
    hub.reportedCounts = new ReportedCounts(cluster.redis, config.redis.key_prefix);
    hosts = new HostRegistry(cluster.redis, config.redis.key_prefix, cluster.hostId, clusterPresence, hub.occupancy, {
      memberRemoved,
      channelVacated: (appId, channel) => hub.clusterOccupancyChanged(appId, channel, 'channel_vacated'),
      restore: (reaped) => hub.clusterRestore.restore(reaped),
    }, log);
    hub.clusterRestore.requestRestore = () => void hosts?.restoreNow();
    const queries = new ClusterQueries(cluster, hosts, hub.localCounts);
    hub.queries = queries;
    // One host reports cluster-wide subscription counts: the live host with the smallest id.
    hub.isLeader = async () => (await (hosts as HostRegistry).liveHosts()).sort()[0] === cluster?.hostId;
    publisher.onQuery = (env) => queries.answer(env.origin, env.id, env.app, env.prefix, env.channels);
  }
  const idempotency: IdempotencyStore = cluster
    ? new RedisIdempotencyStore(cluster.redis, config.redis.key_prefix)
    : new MemoryIdempotencyStore(config.idempotency.max_entries);
  if (cluster) {
    // An idempotent publish read back from the stream is done, even if the host that made it died
    // before recording it: a retry then gets the stored answer instead of a second delivery.
    publisher.onCompletion = (c) =>
      void idempotency.complete(c.scope, c.key, c.print, { status: c.status, body: c.body }, c.ttlMs).catch((err: Error) => log.warn({ err: err.message }, 'could not record an idempotent publish as done'));
  }
  const api = new Api({ config, log, publisher, metrics, hub, idempotency, push, rateBudget: new ApiRateBudget(rateBudgets) });
  metrics.activeChannels = (appId) => hub.activeChannels(appId);
  const threadStats = new ThreadStats(() => workers.filter((w) => !w.exited));
  metrics.hostLoad = () => threadStats.read();
  const webhookApps = config.apps.filter((a) => a.webhooks.length > 0);
  const webhooks = webhookApps.length > 0 ? new WebhookSender({ apps: webhookApps, log, metrics }) : null;
  hub.webhooks = webhooks;
  const countsTimer = webhooks ? setInterval(() => void hub.emitSubscriptionCounts(), 1000) : undefined;
  countsTimer?.unref();

  for (const app of config.apps) {
    if (config.mode === 'development' && app.development_app) {
      log.warn({ app: app.id }, 'development mode: unsigned HTTP API calls are accepted for this app; set mode "production" for real use');
    }
  }

  let stopping = false;
  const drained = new Set<number>();
  let onAllDrained: () => void = () => {};

  const onMessage = (w: WorkerHandle, m: WorkerToPrimary): void => {
    switch (m.type) {
      case 'batch':
        for (const inner of m.messages) onMessage(w, inner);
        return;
      case 'ready':
        return; // handled by the start-up handshake
      case 'http-request':
        // handle() never rejects: every failure becomes a coded JSON answer.
        return inOrder.run(m.seq, () => api.handle(m).then((res) => w.answer({ type: 'http-response', requestId: m.requestId, ...res })));
      case 'accepted-publish':
        return inOrder.run(m.seq, () => {
          let positions: OwnPublishPositions | undefined;
          try {
            positions = api.acceptedPublish(m, w.index);
          } finally {
            // Always answered: the worker holds the publish until then, and counts it against its bound.
            w.publishTaken(m.seq, positions);
          }
        });
      case 'drained':
        drained.add(m.index);
        if (drained.size === workers.length) onAllDrained();
        return;
      case 'presence-changes':
        return forEachPresenceChange(m, (c) => hub.handle(c, w.reply));
      case 'channel-occupied':
      case 'channel-vacated':
      case 'client-event':
      case 'user-signin':
      case 'user-signout':
      case 'cache-miss':
      case 'presence-update':
        return hub.handle(m, w.reply);
      case 'stream-opened':
        return publisher.streamOpened(m.app, m.channel, m.streamId);
      case 'thread-stats':
        return threadStats.answer(m);
      default:
        assertNever(m);
    }
  };

  const spawn = (index: number, port: number) =>
    new Promise<WorkerHandle>((resolve, reject) => {
      const init: WorkerInit = { index, workerCount, config, port, connectionCounts, rateBudgets, metricCounters, channelCounts: channelCountsBuffer, ipCounts, requestSequence };
      const thread = new Worker(WORKER_ENTRY, { workerData: init });
      const handle = new WorkerHandle(index, thread, () => inOrder.settledThrough);
      let started = false;
      thread.on('message', (m: WorkerToPrimary) => {
        if (m.type === 'ready' && !started) {
          started = true;
          handle.readyPort = m.port;
          handle.workerPort = m.workerPort ?? 0;
          // Among the workers before its next message: it listens already, so the publishes it admits must reach
          // the other workers' sockets, and theirs its sockets, even while a later worker is still starting.
          workers.push(handle);
          // Queued before anything it could be asked: a subscriber of a cache channel finds the cluster's event.
          const cached = publisher.cacheEntriesMessage();
          if (cached) handle.post(cached);
          resolve(handle);
        }
        onMessage(handle, m);
      });
      thread.on('error', (err) => {
        if (!started) return reject(err);
        log.fatal({ err, worker: index }, 'worker thread failed; exiting so the host can be restarted');
        process.exit(1);
      });
      thread.on('exit', (code) => {
        handle.exited = true;
        if (!started) reject(new Error(`worker ${index} exited with code ${code} before it was ready`));
        else if (!stopping) {
          log.fatal({ worker: index, code }, 'worker thread exited unexpectedly');
          process.exit(1);
        }
      });
    });

  // The metrics listener first: if its port is taken, nothing else has started yet.
  let metricsServer: Server | null = null;
  let metricsPort: number | null = null;
  if (config.metrics.enabled) {
    const started = await startMetricsServer(metrics.registry, config.metrics.host, config.metrics.port, log, config.metrics.prefix).catch(async (err) => {
      await push?.stop();
      throw err;
    });
    metricsServer = started.server;
    metricsPort = started.port;
  }

  // uWS sets SO_REUSEPORT, so a second server on the same port would silently share it: probe with a
  // plain socket first (which fails if anyone holds the port). Port 0 becomes a free port the same way.
  let port: number;
  try {
    port = await probePort(config.host, config.port);
  } catch (err) {
    metricsServer?.close();
    await push?.stop();
    throw new Error(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
  }
  // Several hosts: position the stream reader, and be among the live hosts other hosts' queries wait for,
  // before any worker listens: a client that connects as soon as /ready answers cannot miss messages
  // published meanwhile, nor be left out of a count.
  if (cluster) {
    await cluster.start();
    await hosts?.start();
    // Cache channels' last events published before this host started (adapter/clusterCache.ts).
    await publisher.loadClusterCache().catch((err: Error) => log.warn({ err: err.message }, 'could not load cache channel events from Redis'));
  }
  try {
    for (let tries = 1; ; tries++) {
      try {
        await spawn(0, port);
        break;
      } catch (err) {
        // Port 0: the free port we probed can be taken by another process before worker 0 binds it.
        if (config.port !== 0 || tries >= 5 || !String(err).includes('cannot listen')) throw err;
        port = await probePort(config.host, 0);
      }
    }
    await Promise.all(Array.from({ length: workerCount - 1 }, (_, i) => spawn(i + 1, port)));
    workers.sort((a, b) => a.index - b.index); // they joined as they became ready; listed by index from now on
  } catch (err) {
    // Stop the threads that did start (never terminate() a listening uWS thread), then give up.
    stopping = true;
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
      w.thread.once('exit', () => resolve());
      w.post({ type: 'stop' });
    })));
    metricsServer?.close();
    await push?.stop();
    await hosts?.stop();
    await cluster?.stop();
    throw err;
  }
  if (cluster) for (const w of workers) w.post({ type: 'health', degraded: !cluster.isHealthy });
  log.info({ host: config.host, port: port, workers: workerCount, metricsPort, mode: config.mode }, 'sockudo-ts listening');

  let shutdownPromise: Promise<void> | null = null;
  const shutdown = () => {
    shutdownPromise ??= (async () => {
      stopping = true;
      const windowMs = Math.floor((config.shutdown_grace_period * 1000) / 2);
      log.info({ windowMs }, 'shutting down: draining connections');
      const allDrained = new Promise<void>((resolve) => {
        onAllDrained = resolve;
      });
      hub.leases.close(); // members of sockets that dropped leave now, before their channels are vacated
      for (const w of workers) w.post({ type: 'drain', windowMs });
      await allDrained;
      const exited = workers.map((w) => new Promise<void>((resolve) => w.thread.once('exit', () => resolve())));
      for (const w of workers) w.post({ type: 'stop' });
      await Promise.all(exited);
      await push?.stop();
      await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
      clearInterval(countsTimer);
      // The last leaves and vacated channels reach Redis, then whatever this host still holds there is released
      // (and announced) while webhooks still go out.
      await hub.clusterRestore.settle();
      await hosts?.stop();
      await webhooks?.stop();
      await cluster?.stop();
      log.info('shutdown complete');
    })();
    return shutdownPromise;
  };

  return {
    port: port,
    workerPorts: workers.map((w) => w.workerPort),
    metricsPort,
    workerCount,
    shutdown,
  };
}
