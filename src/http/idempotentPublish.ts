// Idempotent publishing: a key (body `idempotency_key`, else the X-Idempotency-Key header) makes a publish
// happen once per app within the window. Repeats get the first answer back and deliver nothing; the same
// key with another payload is a 409; a repeat racing the first waits briefly, then gets 503 Retry-After.
import { createHash } from 'node:crypto';
import { HttpError } from '../errors.ts';
import type { IdempotencyStore, StoredResponse } from '../idempotency/store.ts';

export interface IdempotencyMetrics {
  idempotentPublish(appId: string): void;
  idempotentDuplicate(appId: string): void;
}

const WAIT_STEPS = 6;
const WAIT_STEP_MS = 50;
/**
 * A claim in progress holds its key this long, not the whole window: if its host dies before finishing,
 * a retry may publish after it. (A publish that reached the Redis stream is marked done by every host
 * that reads it back, so such a retry gets the stored answer instead of publishing twice.)
 */
export const PENDING_LEASE_MS = 15_000;

/** A stable fingerprint of what was asked: the route and the body without its key. */
export function fingerprint(route: string, body: unknown): string {
  const rest = typeof body === 'object' && body !== null && !Array.isArray(body) ? { ...(body as Record<string, unknown>) } : body;
  if (rest && typeof rest === 'object') delete (rest as Record<string, unknown>).idempotency_key;
  return createHash('sha256').update(route).update('\n').update(stableStringify(rest)).digest('hex');
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export class IdempotentPublisher {
  constructor(
    private readonly store: IdempotencyStore,
    private readonly metrics: IdempotencyMetrics,
  ) {}

  /**
   * Runs `publish` at most once for (scope, key). Returns the response to send: the fresh one, or the
   * stored one for a repeat. A failed publish releases its claim.
   */
  async run(appId: string, scope: string, key: string, print: string, ttlMs: number, publish: () => StoredResponse | Promise<StoredResponse>): Promise<StoredResponse> {
    for (let attempt = 0; ; attempt++) {
      const claim = await this.store.claim(scope, key, print, Math.min(ttlMs, PENDING_LEASE_MS));
      if (claim.state === 'conflict') throw new HttpError('conflict', 'Idempotency key was already used with a different payload');
      if (claim.state === 'done') {
        this.metrics.idempotentDuplicate(appId);
        return claim.response;
      }
      if (claim.state === 'pending') {
        if (attempt >= WAIT_STEPS) throw new HttpError('inProgress');
        await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
        continue;
      }
      let response: StoredResponse;
      try {
        response = await publish();
      } catch (err) {
        await this.store.release(scope, key);
        throw err;
      }
      await this.store.complete(scope, key, print, response, ttlMs);
      this.metrics.idempotentPublish(appId);
      return response;
    }
  }

  /** For batch items: whether a per-item key was already used (same payload) — then the item is skipped. */
  async claimItem(scope: string, key: string, print: string, ttlMs: number): Promise<'claimed' | 'duplicate'> {
    const claim = await this.store.claim(scope, key, print, Math.min(ttlMs, PENDING_LEASE_MS));
    if (claim.state === 'conflict') throw new HttpError('conflict', `Idempotency key ${JSON.stringify(key)} was already used with a different payload`);
    if (claim.state === 'pending') throw new HttpError('inProgress');
    return claim.state === 'claimed' ? 'claimed' : 'duplicate';
  }

  completeItem(scope: string, key: string, print: string, ttlMs: number): Promise<void> {
    return this.store.complete(scope, key, print, { status: 200, body: '{}' }, ttlMs);
  }

  releaseItem(scope: string, key: string): Promise<void> {
    return this.store.release(scope, key);
  }
}
