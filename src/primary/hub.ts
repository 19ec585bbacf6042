// The primary's realtime state beyond publishing: which channels are occupied where, presence members,
// signed-in users and watchlists. Fed by worker messages; read by the HTTP API's queries. With several hosts,
// putting this host's share back into Redis after a restart or a reap is ClusterRestore's (clusterRestore.ts).
import type { ClusterOccupancy } from '../adapter/clusterOccupancy.ts';
import type { ClusterPresence } from '../adapter/clusterPresence.ts';
import type { ClusterCounts, ClusterQueries, ReportedCounts } from '../adapter/clusterQueries.ts';
import type { ChannelCounts } from '../channels/channelCounts.ts';
import type { Logger } from '../log.ts';
import type { WebhookEvent, WebhookSender } from '../webhooks/webhookSender.ts';
import { ChannelIndex } from '../channels/channelIndex.ts';
import { PresenceRegistry } from '../channels/presence.ts';
import type { Config } from '../config/schema.ts';
import type { PresenceJoin, PresenceJoined, PresenceLeave, PrimaryToWorker, WorkerToPrimary } from '../ipc/messages.ts';
import { channelType, isPresenceChannel } from '../protocol/channels.ts';
import { watchlistEvents } from '../protocol/frames.ts';
import { userTopic } from '../protocol/topics.ts';
import { UserRegistry } from '../users/userRegistry.ts';
import { ClusterRestore } from './clusterRestore.ts';
import { PresenceLeases } from './presenceLeases.ts';
import type { Publisher } from './publisher.ts';

type HubMessage =
  | Extract<WorkerToPrimary, { type: 'channel-occupied' | 'channel-vacated' | 'client-event' | 'user-signin' | 'user-signout' | 'cache-miss' | 'presence-update' }>
  | PresenceJoin
  | PresenceLeave;

/** What the hub answers a worker: a message, or a presence join's answer (which travels in a `frames` message). */
type HubReply = (m: PrimaryToWorker | PresenceJoined) => void;

export class Hub {
  readonly channels: ChannelIndex;
  readonly presence = new PresenceRegistry();
  readonly users = new UserRegistry();
  /** Leaves of sockets that dropped, held for the presence lease (config.presence). */
  readonly leases = new PresenceLeases();
  /** This host's calls to Redis, and the restore that puts its share back there. */
  readonly clusterRestore: ClusterRestore;
  private readonly appIndex: Map<string, number>;

  constructor(
    private readonly config: Config,
    counts: ChannelCounts,
    private readonly publisher: Publisher,
    private readonly log: Logger,
    /** Set when several hosts share Redis. */
    private readonly cluster: ClusterPresence | null = null,
  ) {
    this.channels = new ChannelIndex(counts);
    this.appIndex = new Map(config.apps.map((a, i) => [a.id, i]));
    this.clusterRestore = new ClusterRestore(cluster, this, this.appIndex);
    publisher.presenceVersions = (appId, channel) => this.presence.versions(appId, channel);
    publisher.presenceInfo = (appId, channel, userId, info) => this.presence.setInfo(appId, channel, userId, info);
  }

  handle(m: HubMessage, reply: HubReply): void {
    switch (m.type) {
      case 'channel-occupied': {
        const appId = this.appId(m.app);
        const first = !this.channels.has(appId, m.channel);
        this.channels.occupied(appId, m.channel, m.worker, m.slot);
        // Announced already, by the presence join that made this socket its first member (occupiedEarly).
        if (first && !this.announcedOccupied.delete(`${appId}\n${m.channel}`)) this.occupancyChanged(m.app, m.channel, 1);
        return;
      }
      case 'channel-vacated': {
        const appId = this.appId(m.app);
        this.channels.vacated(appId, m.channel, m.worker);
        if (!this.channels.has(appId, m.channel)) this.occupancyChanged(m.app, m.channel, -1);
        return reply({ type: 'slot-released', slot: m.slot });
      }
      case 'cache-miss':
        return this.webhook(m.app, { name: 'cache_miss', channel: m.channel });
      case 'presence-join':
        return this.presenceJoin(m, reply);
      case 'presence-leave':
        if (m.leaseMs) return this.leases.hold(m.app, m.channel, m.userId, m.socketId, m.leaseMs, () => this.presenceLeave(m.app, m.channel, m.userId, m.socketId));
        return this.presenceLeave(m.app, m.channel, m.userId, m.socketId);
      case 'presence-update':
        return this.presenceUpdate(m);
      case 'client-event': {
        const message = { event: m.event, channel: m.channel, data: m.data, userId: m.userId, ephemeral: false };
        const data = typeof m.data === 'string' ? m.data : JSON.stringify(m.data);
        this.webhook(m.app, { name: 'client_event', channel: m.channel, event: m.event, data, socket_id: m.socketId, ...(m.userId ? { user_id: m.userId } : {}) });
        return this.publisher.clientEvent(m.app, this.appId(m.app), m.worker, m.v1Frame, message, m.socketId, m.echo);
      }
      case 'user-signin':
        return this.signin(m, reply);
      case 'user-signout': {
        const appId = this.appId(m.app);
        if (this.users.signout(appId, m.userId, m.socketId)) this.notifyWatchers(m.app, m.userId, 'offline');
        return;
      }
    }
  }

