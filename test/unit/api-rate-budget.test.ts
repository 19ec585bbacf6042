// The API request budget per app that the primary and the workers share (apps/apiRateBudget.ts): a window of one
// second opens at the first request, refuses past the limit with the time until it closes, and holds its limit
// when several threads spend at once.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ApiRateBudget } from '../../src/apps/apiRateBudget.ts';

describe('API rate budget', () => {
  test('a window opens at the first request and refuses past the limit until it closes', () => {
    let now = 5_000_250;
    const budget = new ApiRateBudget(ApiRateBudget.allocate(2), () => now);
    for (let i = 0; i < 3; i++) assert.equal(budget.spend(0, 3).granted, true, `request ${i}`);
    now += 400;
    assert.deepEqual(budget.spend(0, 3), { granted: false, msUntilRefill: 600 });
    assert.equal(budget.spend(1, 3).granted, true, 'another app has its own budget');
    now += 599;
    assert.equal(budget.spend(0, 3).granted, false, 'the window is a second from its first request, not the clock second');
    now += 1;
    assert.equal(budget.spend(0, 3).granted, true, 'a new window');
    assert.equal(budget.spend(0, 3).granted, true);
  });

  test('a refusal does not count, no limit never refuses, and a clock going back opens a window', () => {
    let now = 7_000_000;
    const budget = new ApiRateBudget(ApiRateBudget.allocate(1), () => now);
    assert.equal(budget.spend(0, 1).granted, true);
    for (let i = 0; i < 10; i++) assert.equal(budget.spend(0, 1).granted, false);
    now += 1000;
    assert.equal(budget.spend(0, 1).granted, true, 'refused requests spent nothing of the next window');
    for (let i = 0; i < 10; i++) assert.equal(budget.spend(0, 0).granted, true, 'limit 0 is unlimited');
    now -= 60_000;
    assert.equal(budget.spend(0, 1).granted, true, 'a clock stepped back does not lock the app out');
  });

  test('threads spending at once grant exactly the limit', async () => {
    const budgets = ApiRateBudget.allocate(1);
    const clock = new SharedArrayBuffer(8);
    Atomics.store(new Int32Array(clock), 0, 1_000_000);
    const limit = 30_000;
    const attempts = 20_000;
    const spenders = [0, 1, 2].map(() => new Worker(new URL('../helpers/budgetSpender.mjs', import.meta.url), { workerData: { budgets, clock, attempts, limit } }));
    await Promise.all(spenders.map((w) => once(w, 'message')));
    const answers = spenders.map(async (w) => (await once(w, 'message'))[0] as number);
    const gate = new Int32Array(clock);
    Atomics.store(gate, 1, 1);
    Atomics.notify(gate, 1);
    const granted = await Promise.all(answers);
    assert.equal(granted.reduce((a, b) => a + b, 0), limit);
    assert.ok(granted.every((g) => g > 0 && g <= attempts), `each thread was granted some: ${granted}`);
  });
});
