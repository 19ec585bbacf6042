// The primary's questions to its workers at scrape time (metrics/threadStats.ts): one question per worker per
// scrape however many metrics ask; busy ratios from the running totals of each thread's previous answer; a
// worker that does not answer in time reported by the wait alone, its late answer ignored, and the answer after
// the stall covering the stall. Timers are mocked; the threads' totals are given.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PrimaryToWorker } from '../../src/ipc/messages.ts';
import { ThreadStats } from '../../src/metrics/threadStats.ts';
import type { ThreadTotals } from '../../src/metrics/threadTotals.ts';

function fakeWorkers(n: number) {
  const asked: { worker: number; id: number }[] = [];
  const workers = Array.from({ length: n }, (_, index) => ({
    index,
    post(m: PrimaryToWorker) {
      if (m.type === 'thread-stats-request') asked.push({ worker: index, id: m.id });
    },
  }));
  return { workers, asked };
}

const answer = (stats: ThreadStats, q: { worker: number; id: number }, activeMs: number, idleMs: number, heapUsedBytes = 1000) =>
  stats.answer({ type: 'thread-stats', id: q.id, worker: q.worker, activeMs, idleMs, heapUsedBytes });

test('metrics read in the same scrape share one question per worker; ratios are per reading', async () => {
  const { workers, asked } = fakeWorkers(2);
  const primary: ThreadTotals = { activeMs: 50, idleMs: 50, heapUsedBytes: 7 };
  const stats = new ThreadStats(() => workers, 1000, () => ({ ...primary }));
  const readings = [stats.read(), stats.read(), stats.read()];
  assert.equal(asked.length, 2);
  answer(stats, asked[0], 100, 900, 1000);
  answer(stats, asked[1], 500, 500, 1001);
  const [first, ...rest] = await Promise.all(readings);
  for (const r of rest) assert.equal(r, first);
  assert.deepEqual(first.primary, { busyRatio: 0.5, busySeconds: 0.05, heapUsedBytes: 7 });
  assert.deepEqual(first.workers.map((w) => [w.worker, w.load]), [
    [0, { busyRatio: 0.1, busySeconds: 0.1, heapUsedBytes: 1000 }],
    [1, { busyRatio: 0.5, busySeconds: 0.5, heapUsedBytes: 1001 }],
  ]);
  // The next scrape asks again, and its ratios cover only the time since the first.
  primary.activeMs = 50;
  primary.idleMs = 150;
  const next = stats.read();
  assert.equal(asked.length, 4);
  answer(stats, asked[2], 400, 1000); // +300 busy, +100 idle
  answer(stats, asked[3], 500, 1500); // +0 busy, +1000 idle
  const second = await next;
  assert.equal(second.primary.busyRatio, 0);
  assert.deepEqual(second.workers.map((w) => w.load?.busyRatio), [0.75, 0]);
});

test('a stalled worker: reported by the wait, its late answer ignored, and the next answer covers the stall', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { workers, asked } = fakeWorkers(2);
  const stats = new ThreadStats(() => workers, 1000);
  const one = stats.read();
  answer(stats, asked[0], 100, 900);
  answer(stats, asked[1], 100, 900);
  await one;

  const two = stats.read();
  answer(stats, asked[2], 200, 1800);
  t.mock.timers.tick(1000); // worker 1 is stuck
  const stalled = await two;
  assert.deepEqual(stalled.workers[1], { worker: 1, responseSeconds: 1 });
  assert.equal(stalled.workers[0].load?.busyRatio, 0.1);
  answer(stats, asked[3], 3100, 900); // 3 s busy, answered after the scrape gave up: ignored

  const three = stats.read();
  answer(stats, asked[4], 300, 2700);
  answer(stats, asked[5], 3200, 1000);
  const after = await three;
  // Against worker 1's totals of the first reading: 3,100 ms busy and 100 ms idle since.
  assert.equal(after.workers[1].load?.busyRatio, 3100 / 3200);
});

test('with no workers the reading has the primary alone', async () => {
  const load = await new ThreadStats(() => []).read();
  assert.deepEqual(load.workers, []);
  assert.ok(load.primary.heapUsedBytes > 0);
  assert.ok(load.primary.busyRatio > 0 && load.primary.busyRatio <= 1, 'this thread has been busy loading the test');
});
