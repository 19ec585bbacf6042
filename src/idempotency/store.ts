// The idempotency store's interface: claims, completions and releases of publish keys, per app. The
// in-memory store serves one host; a Redis store with the same interface serves several.

/** The answer a completed publish gave, replayed for repeats. */
export interface StoredResponse {
  status: number;
  body: string;
}

export type ClaimResult =
  /** The key is ours: publish, then complete() or release(). */
  | { state: 'claimed' }
  /** Published before with this payload: answer the stored response, deliver nothing. */
  | { state: 'done'; response: StoredResponse }
  /** The first request with this key is still being handled. */
  | { state: 'pending' }
  /** The key was used with a different payload. */
  | { state: 'conflict' };

export interface IdempotencyStore {
  claim(scope: string, key: string, fingerprint: string, ttlMs: number): Promise<ClaimResult>;
  complete(scope: string, key: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void>;
  /** Forgets a claim whose publish failed, so a corrected retry goes through. */
  release(scope: string, key: string): Promise<void>;
}
