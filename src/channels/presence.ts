// Presence state for the host, owned by the primary: members per channel and the sockets behind each
// member, so member_added / member_removed go out exactly once per user however many tabs and threads.

export interface Member {
  info: unknown;
  sockets: Set<string>;
}

export type JoinResult =
  | { ok: true; firstSocketOfUser: boolean; members: Map<string, Member> }
  | { ok: false; reason: 'overCapacity' };

export class PresenceRegistry {
  /** `${appId}\n${channel}` → user id → member */
  private readonly channels = new Map<string, Map<string, Member>>();

  join(appId: string, channel: string, userId: string, info: unknown, socketId: string, maxMembers: number): JoinResult {
    const key = `${appId}\n${channel}`;
    let members = this.channels.get(key);
    const existing = members?.get(userId);
    if (!existing && (members?.size ?? 0) >= maxMembers) return { ok: false, reason: 'overCapacity' };
    if (!members) this.channels.set(key, (members = new Map()));
    if (existing) {
      existing.sockets.add(socketId);
      return { ok: true, firstSocketOfUser: false, members };
    }
    members.set(userId, { info, sockets: new Set([socketId]) });
    return { ok: true, firstSocketOfUser: true, members };
  }

  /** Returns true when this was the user's last socket in the channel (the member left). */
  leave(appId: string, channel: string, userId: string, socketId: string): boolean {
    const key = `${appId}\n${channel}`;
    const members = this.channels.get(key);
    const member = members?.get(userId);
    if (!members || !member || !member.sockets.delete(socketId)) return false;
    if (member.sockets.size > 0) return false;
    members.delete(userId);
    if (members.size === 0) this.channels.delete(key);
    return true;
  }

  /** Whether this socket has joined the channel (as any user). */
  hasSocket(appId: string, channel: string, userId: string, socketId: string): boolean {
    return this.channels.get(`${appId}\n${channel}`)?.get(userId)?.sockets.has(socketId) ?? false;
  }

  members(appId: string, channel: string): ReadonlyMap<string, Member> {
    return this.channels.get(`${appId}\n${channel}`) ?? new Map();
  }

  /** The `data` of presence subscription_succeeded: `{presence: {ids, hash, count}}` as a JSON string. */
  static snapshot(members: ReadonlyMap<string, Member>): string {
    return PresenceRegistry.snapshotOfInfo(new Map([...members].map(([id, m]) => [id, m.info])));
  }

  static snapshotOfInfo(members: ReadonlyMap<string, unknown>): string {
    const ids = [...members.keys()];
    const hash: Record<string, unknown> = {};
    for (const [id, info] of members) hash[id] = info;
    return JSON.stringify({ presence: { ids, hash, count: ids.length } });
  }
}