  /**
   * The host's own registry knows which sockets joined (so a re-subscribe is not counted twice); with
   * several hosts, ClusterPresence decides the member list, the cap and the first/last transitions.
   */
  private presenceJoin(m: PresenceJoin, reply: HubReply): void {
    const app = this.config.apps[m.app];
    const max = app.limits.max_presence_members_per_channel;
    if (!this.cluster) {
      const result = this.presence.join(app.id, m.channel, m.userId, m.userInfo, m.socketId, m.protocol, max);
      if (!result.ok) return reply({ type: 'presence-joined', requestId: m.requestId, ok: false, reason: 'full' });
      this.occupiedEarly(m.app, app.id, m.channel);
      // member_added goes out before the join is confirmed; the joining socket is excluded either way.
      // Nobody else is in the channel to be told when the joiner is its only member.
      if (result.firstSocketOfUser) this.memberChanged(m.app, m.channel, 'added', m.userId, m.userInfo, m.socketId, result.members.size > 1);
      this.leases.takeOver(m.app, m.channel, m.userId, m.socketId);
      return reply({ type: 'presence-joined', requestId: m.requestId, ok: true, dataJson: JSON.stringify(PresenceRegistry.snapshot(result.members)) });
    }
    const cluster = this.cluster;
    const again = this.presence.hasSocket(app.id, m.channel, m.userId, m.socketId);
    const joined = this.clusterRestore.presenceCall(() =>
      again ? cluster.members(app.id, m.channel).then((members) => ({ ok: true as const, first: false, members })) : cluster.join(app.id, m.channel, m.userId, m.userInfo, max),
    );
    joined.then(
      (r) => {
        if (!r.ok) return reply({ type: 'presence-joined', requestId: m.requestId, ok: false, reason: 'full' });
        // A user already a member elsewhere keeps the info Redis has (its first join's, or a presence_update's since),
        // which a restore would otherwise overwrite with this socket's channel_data.
        const info = r.members.has(m.userId) ? r.members.get(m.userId) : m.userInfo;
        this.presence.join(app.id, m.channel, m.userId, info, m.socketId, m.protocol, Number.POSITIVE_INFINITY);
        this.occupiedEarly(m.app, app.id, m.channel);
        if (r.first) this.memberChanged(m.app, m.channel, 'added', m.userId, m.userInfo, m.socketId, r.members.size > 1);
        this.leases.takeOver(m.app, m.channel, m.userId, m.socketId);
        reply({ type: 'presence-joined', requestId: m.requestId, ok: true, dataJson: JSON.stringify(PresenceRegistry.snapshotOfInfo(r.members)) });
      },
      (err: Error) => {
        this.log.warn({ err: err.message, channel: m.channel }, 'presence join failed: redis unavailable');
        reply({ type: 'presence-joined', requestId: m.requestId, ok: false, reason: 'unavailable' });
      },
    );
  }

  private presenceLeave(appIndex: number, channel: string, userId: string, socketId: string): void {
    const appId = this.appId(appIndex);
    if (!this.presence.hasSocket(appId, channel, userId, socketId)) return; // its join never completed
    const lastHere = this.presence.leave(appId, channel, userId, socketId);
    // A join the worker then refused: the channel it announced as occupied never was; it is vacated again.
    if (this.announcedOccupied.delete(`${appId}\n${channel}`)) this.occupancyChanged(appIndex, channel, -1);
    if (this.cluster) return this.clusterRestore.leave({ appIndex, appId, channel, userId });
    if (lastHere) this.memberChanged(appIndex, channel, 'removed', userId, undefined, undefined, this.presence.members(appId, channel).size > 0);
  }

  /**
   * A member's new `user_info` (V2 `presence_update`): kept for later snapshots (here, and in Redis with several
   * hosts, before anyone is told), then `sockudo_internal:presence_update` to the channel's V2 sockets, the sender
   * among them, and the `member_updated` webhook. A socket that left meanwhile changes nothing.
   */
  private presenceUpdate(m: Extract<WorkerToPrimary, { type: 'presence-update' }>): void {
    const appId = this.appId(m.app);
    if (!this.presence.updateInfo(appId, m.channel, m.userId, m.socketId, m.userInfo)) return;
    const announce = () => {
      this.publisher.presenceChange(m.app, appId, m.channel, 'updated', m.userId, m.userInfo);
      this.webhook(m.app, { name: 'member_updated', channel: m.channel, user_id: m.userId, user_info: m.userInfo });
    };
    const cluster = this.cluster;
    if (!cluster) return announce();
    this.clusterRestore.presenceCall(() => cluster.updateInfo(appId, m.channel, m.userId, m.userInfo)).then(announce, (err: Error) => {
      this.log.warn({ err: err.message, channel: m.channel }, 'presence update not kept in redis: later joiners on other hosts see the old user_info');
      announce();
    });
  }

