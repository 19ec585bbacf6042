// The primary's realtime state beyond publishing: which channels are occupied where, presence members,
// signed-in users and watchlists. Fed by worker messages; read by the HTTP API's queries.
import type { ChannelCounts } from '../channels/channelCounts.ts';
import { ChannelIndex } from '../channels/channelIndex.ts';
import { PresenceRegistry } from '../channels/presence.ts';
import type { Config } from '../config/schema.ts';
import type { PrimaryToWorker, WorkerToPrimary } from '../ipc/messages.ts';
import { memberAdded, memberRemoved, watchlistEvents } from '../protocol/frames.ts';
import { userTopic } from '../protocol/topics.ts';
import { UserRegistry } from '../users/userRegistry.ts';
import type { Publisher } from './publisher.ts';

type HubMessage = Extract<
  WorkerToPrimary,
  { type: 'channel-occupied' | 'channel-vacated' | 'presence-join' | 'presence-leave' | 'client-event' | 'user-signin' | 'user-signout' }
>;

export class Hub {
  readonly channels: ChannelIndex;
  readonly presence = new PresenceRegistry();
  readonly users = new UserRegistry();

  constructor(
    private readonly config: Config,
    counts: ChannelCounts,
    private readonly publisher: Publisher,
  ) {
    this.channels = new ChannelIndex(counts);
  }

  handle(m: HubMessage, reply: (m: PrimaryToWorker) => void): void {
    switch (m.type) {
      case 'channel-occupied':
        return this.channels.occupied(this.appId(m.app), m.channel, m.worker, m.slot);
      case 'channel-vacated':
        this.channels.vacated(this.appId(m.app), m.channel, m.worker);
        return reply({ type: 'slot-released', slot: m.slot });
      case 'presence-join':
        return this.presenceJoin(m, reply);
      case 'presence-leave': {
        const appId = this.appId(m.app);
        if (this.presence.leave(appId, m.channel, m.userId, m.socketId)) {
          this.publisher.publishToChannel(m.app, appId, m.channel, (v) => memberRemoved(v, m.channel, m.userId));
        }
        return;
      }
      case 'client-event': {
        const message = { event: m.event, channel: m.channel, data: m.data, userId: m.userId, ephemeral: false };
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

  private presenceJoin(m: Extract<HubMessage, { type: 'presence-join' }>, reply: (m: PrimaryToWorker) => void): void {
    const app = this.config.apps[m.app];
    const result = this.presence.join(app.id, m.channel, m.userId, m.userInfo, m.socketId, app.limits.max_presence_members_per_channel);
    if (!result.ok) return reply({ type: 'presence-joined', requestId: m.requestId, ok: false });
    // member_added goes out before the join is confirmed, so the joining socket (not yet subscribed) skips it.
    if (result.firstSocketOfUser) {
      this.publisher.publishToChannel(m.app, app.id, m.channel, (v) => memberAdded(v, m.channel, m.userId, m.userInfo), m.socketId);
    }
    reply({ type: 'presence-joined', requestId: m.requestId, ok: true, data: PresenceRegistry.snapshot(result.members) });
  }

  private signin(m: Extract<HubMessage, { type: 'user-signin' }>, reply: (m: PrimaryToWorker) => void): void {
    const appId = this.appId(m.app);
    const { cameOnline, onlineWatched } = this.users.signin(appId, m.userId, m.socketId, m.watchlist);
    if (!this.config.apps[m.app].features.enable_watchlist_events) return;
    reply({ type: 'watchlist', socketId: m.socketId, onlineUserIds: onlineWatched });
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
