// Which hosts are alive: each host refreshes a short-lived key every 2 s. A survivor that finds a host's
// key gone takes a lock and removes that host's presence members (one member_removed each), so a killed
// host leaves no ghosts. Queries wait only for live hosts.
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { ClusterPresence } from './clusterPresence.ts';

const BEAT_MS = 2000;
const ALIVE_MS = 6000;

export class HostRegistry {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly hostId: string,
    private readonly presence: ClusterPresence,
    private readonly onMemberRemoved: (appId: string, channel: string, userId: string) => void,
    private readonly log: Logger,
  ) {}

  /** Resolves after the first heartbeat, so other hosts' queries wait for this one before it takes traffic. */
  async start(): Promise<void> {
    const tick = () =>
      this.beat()
        .then(() => this.reapDead())
        .catch((err: Error) => this.log.debug({ err: err.message }, 'host heartbeat failed'));
    this.timer = setInterval(tick, BEAT_MS);
    this.timer.unref();
    await tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.redis.del(this.aliveKey(this.hostId)), this.redis.srem(`${this.prefix}hosts`, this.hostId)]).catch(() => {});
  }

  /** Hosts whose heartbeat is current (this one included). */
  async liveHosts(): Promise<string[]> {
    const hosts = await this.redis.smembers(`${this.prefix}hosts`);
    if (hosts.length === 0) return [this.hostId];
    const alive = await this.redis.mget(...hosts.map((h) => this.aliveKey(h)));
    return hosts.filter((_, i) => alive[i] !== null);
  }

  private aliveKey(hostId: string): string {
    return `${this.prefix}host:${hostId}:alive`;
  }

  private async beat(): Promise<void> {
    await this.redis.set(this.aliveKey(this.hostId), String(Date.now()), 'PX', ALIVE_MS);
    await this.redis.sadd(`${this.prefix}hosts`, this.hostId);
  }

  private async reapDead(): Promise<void> {
    const hosts = await this.redis.smembers(`${this.prefix}hosts`);
    for (const host of hosts) {
      if (host === this.hostId || (await this.redis.exists(this.aliveKey(host))) === 1) continue;
      // One survivor does the work.
      if ((await this.redis.set(`${this.prefix}host:${host}:reaper`, this.hostId, 'PX', 30_000, 'NX')) !== 'OK') continue;
      await this.reap(host);
    }
  }

  private async reap(host: string): Promise<void> {
    const entries = await this.redis.smembers(this.presence.hostSet(host));
    let removed = 0;
    for (const entry of entries) {
      const [appId, channel] = entry.split('\n');
      for (const [userId, sockets] of await this.presence.hostShare(host, appId, channel)) {
        if (await this.presence.leave(appId, channel, userId, host, sockets)) {
          removed++;
          this.onMemberRemoved(appId, channel, userId);
        }
      }
    }
    await this.redis.del(this.presence.hostSet(host));
    await this.redis.srem(`${this.prefix}hosts`, host);
    this.log.warn({ host, removedMembers: removed }, 'removed the presence members of a host that stopped answering');
  }
}
