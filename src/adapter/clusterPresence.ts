// Presence shared by every host through Redis. Per presence channel: the members (user id → user_info),
// each user's socket count across hosts, and each host's share of those counts, so that member_added /
// member_removed happen once per user cluster-wide and a dead host's members can be removed by a
// survivor. Each change is one Lua script, so concurrent joins and leaves on different hosts are atomic.
import type { Redis } from 'ioredis';

const JOIN = `
local base, host, user, info, max, hostSet, entry = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local total = tonumber(redis.call('HGET', base .. ':count', user) or '0')
if total == 0 and redis.call('HLEN', base .. ':members') >= max then return {0} end
redis.call('HINCRBY', base .. ':count', user, 1)
redis.call('HINCRBY', base .. ':host:' .. host, user, 1)
redis.call('SADD', hostSet, entry)
if total == 0 then redis.call('HSET', base .. ':members', user, info) end
local first = 0
if total == 0 then first = 1 end
return {1, first, redis.call('HGETALL', base .. ':members')}
`;

const LEAVE = `
local base, host, user, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local mine = tonumber(redis.call('HGET', base .. ':host:' .. host, user) or '0')
if mine <= 0 then return -1 end
if n > mine then n = mine end
if mine - n <= 0 then redis.call('HDEL', base .. ':host:' .. host, user) else redis.call('HINCRBY', base .. ':host:' .. host, user, -n) end
local total = redis.call('HINCRBY', base .. ':count', user, -n)
if total <= 0 then
  redis.call('HDEL', base .. ':count', user)
  redis.call('HDEL', base .. ':members', user)
  return 1
end
return 0
`;

/** A member's new user_info (a V2 presence_update), kept only while the user is a member. */
const UPDATE = `
local base, user, info = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HEXISTS', base .. ':members', user) == 1 then redis.call('HSET', base .. ':members', user, info) end
return 0
`;

/**
 * Puts one host's share of a channel back as the host knows it (after a Redis restart emptied it, or after a
 * survivor reaped the host while it was only stalled): each user's socket count on this host is set to the
 * given one, the user's total moves by the difference, and members appear or go with it. Returns the users
 * that left the channel cluster-wide by it, the users that became members by it, and, of the `check` users
 * (whose leave never reached Redis), those that are no longer members.
 */
const RESTORE = `
local base, host, hostSet, entry, n = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local share = base .. ':host:' .. host
local want, infos = {}, {}
for i = 0, n - 1 do
  local user = ARGV[6 + 3 * i]
  want[user] = tonumber(ARGV[7 + 3 * i])
  infos[user] = ARGV[8 + 3 * i]
end
local old = {}
local flat = redis.call('HGETALL', share)
for i = 1, #flat, 2 do old[flat[i]] = tonumber(flat[i + 1]) end
local removed, added = {}, {}
for user, had in pairs(old) do
  local now = want[user] or 0
  if now ~= had then
    local total = redis.call('HINCRBY', base .. ':count', user, now - had)
    if total <= 0 then
      redis.call('HDEL', base .. ':count', user)
      if redis.call('HDEL', base .. ':members', user) == 1 then removed[#removed + 1] = user end
    end
  end
end
for user, now in pairs(want) do
  if old[user] == nil then
    local total = redis.call('HINCRBY', base .. ':count', user, now)
    if total == now then added[#added + 1] = user end
    if redis.call('HEXISTS', base .. ':members', user) == 0 then redis.call('HSET', base .. ':members', user, infos[user]) end
  end
end
redis.call('DEL', share)
if n > 0 then
  for user, now in pairs(want) do redis.call('HSET', share, user, now) end
  redis.call('SADD', hostSet, entry)
else
  redis.call('SREM', hostSet, entry)
end
local gone = {}
for i = 6 + 3 * n, #ARGV do
  if redis.call('HEXISTS', base .. ':members', ARGV[i]) == 0 then gone[#gone + 1] = ARGV[i] end
end
return {removed, added, gone}
`;

export interface RestoredShare {
  /** Users no longer members cluster-wide because of the restore. */
  removed: string[];
  /** Users that were not members and are again. */
  added: string[];
  /** Of the users asked about, those that are not members. */
  gone: string[];
}

