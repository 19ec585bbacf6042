// Which hosts hold each channel, for channel_occupied / channel_vacated once cluster-wide. Per channel a set of
// host ids (not a counter, which drifts when a host dies, stops or Redis forgets it), and per host the set of
// channels it holds, so a survivor can take a dead host out of every channel it held, and a host can put its
// own channels back after a Redis restart. Each change is one Lua script.
import type { Redis } from 'ioredis';

/** Returns 1 when the change made the channel's first holder (delta 1) or removed its last (delta -1). */
const CHANGE = `
local prefix, host, entry, delta = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local channel, mine = prefix .. 'occupancy:' .. entry, prefix .. 'host:' .. host .. ':occupied'
if delta == '1' then
  redis.call('SADD', mine, entry)
  if redis.call('SADD', channel, host) == 1 and redis.call('SCARD', channel) == 1 then return 1 end
  return 0
end
redis.call('SREM', mine, entry)
if redis.call('SREM', channel, host) == 1 and redis.call('SCARD', channel) == 0 then return 1 end
return 0
`;

/**
 * Sets the channels `host` holds to ARGV[4 .. 3+n] (none for a host that is gone).
 * The rest of ARGV are `entry delta` pairs of changes that never reached Redis. Returns the channels it left that
 * now have no holder, plus of the unreached changes: the vacated ones with no holder and the occupied ones whose
 * only holder is this host.
 */
const SET_HELD = `
local prefix, host, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local mine = prefix .. 'host:' .. host .. ':occupied'
local want = {}
for i = 4, 3 + n do want[ARGV[i]] = true end
local vacated, occupied = {}, {}
for _, entry in ipairs(redis.call('SMEMBERS', mine)) do
  if not want[entry] then
    local channel = prefix .. 'occupancy:' .. entry
    if redis.call('SREM', channel, host) == 1 and redis.call('SCARD', channel) == 0 then vacated[#vacated + 1] = entry end
  end
end
redis.call('DEL', mine)
for entry in pairs(want) do
  redis.call('SADD', mine, entry)
  redis.call('SADD', prefix .. 'occupancy:' .. entry, host)
end
for i = 4 + n, #ARGV, 2 do
  local entry, delta = ARGV[i], ARGV[i + 1]
  local holders = redis.call('SCARD', prefix .. 'occupancy:' .. entry)
  if delta == '1' and want[entry] and holders == 1 then occupied[#occupied + 1] = entry end
  if delta == '-1' and not want[entry] and holders == 0 then vacated[#vacated + 1] = entry end
end
return {vacated, occupied}
`;

export interface HeldChanges {
  /** `appId\nchannel` entries now held by no host. */
  vacated: string[];
  /** `appId\nchannel` entries held by this host alone whose occupied change never reached Redis. */
  occupied: string[];
}

export class ClusterOccupancy {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly hostId: string,
  ) {
    redis.defineCommand('sockudoOccupancyChange', { numberOfKeys: 0, lua: CHANGE });
    redis.defineCommand('sockudoOccupancySet', { numberOfKeys: 0, lua: SET_HELD });
  }

  /** This host gained its first (1) or lost its last (-1) subscriber of a channel: true when that is so cluster-wide. */
  async change(appId: string, channel: string, delta: 1 | -1): Promise<boolean> {
    return (await this.call('sockudoOccupancyChange', this.prefix, this.hostId, `${appId}\n${channel}`, String(delta))) === 1;
  }

  /** Puts this host's channels back as it holds them (`entries`: `appId\nchannel`); `unreached`: changes Redis never took. */
  restore(entries: string[], unreached: [string, 1 | -1][]): Promise<HeldChanges> {
    return this.set(this.hostId, entries, unreached);
  }

  /** Takes a host that is gone out of every channel it held. */
  release(hostId: string): Promise<HeldChanges> {
    return this.set(hostId, [], []);
  }

  private async set(hostId: string, entries: string[], unreached: [string, 1 | -1][]): Promise<HeldChanges> {
    const args = [this.prefix, hostId, String(entries.length), ...entries, ...unreached.flatMap(([e, d]) => [e, String(d)])];
    const [vacated, occupied] = (await this.call('sockudoOccupancySet', ...args)) as [string[], string[]];
    return { vacated, occupied };
  }

  private call(command: string, ...args: string[]): Promise<unknown> {
    return (this.redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>)[command](...args);
  }
}

/** Splits an `appId\nchannel` entry. */
export function splitEntry(entry: string): [string, string] {
  const nl = entry.indexOf('\n');
  return [entry.slice(0, nl), entry.slice(nl + 1)];
}
