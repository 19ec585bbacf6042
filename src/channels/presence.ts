// Presence state for the host, owned by the primary: members per channel and the sockets behind each
// member, so member_added / member_removed go out exactly once per user however many tabs and threads.
import { AppChannelMap } from './appChannelMap.ts';

export interface Member {
  info: unknown;
  sockets: Set<string>;
}

export type JoinResult =
  | { ok: true; firstSocketOfUser: boolean; members: Map<string, Member> }
  | { ok: false; reason: 'overCapacity' };

export class PresenceRegistry {
  /** (appId, channel) → user id → member */
  private readonly channels = new AppChannelMap<string, Map<string, Member>>();

  join(appId: string, channel: string, userId: string, info: unknown, socketId: string, maxMembers: number): JoinResult {
    const current = this.channels.get(appId, channel);
    const existing = current?.get(userId);
    if (!existing && (current?.size ?? 0) >= maxMembers) return { ok: false, reason: 'overCapacity' };
    let members = current;
    if (!members) this.channels.set(appId, channel, (members = new Map()));
    if (existing) {
      existing.sockets.add(socketId);
      return { ok: true, firstSocketOfUser: false, members };
    }
    members.set(userId, { info, sockets: new Set([socketId]) });
    return { ok: true, firstSocketOfUser: true, members };
  }

  /** Returns true when this was the user's last socket in the channel (the member left). */
  leave(appId: string, channel: string, userId: string, socketId: string): boolean {
    const members = this.channels.get(appId, channel);
    const member = members?.get(userId);
    if (!members || !member || !member.sockets.delete(socketId)) return false;
    if (member.sockets.size > 0) return false;
    members.delete(userId);
    if (members.size === 0) this.channels.delete(appId, channel);
    return true;
  }

  /** Whether this socket has joined the channel (as any user). */
  hasSocket(appId: string, channel: string, userId: string, socketId: string): boolean {
    return this.channels.get(appId, channel)?.get(userId)?.sockets.has(socketId) ?? false;
  }

  members(appId: string, channel: string): ReadonlyMap<string, Member> {
    return this.channels.get(appId, channel) ?? new Map();
  }

  /** The `data` of presence subscription_succeeded: `{presence: {ids, hash, count}}` as a JSON string. */
  static snapshot(members: ReadonlyMap<string, Member>): string {
    const json = new PresenceJson();
    for (const [id, m] of members) json.add(id, m.info);
    return json.end();
  }

  static snapshotOfInfo(members: ReadonlyMap<string, unknown>): string {
    const json = new PresenceJson();
    for (const [id, info] of members) json.add(id, info);
    return json.end();
  }
}

/**
 * Writes `{"presence":{"ids":[…],"hash":{…},"count":n}}` member by member. Every presence join is answered
 * with it, and building an object keyed by user ids for JSON.stringify was 13 % of the primary's time in
 * presence churn; writing it out also keeps a user id such as `__proto__`, which an object would swallow.
 */
class PresenceJson {
  private ids = '';
  private hash = '';
  private count = 0;

  add(id: string, info: unknown): void {
    const key = JSON.stringify(id);
    const value = JSON.stringify(info);
    const sep = this.count === 0 ? '' : ',';
    this.ids += sep + key;
    // As JSON.stringify leaves out an undefined property.
    if (value !== undefined) this.hash += (this.hash === '' ? '' : ',') + key + ':' + value;
    this.count++;
  }

  end(): string {
    return `{"presence":{"ids":[${this.ids}],"hash":{${this.hash}},"count":${this.count}}}`;
  }
}
