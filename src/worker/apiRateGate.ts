// A worker's side of the per-app API rate limit (apps/apiRateBudget.ts). The worker that verified a request's
// signature spends the app's budget, before anything else is done with the request, and answers a refusal itself:
// a client past its limit costs the primary nothing, however fast it sends. The primary does not spend again for
// a request a worker verified (Api.route), and spends for the others (unsigned development requests), in the same
// budget. The checks are counted in this worker's metric counters.
import { type ApiRateBudget, rateLimitedError } from '../apps/apiRateBudget.ts';
import type { Config } from '../config/schema.ts';
import type { HttpError } from '../errors.ts';
import { FIELD, type WorkerCounters } from '../metrics/workerCounters.ts';

export class ApiRateGate {
  /** Enabled apps with a limit (a disabled app's requests get 403 from the primary and spend nothing). */
  private readonly limited = new Map<string, { index: number; limit: number }>();

  constructor(
    config: Config,
    private readonly budget: ApiRateBudget,
    private readonly counters: WorkerCounters,
  ) {
    config.apps.forEach((app, index) => {
      const limit = app.limits.max_api_requests_per_second;
      if (app.enabled && limit > 0) this.limited.set(app.id, { index, limit });
    });
  }

  /**
   * For a request verified as `appId`'s, of `receivedBytes`: undefined to go on (spent, or no limit), else the 429
   * to answer, counted as an API call here (the primary never sees it).
   */
  pass(appId: string, receivedBytes: number): HttpError | undefined {
    const app = this.limited.get(appId);
    if (!app) return undefined;
    const answer = this.budget.spend(app.index, app.limit);
    this.counters.add(app.index, FIELD.apiRateChecks);
    if (answer.granted) return undefined;
    const refusal = rateLimitedError(app.limit, answer.msUntilRefill);
    this.counters.add(app.index, FIELD.apiRateRefused);
    this.counters.add(app.index, FIELD.httpCalls);
    this.counters.add(app.index, FIELD.httpBytesReceived, receivedBytes);
    this.counters.add(app.index, FIELD.httpBytesSent, refusal.toBody().length);
    return refusal;
  }
}
