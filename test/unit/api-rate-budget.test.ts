// The API request budget per app that the primary and the workers share (apps/apiRateBudget.ts): a window of one
// second opens at the first request and refuses past the limit with the time until it closes. (Several threads
// spending at once: test/integration/api-rate-budget-threads.test.ts.)
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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

  test('refusals do not prolong the window, no limit never refuses, and a clock going back opens a window', () => {
    let now = 7_000_000;
    const budget = new ApiRateBudget(ApiRateBudget.allocate(1), () => now);
    assert.equal(budget.spend(0, 1).granted, true);
    now += 500;
    for (let i = 0; i < 10; i++) assert.deepEqual(budget.spend(0, 1), { granted: false, msUntilRefill: 500 });
    now += 500;
    assert.equal(budget.spend(0, 1).granted, true, 'a second after the first request, whatever was refused meanwhile');
    for (let i = 0; i < 10; i++) assert.equal(budget.spend(0, 0).granted, true, 'limit 0 is unlimited');
    now -= 60_000;
    assert.equal(budget.spend(0, 1).granted, true, 'a clock stepped back does not lock the app out');
  });
});
