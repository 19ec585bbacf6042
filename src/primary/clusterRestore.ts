// Puts this host's presence share and channel occupancy back into Redis after a Redis restart or a reap, and keeps
// the hub's calls to Redis in order around it (held during a restore, leaves retried, all waited for at shutdown).
import { type ClusterOccupancy, splitEntry } from '../adapter/clusterOccupancy.ts';
import type { ClusterPresence } from '../adapter/clusterPresence.ts';
import type { PresenceRegistry } from '../channels/presence.ts';
import type { WebhookSender } from '../webhooks/webhookSender.ts';

/** A presence leave of this host that Redis has not taken yet. */
export interface UnsentLeave {
  appIndex: number;
  appId: string;
  channel: string;
  userId: string;
}

/** What a restore reads from the hub (the state it puts back) and announces through it. */
export interface RestoreHub {
  readonly presence: PresenceRegistry;
  readonly webhooks: WebhookSender | null;
  readonly occupancy: ClusterOccupancy | null;
  /** `appId\nchannel` of every channel this host holds for apps with webhooks. */
  heldChannels(): string[];
  memberChanged(appIndex: number, channel: string, change: 'added' | 'removed', userId: string, userInfo?: unknown): void;
  clusterOccupancyChanged(appId: string, channel: string, name: 'channel_occupied' | 'channel_vacated'): void;
}

export class ClusterRestore {
  /** Set with several hosts: asks for this host's share to be put back into Redis (HostRegistry.restoreNow). */
  requestRestore: (() => void) | null = null;

  /** Presence calls to Redis sent and not answered yet. */
  private presenceInFlight = 0;
  private presenceIdle: (() => void) | null = null;
  /** A restore in progress: 'draining' until the calls in flight are answered, then 'writing'. */
  private restorePhase: 'off' | 'draining' | 'writing' = 'off';
  /** Presence calls that came during a restore, sent after it in the order they came. */
  private held: (() => void)[] = [];
  /** Presence leaves of this host Redis has not taken: waiting for a retry, or to be covered by a restore. */
  private readonly unsentLeaves = new Set<UnsentLeave>();
  /** Every call to Redis on the hub's behalf not answered yet (shutdown waits for them: `settle`). */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Occupancy changes of this host Redis did not take (`appId\nchannel` → the change), settled at the next restore. */
  private readonly unreachedOccupancy = new Map<string, 1 | -1>();

  constructor(
    /** Set when several hosts share Redis; without it there is nothing to restore. */
    private readonly cluster: ClusterPresence | null,
    private readonly hub: RestoreHub,
    private readonly appIndex: ReadonlyMap<string, number>,
  ) {}

  /** Counts a call to Redis as in flight until it is answered (`settle`). */
  track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /** Sends a presence call to Redis now, or after the restore in progress (calls keep their order). */
  presenceCall<T>(run: () => Promise<T>): Promise<T> {
    if (this.restorePhase !== 'off') return new Promise<T>((resolve, reject) => this.held.push(() => void this.presenceCall(run).then(resolve, reject)));
    this.presenceInFlight++;
    const p = this.track(run());
    const done = () => {
      if (--this.presenceInFlight === 0) this.presenceIdle?.();
    };
    p.then(done, done);
    return p;
  }

  /**
   * One socket fewer in Redis; retried until Redis takes it, so no member outlives its sockets. A restore of this
   * host's share (`restore`) takes the place of the leaves not yet taken: it writes the share without them.
   */
  leave(leave: UnsentLeave): void {
    if (this.restorePhase === 'draining') return void this.unsentLeaves.add(leave);
    this.presenceCall(() => (this.cluster as ClusterPresence).leave(leave.appId, leave.channel, leave.userId)).then(
      (left) => {
        if (left) this.hub.memberChanged(leave.appIndex, leave.channel, 'removed', leave.userId);
        if (left !== null) return;
        // Redis lost this host's share (a restart, or a reap while this host was stalled): the restore that puts
        // it back settles this leave too (member_removed if the user is no longer a member).
        this.unsentLeaves.add(leave);
        this.requestRestore?.();
      },
      () => {
        this.unsentLeaves.add(leave);
        setTimeout(() => {
          if (this.unsentLeaves.delete(leave)) this.leave(leave);
        }, 1000).unref();
      },
    );
  }

