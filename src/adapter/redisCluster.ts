// The link between hosts (primary thread only, ioredis). Every message goes through one Lua script that
// assigns the V2 positions of its channels (INCR per channel, stream id per channel) and appends it to
// one Redis stream, so all hosts — the sender included — read messages in one global order with
// consistent serials, and each host delivers a message exactly once (when it reads it back). A stream
// rather than pub/sub: a host whose connection drops resumes reading where it stopped, so a Redis
// restart or a network blip loses nothing that was acknowledged (within the stream's length).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { connectionName } from './hostRegistry.ts';
import { type Envelope, type Position, positionedChannels } from './envelope.ts';

const PUBLISH_SCRIPT = `
local prefix, ttl, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
for i = 1, n do
  local base = prefix .. 'stream:' .. ARGV[3 + i]
  local sid = redis.call('GET', base .. ':id')
  if not sid then
    sid = ARGV[3 + n + i]
    redis.call('SET', base .. ':id', sid, 'PX', ttl)
    redis.call('DEL', base .. ':serial')
  else
    redis.call('PEXPIRE', base .. ':id', ttl)
  end
  local serial = redis.call('INCR', base .. ':serial')
  redis.call('PEXPIRE', base .. ':serial', ttl)
  out[i] = sid .. ' ' .. serial
end
redis.call('XADD', prefix .. 'bus', 'MAXLEN', '~', ARGV[5 + 2 * n], '*', 'm', table.concat(out, ',') .. '\\n' .. ARGV[4 + 2 * n])
return n
`;

/** A V2 subscription opened a stream for a quiet channel: it stands unless the channel has one (returned as `id serial`). */
const OPEN_STREAM_SCRIPT = `
local base = ARGV[1] .. 'stream:' .. ARGV[3]
local sid = redis.call('GET', base .. ':id')
if not sid then
  redis.call('SET', base .. ':id', ARGV[4], 'PX', ARGV[2])
  redis.call('DEL', base .. ':serial')
  return ARGV[4] .. ' 0'
end
redis.call('PEXPIRE', base .. ':id', ARGV[2])
redis.call('PEXPIRE', base .. ':serial', ARGV[2])
return sid .. ' ' .. (redis.call('GET', base .. ':serial') or '0')
`;

/** Counters for the Redis traffic (the reference's horizontal-adapter metrics). */
export interface ClusterMetrics {
  clusterSent(): void;
  clusterReceived(): void;
  clusterSendFailed(): void;
  clusterUp(up: boolean): void;
  querySent(): void;
  queryAnswered(): void;
  replyReceived(): void;
  queryResolved(complete: boolean, ms: number): void;
}

export class RedisCluster {
  metrics: ClusterMetrics | null = null;
  readonly hostId = randomUUID();
  private readonly commands: Redis;
  /** A connection of its own for the blocking stream reads. */
  private readonly reader: Redis;
  /** Pub/sub connection for answers addressed to this host (query replies). */
  private readonly replies: Redis;
  onReply: (text: string) => void = () => {};
  private readonly streamKey: string;
  private lastId = '';
  private stopped = false;
  private healthy = false;

  constructor(
    url: string,
    private readonly prefix: string,
    /** How long a channel's stream (id and serial) outlives its last message. */
    private readonly streamTtlMs: number,
    /** Messages kept in the stream: how far behind a reconnecting host may fall without loss. */
    private readonly streamMaxLen: number,
    private readonly onEnvelope: (env: Envelope, positions: Position[]) => void,
    private readonly onHealth: (healthy: boolean) => void,
    private readonly log: Logger,
  ) {
    // Fail fast while disconnected instead of queueing: the caller falls back to local delivery.
    // Named after the host: survivors tell a stalled host (connections still open) from a dead one (hostRegistry.ts).
    const named = { connectionName: connectionName(this.hostId), retryStrategy: (n: number) => Math.min(100 * n, 1000) };
    const options = { ...named, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 };
    this.commands = new Redis(url, { ...options, lazyConnect: true });
    // Reads wait out a reconnect instead of failing, and block without a command timeout.
    this.reader = new Redis(url, { ...named, lazyConnect: true, maxRetriesPerRequest: null });
    this.streamKey = `${prefix}bus`;
    this.replies = new Redis(url, { ...named, lazyConnect: true });
    this.replies.on('message', (_c: string, text: string) => this.onReply(text));
    this.replies.on('error', (err: Error) => this.log.debug({ err: err.message }, 'redis connection error'));
    this.commands.defineCommand('sockudoPublish', { numberOfKeys: 0, lua: PUBLISH_SCRIPT });
    this.commands.defineCommand('sockudoOpenStream', { numberOfKeys: 0, lua: OPEN_STREAM_SCRIPT });
    for (const c of [this.commands, this.reader]) {
      c.on('ready', () => this.updateHealth());
      c.on('close', () => this.updateHealth());
      c.on('error', (err: Error) => this.log.debug({ err: err.message }, 'redis connection error'));
    }
  }

