// Which hosts are alive. Each host refreshes its heartbeat key every 2 s and the key lives 30 s: a host is dead
// after 30 s without a heartbeat, as in Sockudo's cluster health, so a long GC pause, a stopped VM or a short
// partition is not taken for a death. A host whose last heartbeat is over 6 s old and that has no connection to
// Redis left (by its connection name) is dead at once: its process is gone, the kernel closed its sockets (a
// crash, SIGKILL), and its members should not linger for 30 s. A survivor that finds a dead host takes a lock and
// reaps it: its presence share (one member_removed per user left with no socket) and its channels
// (channel_vacated for those no other host holds). Queries wait only for live hosts.
//
// A host that finds its id missing from the host set (a survivor reaped it while it was only stalled, or Redis
// restarted empty) puts its presence share and channels back from what it holds; so does a host whose link to
// Redis comes back (`restoreNow`).
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { type ClusterOccupancy, splitEntry } from './clusterOccupancy.ts';
import type { ClusterPresence } from './clusterPresence.ts';

const BEAT_MS = 2000;
/** No heartbeat for this long: the host is dead (Sockudo's cluster_health dead-node timeout). */
export const DEAD_MS = 30_000;
/** No heartbeat for this long and no Redis connection left: the host's process is gone. */
export const GONE_MS = 6000;
/** How long a reaped host's mark stays, for it to find when it comes back (its members were announced as gone). */
const REAPED_MARK_MS = 10 * 60_000;

/** The name each Redis connection of a host carries, so survivors can tell whether its process is still there. */
export function connectionName(hostId: string): string {
  return `sockudo-${hostId}`;
}

export interface HostEvents {
  memberRemoved(appId: string, channel: string, userId: string): void;
  channelVacated(appId: string, channel: string): void;
  /** Put this host's presence share and channels back into Redis; `reaped`: survivors announced its members gone. */
  restore(reaped: boolean): Promise<void>;
}

