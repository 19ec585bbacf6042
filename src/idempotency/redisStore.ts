// Idempotency store shared by every host through Redis: a claim is one atomic script (SET if absent,
// else return what is there), so a retry that lands on another host sees the first host's claim or answer.
// If Redis cannot be reached the store fails closed (503): a keyed publish is never sent unguarded.
import type { Redis } from 'ioredis';
import { HttpError } from '../errors.ts';
import type { ClaimResult, IdempotencyStore, StoredResponse } from './store.ts';

const CLAIM_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'P' .. ARGV[1], 'PX', ARGV[2])
  return 'C'
end
return v
`;

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('sockudoClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
  }

  async claim(scope: string, key: string, fingerprint: string, ttlMs: number): Promise<ClaimResult> {
    const v = await this.guard(() => (this.redis as unknown as { sockudoClaim(k: string, fp: string, ttl: string): Promise<string> }).sockudoClaim(this.key(scope, key), fingerprint, String(ttlMs)));
    if (v === 'C') return { state: 'claimed' };
    const print = v.slice(1, 65);
    if (print !== fingerprint) return { state: 'conflict' };
    if (v[0] === 'P') return { state: 'pending' };
    const rest = v.slice(66);
    const nl = rest.indexOf('\n');
    return { state: 'done', response: { status: Number(rest.slice(0, nl)), body: rest.slice(nl + 1) } };
  }

  async complete(scope: string, key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void> {
    await this.guard(() => this.redis.set(this.key(scope, key), `D${fingerprint}\n${response.status}\n${response.body}`, 'PX', ttlMs));
  }

  async release(scope: string, key: string): Promise<void> {
    await this.guard(() => this.redis.del(this.key(scope, key)));
  }

  private key(scope: string, key: string): string {
    return `${this.prefix}idempotency:${scope}:${key}`;
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch {
      throw new HttpError('serviceUnavailable', 'Idempotency coordination is temporarily unavailable (Redis)');
    }
  }
}
