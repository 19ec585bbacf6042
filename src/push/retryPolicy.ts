// When a failed delivery is tried again: exponential backoff with jitter, the provider's Retry-After first.
import type { PushConfig } from '../config/pushSchema.ts';
import type { DeliveryOutcome } from './store.ts';
import type { AttemptResult } from './providers/provider.ts';

/** Retry-After beyond this is not honoured literally (the delivery waits this long instead). */
const MAX_WAIT_MS = 24 * 3600_000;

export function backoffMs(attempt: number, retry: PushConfig['retry'], random: () => number = Math.random): number {
  const base = Math.min(retry.initial_backoff_ms * 2 ** Math.max(0, attempt - 1), retry.max_backoff_ms);
  const spread = (base * retry.jitter_ratio_percent) / 100;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}

/** Turns one attempt's result (attempt numbers start at 1) into what the store records. */
export function outcomeOf(result: AttemptResult, attempt: number, retry: PushConfig['retry'], nowMs: number, random?: () => number): DeliveryOutcome {
  if (result.kind === 'ok') return { kind: 'succeeded' };
  if (result.kind === 'invalidToken') return { kind: 'failed', error: `invalid token: ${result.error}` };
  if (result.kind === 'failed') return { kind: 'failed', error: result.error };
  if (attempt >= retry.max_attempts) return { kind: 'dead', error: `gave up after ${attempt} attempts: ${result.error}` };
  const wait = result.retryAfterMs !== undefined ? Math.min(result.retryAfterMs, MAX_WAIT_MS) : backoffMs(attempt, retry, random);
  return { kind: 'retry', nextAtMs: nowMs + wait, error: result.error };
}
