// The API request budget per app (apps/apiRateBudget.ts) spent by several threads at once, as the workers and the
// primary do: exactly the limit is granted (each thread runs test/helpers/budgetSpender.mjs on a shared clock).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ApiRateBudget } from '../../src/apps/apiRateBudget.ts';

describe('API rate budget across threads', () => {
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
    // (Not that each thread got some: on two cores one may run after the others took the whole budget.)
    assert.ok(granted.every((g) => g <= attempts), `granted per thread: ${granted}`);
  });
});
