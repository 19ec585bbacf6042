// Each app's HTTP API budget (`max_api_requests_per_second`), shared by the primary and every worker thread, so
// the worker that verified a request's signature spends it and answers a refusal itself (worker/apiRateGate.ts),
// and the limit still holds host-wide whichever thread reads the request.
//
// One BigUint64 word per app, changed only by compare-and-swap: the start of the app's current one-second
// window in epoch milliseconds (upper 43 bits) and the requests counted in it (lower 21 bits). The window opens
// at the first request after the previous one closed, as rate-limiter-flexible's memory limiter did before, so
// a burst is never split across two windows by the wall clock's second.
import { HttpError } from '../errors.ts';

const COUNT_BITS = 21n;
const COUNT_MASK = (1n << COUNT_BITS) - 1n;
/** The most a count can hold; the configuration caps limits at 1,000,000, below it. */
const COUNT_MAX = Number(COUNT_MASK);
const WINDOW_MS = 1000;

export type BudgetAnswer = { granted: true } | { granted: false; msUntilRefill: number };

const GRANTED: BudgetAnswer = { granted: true };

export class ApiRateBudget {
  private readonly words: BigUint64Array;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly now: () => number = Date.now,
  ) {
    this.words = new BigUint64Array(buffer);
  }

  static allocate(appCount: number): SharedArrayBuffer {
    return new SharedArrayBuffer(8 * Math.max(1, appCount));
  }

  /** Counts one request of app `appIndex` against `limit` per second (0 = unlimited). */
  spend(appIndex: number, limit: number): BudgetAnswer {
    if (limit <= 0 || limit > COUNT_MAX) return GRANTED;
    for (;;) {
      const current = Atomics.load(this.words, appIndex);
      const now = this.now();
      const start = Number(current >> COUNT_BITS);
      const used = Number(current & COUNT_MASK);
      let next: bigint;
      if (now - start >= WINDOW_MS || now < start) {
        next = (BigInt(now) << COUNT_BITS) | 1n;
      } else if (used < limit) {
        next = current + 1n;
      } else {
        return { granted: false, msUntilRefill: start + WINDOW_MS - now };
      }
      // Another thread counted in between: read again and retry.
      if (Atomics.compareExchange(this.words, appIndex, current, next) === current) return GRANTED;
    }
  }
}

/** The 429 for a request past its app's limit, the same from whichever thread answers it. */
export function rateLimitedError(limit: number, msUntilRefill: number): HttpError {
  const wait = Math.max(1, Math.ceil(msUntilRefill / 1000));
  return new HttpError('rateLimited', `Rate limit of ${limit} requests per second exceeded`, { 'Retry-After': String(wait) });
}
