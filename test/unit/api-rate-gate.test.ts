// A worker's side of the API rate limit (worker/apiRateGate.ts): it spends the verified app's budget, shared with
// the other workers and the primary, and past the limit gives the 429 the primary would give, counting the check,
// the refusal and the call in the worker's metric counters (the primary never sees such a request).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiRateBudget } from '../../src/apps/apiRateBudget.ts';
import { loadConfig } from '../../src/config/load.ts';
import { FIELD, WorkerCounters } from '../../src/metrics/workerCounters.ts';
import { ApiRateGate } from '../../src/worker/apiRateGate.ts';

const apps = [
  { id: 'free', key: 'free-key', secret: 's' },
  { id: 'limited', key: 'limited-key', secret: 's', limits: { max_api_requests_per_second: 100 } },
  { id: 'off', key: 'off-key', secret: 's', enabled: false, limits: { max_api_requests_per_second: 1 } },
];
const config = loadConfig({ env: {}, fileContents: { apps } });

describe('API rate gate on a worker', () => {
  test('two workers spend one budget; past it each answers the 429 and counts it', () => {
    let now = 2_000_000;
    const budget = new ApiRateBudget(ApiRateBudget.allocate(apps.length), () => now);
    const counterBuffer = WorkerCounters.allocate(2, apps.length);
    const gates = [0, 1].map((w) => new ApiRateGate(config, budget, new WorkerCounters(counterBuffer, 2, apps.length, w)));
    const host = new WorkerCounters(counterBuffer, 2, apps.length, 0);
    const answers = Array.from({ length: 150 }, (_, i) => gates[i % 2].pass('limited', 40));
    assert.equal(answers.filter((a) => a === undefined).length, 100);
    now += 250;
    const refusal = gates[0].pass('limited', 40);
    assert.equal(refusal?.status, 429);
    assert.equal(refusal?.code, 'rate_limited');
    assert.equal(refusal?.message, 'Rate limit of 100 requests per second exceeded');
    assert.deepEqual(refusal?.headers, { 'Retry-After': '1' });
    assert.equal(host.sum(1, FIELD.apiRateChecks), 151);
    assert.equal(host.sum(1, FIELD.apiRateRefused), 51);
    assert.equal(host.sum(1, FIELD.httpCalls), 51, 'only the refusals: the primary counts the calls it sees');
    assert.equal(host.sum(1, FIELD.httpBytesReceived), 51 * 40);
    assert.equal(host.sum(1, FIELD.httpBytesSent), 51 * (refusal?.toBody().length ?? 0));
    now += 750;
    assert.equal(gates[1].pass('limited', 40), undefined, 'a second after the first request the budget is whole');
  });

  test('an app without a limit, a disabled app and an unknown id pass without spending or counting', () => {
    const budget = new ApiRateBudget(ApiRateBudget.allocate(apps.length));
    const counterBuffer = WorkerCounters.allocate(1, apps.length);
    const gate = new ApiRateGate(config, budget, new WorkerCounters(counterBuffer, 1, apps.length, 0));
    for (let i = 0; i < 5; i++) {
      assert.equal(gate.pass('free', 10), undefined);
      // The primary answers a disabled app's request with 403, before any budget.
      assert.equal(gate.pass('off', 10), undefined);
      assert.equal(gate.pass('nope', 10), undefined);
    }
    const host = new WorkerCounters(counterBuffer, 1, apps.length, 0);
    for (let app = 0; app < apps.length; app++) assert.equal(host.sum(app, FIELD.apiRateChecks), 0);
  });
});