  /** Connects and starts reading; waits up to `waitMs` for Redis, then runs degraded until it comes. */
  async start(waitMs = 3000): Promise<void> {
    const warn = (err: Error) => this.log.warn({ err: err.message }, 'redis not reachable yet; retrying');
    this.commands.connect().catch(warn);
    this.reader.connect().catch(warn);
    this.replies.connect().catch(warn);
    this.replies.subscribe(`${this.prefix}reply:${this.hostId}`).catch(warn);
    // Start after the newest message in the stream: what came before this host is not for it.
    const positioned = this.reader.xrevrange(this.streamKey, '+', '-', 'COUNT', 1).then((last) => {
      this.lastId = last[0]?.[0] ?? '0-0';
      this.updateHealth();
      void this.readLoop();
    });
    await Promise.race([positioned.catch(() => {}), new Promise((r) => setTimeout(r, waitMs).unref())]);
  }

  private async readLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        const res = await this.reader.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', this.streamKey, this.lastId);
        for (const [, entries] of res ?? []) {
          for (const [id, fields] of entries) {
            this.lastId = id;
            this.metrics?.clusterReceived();
            this.receive(fields[1]);
          }
        }
      } catch (err) {
        if (this.stopped) return;
        this.log.debug({ err: (err as Error).message }, 'stream read failed; retrying');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  get isHealthy(): boolean {
    return this.healthy;
  }

  /** Resolves once Redis has taken the message (every live host will receive it, this one included). */
  async send(env: Envelope): Promise<void> {
    const channels = positionedChannels(env).map((c) => `${env.app}:${c}`);
    const args = [this.prefix, String(this.streamTtlMs), String(channels.length), ...channels, ...channels.map(() => randomUUID()), JSON.stringify(env), String(this.streamMaxLen)];
    try {
      await (this.commands as unknown as { sockudoPublish(...a: string[]): Promise<number> }).sockudoPublish(...args);
      this.metrics?.clusterSent();
    } catch (err) {
      this.metrics?.clusterSendFailed();
      throw err;
    }
  }

  /** The channel's stream in the cluster, `streamId` (at serial 0) if it had none (see OPEN_STREAM_SCRIPT). */
  async openStream(appId: string, channel: string, streamId: string): Promise<Position> {
    const commands = this.commands as unknown as { sockudoOpenStream(...a: string[]): Promise<string> };
    const [id, serial] = (await commands.sockudoOpenStream(this.prefix, String(this.streamTtlMs), `${appId}:${channel}`, streamId)).split(' ');
    return { streamId: id, serial: Number(serial) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.commands.disconnect();
    this.reader.disconnect();
    this.replies.disconnect();
  }

  /** Sends an answer to one host's reply channel. */
  reply(hostId: string, text: string): void {
    this.commands.publish(`${this.prefix}reply:${hostId}`, text).catch(() => {});
  }

  /** The command connection, for the stores that share Redis (idempotency). */
  get redis(): Redis {
    return this.commands;
  }

  private receive(text: string): void {
    const nl = text.indexOf('\n');
    try {
      const head = text.slice(0, nl);
      const positions: Position[] = head === '' ? [] : head.split(',').map((p) => {
        const [streamId, serial] = p.split(' ');
        return { streamId, serial: Number(serial) };
      });
      this.onEnvelope(JSON.parse(text.slice(nl + 1)) as Envelope, positions);
    } catch (err) {
      this.log.error({ err }, 'dropped a malformed cluster message');
    }
  }

  private updateHealth(): void {
    const healthy = this.commands.status === 'ready' && this.reader.status === 'ready' && this.lastId !== '';
    if (healthy === this.healthy) return;
    this.healthy = healthy;
    this.metrics?.clusterUp(healthy);
    this.log[healthy ? 'info' : 'warn']({ healthy }, healthy ? 'redis connected' : 'redis unavailable: delivering on this host only');
    this.onHealth(healthy);
  }
}