export type ClusterJoin = { ok: true; first: boolean; members: Map<string, unknown> } | { ok: false };

export class ClusterPresence {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly hostId: string,
  ) {
    redis.defineCommand('sockudoPresenceJoin', { numberOfKeys: 0, lua: JOIN });
    redis.defineCommand('sockudoPresenceLeave', { numberOfKeys: 0, lua: LEAVE });
    redis.defineCommand('sockudoPresenceRestore', { numberOfKeys: 0, lua: RESTORE });
    redis.defineCommand('sockudoPresenceUpdate', { numberOfKeys: 0, lua: UPDATE });
  }

  private base(appId: string, channel: string): string {
    return `${this.prefix}presence:${appId}:${channel}`;
  }

  hostSet(hostId: string): string {
    return `${this.prefix}host:${hostId}:presence`;
  }

  async join(appId: string, channel: string, userId: string, userInfo: unknown, maxMembers: number): Promise<ClusterJoin> {
    const r = (await this.call('sockudoPresenceJoin', this.base(appId, channel), this.hostId, userId, JSON.stringify(userInfo ?? null), String(maxMembers), this.hostSet(this.hostId), `${appId}\n${channel}`)) as [number, number?, string[]?];
    if (r[0] === 0) return { ok: false };
    return { ok: true, first: r[1] === 1, members: toMembers(r[2] ?? []) };
  }

  /** The member's user_info for later snapshots on every host; nothing when the user is no longer a member. */
  async updateInfo(appId: string, channel: string, userId: string, userInfo: unknown): Promise<void> {
    await this.call('sockudoPresenceUpdate', this.base(appId, channel), userId, JSON.stringify(userInfo ?? null));
  }

  /**
   * Removes `count` sockets of `hostId` for the user: true when the user left the channel cluster-wide, false when
   * not, null when Redis has no socket of that host for the user (its share was lost: a Redis restart, a reap).
   */
  async leave(appId: string, channel: string, userId: string, hostId = this.hostId, count = 1): Promise<boolean | null> {
    const r = await this.call('sockudoPresenceLeave', this.base(appId, channel), hostId, userId, String(count));
    return r === -1 ? null : r === 1;
  }

  async members(appId: string, channel: string): Promise<Map<string, unknown>> {
    return toMembers(await this.redis.hgetall(`${this.base(appId, channel)}:members`).then((h) => Object.entries(h).flat()));
  }

  /** The users a (dead) host held in a channel, with their socket counts. */
  async hostShare(hostId: string, appId: string, channel: string): Promise<[string, number][]> {
    const h = await this.redis.hgetall(`${this.base(appId, channel)}:host:${hostId}`);
    return Object.entries(h).map(([u, n]) => [u, Number(n)]);
  }

  /**
   * Sets this host's share of a channel to `share` (user id, sockets here, user_info) in one script; `check`:
   * users whose leave from here never reached Redis, reported in `gone` when they are no longer members.
   */
  async restoreShare(appId: string, channel: string, share: [string, number, unknown][], check: string[]): Promise<RestoredShare> {
    const args = share.flatMap(([u, n, info]) => [u, String(n), JSON.stringify(info ?? null)]);
    const r = (await this.call('sockudoPresenceRestore', this.base(appId, channel), this.hostId, this.hostSet(this.hostId), `${appId}\n${channel}`, String(share.length), ...args, ...check)) as [string[], string[], string[]];
    return { removed: r[0], added: r[1], gone: r[2] };
  }

  /** The (app, channel) pairs in which a host holds presence sockets, as Redis has them. */
  async hostChannels(hostId: string): Promise<[string, string][]> {
    return (await this.redis.smembers(this.hostSet(hostId))).map((e) => {
      const nl = e.indexOf('\n');
      return [e.slice(0, nl), e.slice(nl + 1)];
    });
  }

  private call(command: string, ...args: string[]): Promise<unknown> {
    return (this.redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>)[command](...args);
  }
}

function toMembers(flat: string[]): Map<string, unknown> {
  const members = new Map<string, unknown>();
  for (let i = 0; i < flat.length; i += 2) members.set(flat[i], JSON.parse(flat[i + 1]));
  return members;
}