  /** An occupancy change of this host Redis did not take: settled when Redis is back (restoreOccupancy). */
  occupancyUnreached(appId: string, channel: string, delta: 1 | -1): void {
    const key = `${appId}\n${channel}`;
    // An occupied and a vacated that both missed it cancel out.
    if (this.unreachedOccupancy.get(key) === -delta) this.unreachedOccupancy.delete(key);
    else this.unreachedOccupancy.set(key, delta);
  }

  /**
   * Puts this host's presence share and channels back into Redis as the host holds them (Redis restarted empty,
   * or survivors reaped this host while it was only stalled). Each channel's share is set in one script: members
   * still connected stay members (no member_added, unless `reaped`: survivors announced them gone), users whose
   * leave never reached Redis get their member_removed, and channels are held by this host again.
   */
  async restore(reaped: boolean): Promise<void> {
    const cluster = this.cluster;
    if (!cluster) return;
    this.restorePhase = 'draining';
    let leaves: UnsentLeave[] = [];
    try {
      // Joins in flight are answered before the share is read, so it counts them (or they failed and do not count).
      if (this.presenceInFlight > 0) {
        await new Promise<void>((resolve) => {
          this.presenceIdle = resolve;
          setTimeout(resolve, 3000).unref();
        });
      }
      this.presenceIdle = null;
      this.restorePhase = 'writing';
      const shares = new Map<string, { appId: string; channel: string; members: ReadonlyMap<string, { info: unknown; sockets: ReadonlyMap<string, unknown> }>; check: Set<string> }>();
      const entry = (appId: string, channel: string) => {
        const key = `${appId}\n${channel}`;
        let e = shares.get(key);
        if (!e) shares.set(key, (e = { appId, channel, members: this.hub.presence.members(appId, channel), check: new Set() }));
        return e;
      };
      for (const [appId, channel] of this.hub.presence.allChannels()) entry(appId, channel);
      leaves = [...this.unsentLeaves];
      this.unsentLeaves.clear();
      for (const l of leaves) entry(l.appId, l.channel).check.add(l.userId);
      for (const [appId, channel] of await cluster.hostChannels(cluster.hostId)) entry(appId, channel);
      for (const e of shares.values()) {
        const appIndex = this.appIndex.get(e.appId);
        const share: [string, number, unknown][] = [...e.members].map(([userId, m]) => [userId, m.sockets.size, m.info]);
        const r = await cluster.restoreShare(e.appId, e.channel, share, [...e.check]);
        leaves = leaves.filter((l) => l.appId !== e.appId || l.channel !== e.channel);
        if (appIndex === undefined) continue;
        for (const userId of new Set([...r.removed, ...r.gone])) this.hub.memberChanged(appIndex, e.channel, 'removed', userId);
        if (reaped) for (const userId of r.added) this.hub.memberChanged(appIndex, e.channel, 'added', userId, e.members.get(userId)?.info);
      }
      await this.restoreOccupancy();
    } catch (err) {
      for (const l of leaves) this.unsentLeaves.add(l); // covered by the next restore
      throw err;
    } finally {
      this.restorePhase = 'off';
      const held = this.held;
      this.held = [];
      for (const send of held) send();
    }
  }

  /** Tells Redis again which channels this host holds (apps with webhooks), and announces what Redis missed. */
  private async restoreOccupancy(): Promise<void> {
    const occupancy = this.hub.occupancy;
    if (!occupancy || !this.hub.webhooks) return;
    // Read and sent in one turn: changes sent before it are in the index, changes after it reach Redis after it.
    const held = this.hub.heldChannels();
    const unreached = [...this.unreachedOccupancy];
    this.unreachedOccupancy.clear();
    try {
      const { vacated, occupied } = await this.track(occupancy.restore(held, unreached));
      for (const e of vacated) this.hub.clusterOccupancyChanged(...splitEntry(e), 'channel_vacated');
      for (const e of occupied) this.hub.clusterOccupancyChanged(...splitEntry(e), 'channel_occupied');
    } catch (err) {
      for (const [e, d] of unreached) if (!this.unreachedOccupancy.has(e)) this.unreachedOccupancy.set(e, d);
      throw err;
    }
  }

  /** Waits (at most `ms`) for the hub's calls to Redis to be answered: a stopping host's last leaves and vacated channels. */
  async settle(ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())).unref())]);
    }
  }
}
