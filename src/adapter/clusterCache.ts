// Cache channels across hosts (SOCKUDO-REFERENCE §10: cache channels are cluster state). Every host keeps the last
// event of each cache channel from the messages it reads back from the stream; a host that joins the cluster (or
// restarts) after a publish never read it. So the host that published a cache channel's event also keeps it in
// Redis (`{prefix}cache:{appId}:{channel}`, for the cache TTL), and a starting host loads them all before its
// workers take connections. Two publishes to one cache channel from two hosts at the same moment leave whichever
// write reached Redis last, which may not be the one every host read last.
import type { Redis } from 'ioredis';

export interface CachedEvent {
  appId: string;
  channel: string;
  /** The V1 frame of the last event, as every host builds it. */
  frame: string;
  /** What is left of its TTL. */
  ttlMs: number;
}

/** Keys read per SCAN step when loading. */
const SCAN_COUNT = 500;

export class ClusterCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Keeps a cache channel's last event (the host that published it calls this once Redis took the message). */
  async store(appId: string, channel: string, frame: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.key(appId, channel), frame, 'PX', ttlMs);
  }

  /** Every cache channel's last event kept in the cluster, with its remaining TTL. */
  async loadAll(): Promise<CachedEvent[]> {
    const found: CachedEvent[] = [];
    const head = `${this.prefix}cache:`;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${head}*`, 'COUNT', SCAN_COUNT);
      cursor = next;
      if (keys.length === 0) continue;
      const pipeline = this.redis.pipeline();
      for (const k of keys) pipeline.get(k).pttl(k);
      const answers = (await pipeline.exec()) ?? [];
      keys.forEach((k, i) => {
        const frame = answers[2 * i]?.[1];
        const ttlMs = Number(answers[2 * i + 1]?.[1]);
        // An app id has no ':' (config/schema.ts), so the first one after the head ends it.
        const rest = k.slice(head.length);
        const colon = rest.indexOf(':');
        if (typeof frame === 'string' && ttlMs > 0 && colon > 0) found.push({ appId: rest.slice(0, colon), channel: rest.slice(colon + 1), frame, ttlMs });
      });
    } while (cursor !== '0');
    return found;
  }

  private key(appId: string, channel: string): string {
    return `${this.prefix}cache:${appId}:${channel}`;
  }
}
