// A provider's circuit breaker (Sockudo's `push.circuit_breaker`): after `failure_threshold` retryable failures
// in a row nothing is sent to the provider for `cooldown_secs`; then it is half open (at most
// `half_open_max_inflight` requests in flight) until the first answer closes it, or reopens it for another
// cooldown. Any answer that is not a retryable failure (a success, a refused payload or token) proves the
// provider answers, so it resets the count. One breaker per provider per host, kept in memory.
import type { PushConfig } from '../config/pushSchema.ts';

export type BreakerState = 'closed' | 'open' | 'halfOpen';

/** The value of `sockudo_push_circuit_breaker_state` for each state. */
export const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, open: 1, halfOpen: 2 };

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;

  constructor(
    private readonly config: PushConfig['circuit_breaker'],
    private readonly onChange: (state: BreakerState, failures: number) => void = () => {},
  ) {}

  get state(): BreakerState {
    return this.current;
  }

  /** How many more requests may be sent now, with `inflight` already in flight (Infinity when closed). */
  allowance(nowMs: number, inflight: number): number {
    if (this.current === 'open') {
      if (nowMs - this.openedAt < this.config.cooldown_secs * 1000) return 0;
      this.set('halfOpen');
    }
    if (this.current === 'halfOpen') return Math.max(0, this.config.half_open_max_inflight - inflight);
    return Number.POSITIVE_INFINITY;
  }

  /** When an open breaker lets requests through again (null when it is not open). */
  reopensAt(): number | null {
    return this.current === 'open' ? this.openedAt + this.config.cooldown_secs * 1000 : null;
  }

  /** One provider answer: `failure` for a retryable one (5xx, 429, network), else `answered`. */
  record(result: 'answered' | 'failure', nowMs: number): void {
    if (result === 'answered') {
      this.failures = 0;
      if (this.current !== 'closed') this.set('closed');
      return;
    }
    if (this.current === 'open') return; // answers of requests sent before it opened
    this.failures++;
    if (this.current === 'halfOpen' || this.failures >= this.config.failure_threshold) {
      this.openedAt = nowMs;
      this.set('open');
    }
  }

  private set(state: BreakerState): void {
    this.current = state;
    this.onChange(state, this.failures);
  }
}