export class HostRegistry {
  private timer: NodeJS.Timeout | undefined;
  /** Set after the first heartbeat: from then on, finding this host missing from the set means it must restore. */
  private registered = false;
  private restoreWanted = false;
  private restoring: Promise<void> | null = null;
  /** CLIENT LIST can be disabled (managed Redis): then only the 30 s rule finds dead hosts. */
  private clientListWorks = true;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly hostId: string,
    private readonly presence: ClusterPresence,
    private readonly occupancy: ClusterOccupancy,
    private readonly events: HostEvents,
    private readonly log: Logger,
  ) {}

  /** Resolves after the first heartbeat, so other hosts' queries wait for this one before it takes traffic. */
  async start(): Promise<void> {
    const tick = () =>
      this.beat()
        .then(() => this.restoreIfWanted())
        .then(() => this.reapDead())
        .catch((err: Error) => this.log.debug({ err: err.message }, 'host heartbeat failed'));
    this.timer = setInterval(tick, BEAT_MS);
    this.timer.unref();
    await tick();
  }

  /** A graceful stop: whatever this host still holds in Redis is released (and announced), then it leaves the set. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.release(this.hostId).catch((err: Error) => this.log.warn({ err: err.message }, 'could not release this host\'s presence members and channels'));
    await Promise.all([this.redis.del(this.key(this.hostId, 'alive')), this.redis.srem(`${this.prefix}hosts`, this.hostId)]).catch(() => {});
  }

  /** The link to Redis is back: put this host's share back (a restart may have emptied Redis). Never rejects. */
  restoreNow(): Promise<void> {
    if (!this.registered) return Promise.resolve();
    this.restoreWanted = true;
    return this.restoreIfWanted();
  }

  /** Hosts whose heartbeat is current (this one included). */
  async liveHosts(): Promise<string[]> {
    const hosts = await this.redis.smembers(`${this.prefix}hosts`);
    if (hosts.length === 0) return [this.hostId];
    const alive = await this.redis.mget(...hosts.map((h) => this.key(h, 'alive')));
    return hosts.filter((_, i) => alive[i] !== null);
  }

  private key(hostId: string, what: 'alive' | 'reaper' | 'reaped'): string {
    return `${this.prefix}host:${hostId}:${what}`;
  }

  private async beat(): Promise<void> {
    const [, added] = await Promise.all([this.redis.set(this.key(this.hostId, 'alive'), String(Date.now()), 'PX', DEAD_MS), this.redis.sadd(`${this.prefix}hosts`, this.hostId)]);
    if (added === 1 && this.registered) {
      this.log.warn('this host was missing from redis (reaped after a stall, or redis restarted): putting its presence members and channels back');
      this.restoreWanted = true;
    }
    this.registered = true;
  }

  private restoreIfWanted(): Promise<void> {
    if (this.restoring) return this.restoring.then(() => this.restoreIfWanted());
    if (!this.restoreWanted) return Promise.resolve();
    this.restoreWanted = false;
    const run = (async () => {
      const reaped = (await this.redis.exists(this.key(this.hostId, 'reaped'))) === 1;
      await this.events.restore(reaped);
      if (reaped) await this.redis.del(this.key(this.hostId, 'reaped'));
      this.log.info({ reaped }, 'presence members and channels of this host are in redis again');
    })();
    this.restoring = run
      .catch((err: Error) => {
        this.restoreWanted = true; // the next heartbeat tries again
        this.log.warn({ err: err.message }, 'could not put this host\'s presence members and channels back yet');
      })
      .finally(() => {
        this.restoring = null;
      });
    return this.restoring;
  }

  private async reapDead(): Promise<void> {
    const others = (await this.redis.smembers(`${this.prefix}hosts`)).filter((h) => h !== this.hostId);
    if (others.length === 0) return;
    const ttls = await Promise.all(others.map((h) => this.redis.pttl(this.key(h, 'alive'))));
    let connected: Set<string> | null | undefined;
    for (const [i, host] of others.entries()) {
      const ttl = ttls[i];
      let dead = ttl === -2; // the key expired: no heartbeat for DEAD_MS
      if (!dead && ttl >= 0 && ttl < DEAD_MS - GONE_MS) {
        connected ??= await this.connectedHosts();
        dead = connected !== null && !connected.has(host);
      }
      if (!dead) continue;
      // One survivor does the work.
      if ((await this.redis.set(this.key(host, 'reaper'), this.hostId, 'PX', DEAD_MS, 'NX')) !== 'OK') continue;
      this.log.warn({ host, heartbeatAgeMs: ttl === -2 ? null : DEAD_MS - ttl }, 'a host stopped answering: removing its presence members and channels');
      // Queries stop waiting for it now; a host that was only stalled finds the mark and announces its members again.
      await this.redis.del(this.key(host, 'alive'));
      await this.redis.set(this.key(host, 'reaped'), '1', 'PX', REAPED_MARK_MS);
      await this.release(host);
      await this.redis.srem(`${this.prefix}hosts`, host);
    }
  }

  /** Ids of the hosts with a Redis connection open (by connection name); null when CLIENT LIST is not allowed. */
  private async connectedHosts(): Promise<Set<string> | null> {
    if (!this.clientListWorks) return null;
    try {
      const list = (await this.redis.client('LIST')) as unknown as string;
      const ids = new Set<string>();
      const marker = connectionName('');
      for (const m of list.matchAll(/ name=(\S+)/g)) if (m[1].startsWith(marker)) ids.add(m[1].slice(marker.length));
      return ids;
    } catch (err) {
      this.clientListWorks = false;
      this.log.warn({ err: (err as Error).message }, 'CLIENT LIST refused: a host that stops is found dead only after 30 s without heartbeat');
      return null;
    }
  }

  /** Removes a host's presence share (announcing members left with no socket) and takes it out of its channels. */
  private async release(host: string): Promise<void> {
    let removed = 0;
    for (const [appId, channel] of await this.presence.hostChannels(host)) {
      for (const [userId, sockets] of await this.presence.hostShare(host, appId, channel)) {
        if ((await this.presence.leave(appId, channel, userId, host, sockets)) === true) {
          removed++;
          this.events.memberRemoved(appId, channel, userId);
        }
      }
    }
    await this.redis.del(this.presence.hostSet(host));
    const { vacated } = await this.occupancy.release(host);
    for (const entry of vacated) this.events.channelVacated(...splitEntry(entry));
    if (removed > 0 || vacated.length > 0) this.log.warn({ host, removedMembers: removed, vacatedChannels: vacated.length }, 'released the presence members and channels of a host');
  }
}