  /** A channel occupied or vacated cluster-wide as decided from Redis (a restore, or a dead host's release). */
  clusterOccupancyChanged(appId: string, channel: string, name: 'channel_occupied' | 'channel_vacated'): void {
    const index = this.appIndex.get(appId);
    if (index === undefined || this.config.apps[index].webhooks.length === 0) return;
    this.webhook(index, { name, channel });
  }

  /** Set when any app has webhooks. */
  webhooks: WebhookSender | null = null;
  /** Set with several hosts: the hosts that hold each channel (so occupied/vacated fire once cluster-wide). */
  occupancy: ClusterOccupancy | null = null;

  /** A presence member joined or left (decided here): frames on every host, and the webhook. */
  memberChanged(appIndex: number, channel: string, change: 'added' | 'removed', userId: string, userInfo?: unknown, exclude?: string, anyoneToTell = true): void {
    if (anyoneToTell) this.publisher.presenceChange(appIndex, this.appId(appIndex), channel, change, userId, userInfo, exclude);
    this.webhook(appIndex, { name: change === 'added' ? 'member_added' : 'member_removed', channel, user_id: userId });
  }

  /** Presence channels announced as occupied by their first member's join, before the worker's channel-occupied. */
  private readonly announcedOccupied = new Set<string>();

  /**
   * A presence join into a channel nobody holds on this host: channel_occupied goes out now, before the join's
   * member_added, as Pusher and Sockudo order them; the worker's channel-occupied for it then announces nothing.
   */
  private occupiedEarly(appIndex: number, appId: string, channel: string): void {
    if (!this.webhooks || this.config.apps[appIndex].webhooks.length === 0) return;
    const key = `${appId}\n${channel}`;
    if (this.channels.has(appId, channel) || this.announcedOccupied.has(key)) return;
    this.announcedOccupied.add(key);
    this.occupancyChanged(appIndex, channel, 1);
  }

  /** `appId\nchannel` of every channel this host holds for apps with webhooks: occupied, or announced by a presence join. */
  heldChannels(): string[] {
    const held: string[] = [];
    for (const app of this.config.apps) {
      if (app.webhooks.length === 0) continue;
      for (const channel of this.channels.channels(app.id)) held.push(`${app.id}\n${channel}`);
      for (const key of this.announcedOccupied) if (key.startsWith(`${app.id}\n`) && !this.channels.has(app.id, key.slice(app.id.length + 1))) held.push(key);
    }
    return held;
  }

  /** This host gained its first or lost its last subscriber of a channel; webhooks fire cluster-wide once. */
  private occupancyChanged(appIndex: number, channel: string, delta: 1 | -1): void {
    if (!this.webhooks || this.config.apps[appIndex].webhooks.length === 0) return;
    const name = delta > 0 ? ('channel_occupied' as const) : ('channel_vacated' as const);
    if (!this.occupancy) return this.webhook(appIndex, { name, channel });
    this.clusterRestore.track(this.occupancy.change(this.appId(appIndex), channel, delta)).then(
      (clusterWide) => {
        if (clusterWide) this.webhook(appIndex, { name, channel });
      },
      (err: Error) => {
        this.clusterRestore.occupancyUnreached(this.appId(appIndex), channel, delta);
        this.log.warn({ err: err.message, channel }, 'could not record channel occupancy across hosts');
      },
    );
  }

  private readonly lastCounts = new Map<string, Map<string, number>>();
  /** Set with several hosts: whether this host is the one that reports cluster-wide counts. */
  isLeader: (() => Promise<boolean>) | null = null;
  /** Set with several hosts: the counts last reported, in Redis, for whichever host reports next. */
  reportedCounts: ReportedCounts | null = null;
  private wasLeader = false;

