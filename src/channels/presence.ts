// Presence state for the host, owned by the primary: members per channel and the sockets behind each
// member, so member_added / member_removed go out exactly once per user however many tabs and threads.
// It also counts each channel's sockets per protocol version: member frames are built and handed to the
// workers only for the versions someone here holds (every presence subscriber joins through here).
import type { ProtocolVersion } from '../protocol/frames.ts';
import { AppChannelMap } from './appChannelMap.ts';

export interface Member {
  info: unknown;
  /** socket_id → the socket's protocol version. */
  sockets: Map<string, ProtocolVersion>;
  /** The member's entry in the subscription_succeeded snapshot, serialized once at join: `"id"` and `"id":info`. */
  idJson: string;
  hashEntry: string | undefined;
}

interface PresenceChannel {
  members: Map<string, Member>;
  /** Sockets in the channel per protocol version (index 1 and 2). */
  sockets: [number, number, number];
}

const NO_MEMBERS: ReadonlyMap<string, Member> = new Map();
const VERSIONS_BY_MASK: readonly (readonly ProtocolVersion[])[] = [[], [1], [2], [1, 2]];

export type JoinResult =
  | { ok: true; firstSocketOfUser: boolean; members: Map<string, Member> }
  | { ok: false; reason: 'overCapacity' };

export class PresenceRegistry {
  /** (appId, channel) → its members by user id, and its sockets per version */
  private readonly channels = new AppChannelMap<string, PresenceChannel>();

  join(appId: string, channel: string, userId: string, info: unknown, socketId: string, protocol: ProtocolVersion, maxMembers: number): JoinResult {
    const current = this.channels.get(appId, channel);
    const existing = current?.members.get(userId);
    if (!existing && (current?.members.size ?? 0) >= maxMembers) return { ok: false, reason: 'overCapacity' };
    let ch = current;
    if (!ch) this.channels.set(appId, channel, (ch = { members: new Map(), sockets: [0, 0, 0] }));
    if (existing) {
      if (!existing.sockets.has(socketId)) ch.sockets[protocol]++;
      existing.sockets.set(socketId, protocol);
      return { ok: true, firstSocketOfUser: false, members: ch.members };
    }
    const idJson = JSON.stringify(userId);
    ch.members.set(userId, { info, sockets: new Map([[socketId, protocol]]), idJson, hashEntry: hashEntryOf(idJson, info) });
    ch.sockets[protocol]++;
    return { ok: true, firstSocketOfUser: true, members: ch.members };
  }

  /** Returns true when this was the user's last socket in the channel (the member left). */
  leave(appId: string, channel: string, userId: string, socketId: string): boolean {
    const ch = this.channels.get(appId, channel);
    const member = ch?.members.get(userId);
    const protocol = member?.sockets.get(socketId);
    if (!ch || !member || protocol === undefined) return false;
    member.sockets.delete(socketId);
    ch.sockets[protocol]--;
    if (member.sockets.size > 0) return false;
    ch.members.delete(userId);
    if (ch.members.size === 0) this.channels.delete(appId, channel);
    return true;
  }

  /**
   * The member's new user_info (a V2 presence_update from `socketId`), written into its snapshot entry; false when
   * that socket is not a member of the channel as the user (it left meanwhile).
   */
  updateInfo(appId: string, channel: string, userId: string, socketId: string, info: unknown): boolean {
    if (!this.hasSocket(appId, channel, userId, socketId)) return false;
    this.setInfo(appId, channel, userId, info);
    return true;
  }

  /** The member's user_info, if it is a member here (another host's presence_update reaches its sockets here too). */
  setInfo(appId: string, channel: string, userId: string, info: unknown): void {
    const member = this.channels.get(appId, channel)?.members.get(userId);
    if (!member) return;
    member.info = info;
    member.hashEntry = hashEntryOf(member.idJson, info);
  }

  /** Whether this socket has joined the channel (as any user). */
  hasSocket(appId: string, channel: string, userId: string, socketId: string): boolean {
    return this.channels.get(appId, channel)?.members.get(userId)?.sockets.has(socketId) ?? false;
  }

  members(appId: string, channel: string): ReadonlyMap<string, Member> {
    return this.channels.get(appId, channel)?.members ?? NO_MEMBERS;
  }

  /** Every channel with members here, with its members (app id, channel, members). */
  *allChannels(): IterableIterator<[string, string, ReadonlyMap<string, Member>]> {
    for (const [appId, channel, ch] of this.channels.entries()) yield [appId, channel, ch.members];
  }

  /** The protocol versions of the channel's sockets here: the member frames worth building for this host. */
  versions(appId: string, channel: string): readonly ProtocolVersion[] {
    const ch = this.channels.get(appId, channel);
    if (!ch) return VERSIONS_BY_MASK[0];
    return VERSIONS_BY_MASK[(ch.sockets[1] > 0 ? 1 : 0) | (ch.sockets[2] > 0 ? 2 : 0)];
  }

  /** The `data` of presence subscription_succeeded: `{presence: {ids, hash, count}}` as a JSON string. */
  static snapshot(members: ReadonlyMap<string, Member>): string {
    const json = new PresenceJson();
    for (const m of members.values()) json.addSerialized(m.idJson, m.hashEntry);
    return json.end();
  }

  static snapshotOfInfo(members: ReadonlyMap<string, unknown>): string {
    const json = new PresenceJson();
    for (const [id, info] of members) json.add(id, info);
    return json.end();
  }
}

/** A member's `"id":info` in the snapshot's hash; none for an undefined info, as JSON.stringify leaves such a property out. */
function hashEntryOf(idJson: string, info: unknown): string | undefined {
  const infoJson = JSON.stringify(info);
  return infoJson === undefined ? undefined : `${idJson}:${infoJson}`;
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
    this.addSerialized(key, hashEntryOf(key, info));
  }

  /** A member whose `"id"` and `"id":info` are already JSON (a Member's, made at join). */
  addSerialized(idJson: string, hashEntry: string | undefined): void {
    this.ids += (this.count === 0 ? '' : ',') + idJson;
    if (hashEntry !== undefined) this.hash += (this.hash === '' ? '' : ',') + hashEntry;
    this.count++;
  }

  end(): string {
    return `{"presence":{"ids":[${this.ids}],"hash":{${this.hash}},"count":${this.count}}}`;
  }
}
