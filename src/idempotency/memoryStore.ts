// In-memory idempotency store for one host: entries expire after their TTL and the total is bounded
// (oldest forgotten first), so memory cannot grow without limit.
import { ExpiringMap } from '../expiringMap.ts';
import type { ClaimResult, IdempotencyStore, StoredResponse } from './store.ts';

interface Entry {
  fingerprint: string;
  response: StoredResponse | null;
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries: ExpiringMap<string, Entry>;

  constructor(maxEntries: number) {
    this.entries = new ExpiringMap<string, Entry>(maxEntries);
  }

  async claim(scope: string, key: string, fingerprint: string, ttlMs: number): Promise<ClaimResult> {
    const id = `${scope}\n${key}`;
    const existing = this.entries.get(id);
    if (!existing) {
      this.entries.set(id, { fingerprint, response: null }, ttlMs);
      return { state: 'claimed' };
    }
    if (existing.fingerprint !== fingerprint) return { state: 'conflict' };
    return existing.response ? { state: 'done', response: existing.response } : { state: 'pending' };
  }

  async complete(scope: string, key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void> {
    this.entries.set(`${scope}\n${key}`, { fingerprint, response }, ttlMs);
  }

  async release(scope: string, key: string): Promise<void> {
    this.entries.delete(`${scope}\n${key}`);
  }

  get size(): number {
    return this.entries.size;
  }
}
