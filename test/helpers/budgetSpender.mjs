// Runs in a worker thread for test/integration/api-rate-budget-threads.test.ts: spends an app's budget
// `attempts` times, on a clock the test holds in shared memory (slot 0; slot 1 is the start gate, so every thread
// spends at once), and reports how many were granted. Node 20 cannot start a .ts worker directly, so this
// registers tsx first (as workers/ws-worker.mjs does).
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { ApiRateBudget } = await import('../../src/apps/apiRateBudget.ts');
const { budgets, clock, attempts, limit } = workerData;
const now = new Int32Array(clock);
const budget = new ApiRateBudget(budgets, () => Atomics.load(now, 0));
parentPort.postMessage('ready');
Atomics.wait(now, 1, 0);
let granted = 0;
for (let i = 0; i < attempts; i++) if (budget.spend(0, limit).granted) granted++;
parentPort.postMessage(granted);
