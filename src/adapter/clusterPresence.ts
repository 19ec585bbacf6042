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
if mine <= 0 then return 0 end
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

export type ClusterJoin = { ok: true; first: boolean; members: Map<string, unknown> } | { ok: false };

export class ClusterPresence {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly hostId: string,
  ) {
    redis.defineCommand('sockudoPresenceJoin', { numberOfKeys: 0, lua: JOIN });
    redis.defineCommand('sockudoPresenceLeave', { numberOfKeys: 0, lua: LEAVE });
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

  /** Removes `count` sockets of `hostId` for the user; true when the user left the channel cluster-wide. */
  async leave(appId: string, channel: string, userId: string, hostId = this.hostId, count = 1): Promise<boolean> {
    return (await this.call('sockudoPresenceLeave', this.base(appId, channel), hostId, userId, String(count))) === 1;
  }

  async members(appId: string, channel: string): Promise<Map<string, unknown>> {
    return toMembers(await this.redis.hgetall(`${this.base(appId, channel)}:members`).then((h) => Object.entries(h).flat()));
  }

  /** The users a (dead) host held in a channel, with their socket counts. */
  async hostShare(hostId: string, appId: string, channel: string): Promise<[string, number][]> {
    const h = await this.redis.hgetall(`${this.base(appId, channel)}:host:${hostId}`);
    return Object.entries(h).map(([u, n]) => [u, Number(n)]);
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
