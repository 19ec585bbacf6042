// Host-wide subscription counts for the whole cluster: the asking host sends a query through the stream,
// every live host answers on the asker's reply channel with its own counts (read from its shared memory),
// and the asker sums them. A host that does not answer within the timeout is left out and the answer says
// it is incomplete; nothing ever waits longer than that.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { HostRegistry } from './hostRegistry.ts';
import type { RedisCluster } from './redisCluster.ts';

export type LocalCounts = (appId: string, prefix: string, channels: string[] | undefined) => Record<string, number>;

export interface ClusterCounts {
  counts: Record<string, number>;
  complete: boolean;
}

interface Pending {
  waiting: Set<string>;
  counts: Record<string, number>;
  done: (complete: boolean) => void;
}

export class ClusterQueries {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly cluster: RedisCluster,
    private readonly hosts: HostRegistry,
    private readonly local: LocalCounts,
    private readonly timeoutMs = 1000,
  ) {
    cluster.onReply = (text) => this.onReply(text);
  }

  /**
   * Counts of the channels (or of every occupied channel with the prefix) summed over live hosts. Without Redis
   * (down, or failing) the answer is this host's counts, marked incomplete: never an error, never a long wait.
   */
  async counts(appId: string, prefix: string, channels?: string[]): Promise<ClusterCounts> {
    const alone = (): ClusterCounts => ({ counts: this.local(appId, prefix, channels), complete: false });
    if (!this.cluster.isHealthy) return alone();
    const id = randomUUID();
    const started = performance.now();
    const metrics = this.cluster.metrics;
    let waiting: Set<string>;
    try {
      waiting = new Set(await this.hosts.liveHosts());
    } catch {
      return alone();
    }
    waiting.add(this.cluster.hostId);
    let finish: (complete: boolean) => void = () => {};
    const result = new Promise<ClusterCounts>((resolve) => {
      const counts: Record<string, number> = {};
      const timer = setTimeout(() => finish(false), this.timeoutMs);
      finish = (complete: boolean) => {
        clearTimeout(timer);
        this.pending.delete(id);
        metrics?.queryResolved(complete, performance.now() - started);
        resolve({ counts, complete });
      };
      this.pending.set(id, { waiting, counts, done: finish });
    });
    try {
      await this.cluster.send({ kind: 'query', origin: this.cluster.hostId, id, app: appId, prefix, channels });
    } catch {
      finish(false);
      return alone();
    }
    metrics?.querySent();
    return result;
  }

  /** Another host's question: answer with this host's counts. */
  answer(origin: string, id: string, appId: string, prefix: string, channels: string[] | undefined): void {
    const counts = this.local(appId, prefix, channels);
    this.cluster.metrics?.queryAnswered();
    this.cluster.reply(origin, JSON.stringify({ id, host: this.cluster.hostId, counts }));
  }

  private onReply(text: string): void {
    const { id, host, counts } = JSON.parse(text) as { id: string; host: string; counts: Record<string, number> };
    this.cluster.metrics?.replyReceived();
    const p = this.pending.get(id);
    if (!p) return; // too late
    for (const [channel, n] of Object.entries(counts)) p.counts[channel] = (p.counts[channel] ?? 0) + n;
    p.waiting.delete(host);
    if (p.waiting.size === 0) p.done(true);
  }
}

/**
 * The counts the subscription_count webhooks last reported per channel, kept in Redis: whichever host reports
 * next (the leader changes when a host stops) compares with them, so a channel that emptied is still reported as 0.
 */
export class ReportedCounts {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(appId: string): string {
    return `${this.prefix}reported-counts:${appId}`;
  }

  async load(appId: string): Promise<Map<string, number>> {
    return new Map(Object.entries(await this.redis.hgetall(this.key(appId))).map(([c, n]) => [c, Number(n)]));
  }

  async save(appId: string, counts: ReadonlyMap<string, number>): Promise<void> {
    const tx = this.redis.multi().del(this.key(appId));
    if (counts.size > 0) tx.hset(this.key(appId), Object.fromEntries(counts)).pexpire(this.key(appId), 86_400_000);
    await tx.exec();
  }
}