  /** subscription_count webhooks for non-presence channels: sent when a count changed since the last look (once a second). */
  async emitSubscriptionCounts(): Promise<void> {
    const leader = this.isLeader ? await this.isLeader().catch(() => false) : true;
    // A host that just became the reporter takes over what the previous one reported (a channel that emptied meanwhile is reported as 0).
    const tookOver = leader && !this.wasLeader;
    this.wasLeader = leader;
    if (!leader) return;
    for (const [index, app] of this.config.apps.entries()) {
      if (!app.webhooks.some((w) => !w.event_types || w.event_types.includes('subscription_count'))) continue;
      const { counts, complete } = await this.subscriptionCounts(app.id, '').catch(() => ({ counts: {} as Record<string, number>, complete: false }));
      // A host missing from the answer would read as its channels dropping to 0: wait for a whole answer.
      if (!complete) continue;
      let last = this.lastCounts.get(app.id);
      if (this.reportedCounts && (tookOver || !last)) last = await this.reportedCounts.load(app.id).catch(() => last);
      last ??= new Map<string, number>();
      const next = new Map<string, number>();
      let changed = false;
      for (const [channel, n] of Object.entries(counts)) {
        if (isPresenceChannel(channel)) continue; // as Sockudo: presence channels have member webhooks instead
        if (n > 0) next.set(channel, n);
        if (n > 0 && last.get(channel) !== n) {
          changed = true;
          this.webhook(index, { name: 'subscription_count', channel, subscription_count: n });
        }
      }
      for (const channel of last.keys()) {
        if (next.has(channel)) continue;
        changed = true;
        this.webhook(index, { name: 'subscription_count', channel, subscription_count: 0 });
      }
      this.lastCounts.set(app.id, next);
      if (changed && this.reportedCounts) await this.reportedCounts.save(app.id, next).catch((err: Error) => this.log.debug({ err: err.message }, 'could not record the reported subscription counts'));
    }
  }

  private webhook(appIndex: number, event: WebhookEvent): void {
    this.webhooks?.emit(this.appId(appIndex), event);
  }

  /** Set with several hosts: subscription counts are summed over the cluster. */
  queries: ClusterQueries | null = null;

  /** Subscription counts of `channels` (or of every occupied channel with `prefix`), cluster-wide. */
  async subscriptionCounts(appId: string, prefix: string, channels?: string[]): Promise<ClusterCounts> {
    if (this.queries) return this.queries.counts(appId, prefix, channels);
    return { counts: this.localCounts(appId, prefix, channels), complete: true };
  }

  /** This host's counts, read from the workers' shared memory. */
  readonly localCounts = (appId: string, prefix: string, channels: string[] | undefined): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const name of channels ?? this.channels.channels(appId, prefix)) out[name] = this.channels.subscriptionCount(appId, name);
    return out;
  };

  /** Occupied channels of an app on this host, by channel type (sockudo_active_channels). */
  activeChannels(appId: string): Record<string, number> {
    const byType: Record<string, number> = {};
    for (const name of this.channels.channels(appId)) {
      if (this.channels.subscriptionCount(appId, name) <= 0) continue; // empty, its slot not yet given back
      const t = channelType(name);
      byType[t] = (byType[t] ?? 0) + 1;
    }
    return byType;
  }

  /** Members of a presence channel: cluster-wide with several hosts (rejects while Redis cannot be asked), else this host's. */
  async presenceMembers(appId: string, channel: string): Promise<Map<string, unknown>> {
    if (this.cluster) return this.cluster.members(appId, channel);
    return new Map([...this.presence.members(appId, channel)].map(([id, m]) => [id, m.info]));
  }

  /** How many members a presence channel has: cluster-wide, or this host's (`complete` false) while Redis cannot be asked. */
  async presenceMemberCount(appId: string, channel: string): Promise<{ count: number; complete: boolean }> {
    if (!this.cluster) return { count: this.presence.members(appId, channel).size, complete: true };
    try {
      return { count: (await this.cluster.members(appId, channel)).size, complete: true };
    } catch {
      return { count: this.presence.members(appId, channel).size, complete: false };
    }
  }

  private signin(m: Extract<HubMessage, { type: 'user-signin' }>, reply: (m: PrimaryToWorker) => void): void {
    const appId = this.appId(m.app);
    const { cameOnline, onlineWatched, offlineWatched } = this.users.signin(appId, m.userId, m.socketId, m.watchlist);
    if (!this.config.apps[m.app].features.enable_watchlist_events) return;
    reply({ type: 'watchlist', socketId: m.socketId, onlineUserIds: onlineWatched, offlineUserIds: offlineWatched });
    if (cameOnline) this.notifyWatchers(m.app, m.userId, 'online');
  }

  private notifyWatchers(appIndex: number, userId: string, name: 'online' | 'offline'): void {
    const app = this.config.apps[appIndex];
    if (!app.features.enable_watchlist_events) return;
    const frames = [];
    for (const watcher of this.users.watchersOf(app.id, userId)) {
      for (const v of [1, 2] as const) {
        frames.push({ app: appIndex, topic: userTopic(v, app.id, watcher), frame: watchlistEvents(v, [{ name, user_ids: [userId] }]) });
      }
    }
    if (frames.length > 0) this.publisher.broadcast(frames);
  }

  private appId(index: number): string {
    return this.config.apps[index].id;
  }
}
