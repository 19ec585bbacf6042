// The primary's questions to its workers at scrape time (metrics/threadStats.ts): one question per worker per
// scrape however many metrics ask, a worker that does not answer in time reported by the wait alone, and a late
// answer ignored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PrimaryToWorker } from '../../src/ipc/messages.ts';
import { ThreadStats } from '../../src/metrics/threadStats.ts';

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

test('metrics read in the same scrape share one question per worker', async () => {
  const { workers, asked } = fakeWorkers(2);
  const stats = new ThreadStats(() => workers);
  const readings = [stats.read(), stats.read(), stats.read()];
  assert.equal(asked.length, 2);
  for (const q of asked) stats.answer({ type: 'thread-stats', id: q.id, worker: q.worker, busyRatio: 0.25 * (q.worker + 1), heapUsedBytes: 1000 + q.worker });
  const [first, ...rest] = await Promise.all(readings);
  for (const r of rest) assert.equal(r, first);
  assert.deepEqual(first.workers.map((w) => [w.worker, w.load]), [[0, { busyRatio: 0.25, heapUsedBytes: 1000 }], [1, { busyRatio: 0.5, heapUsedBytes: 1001 }]]);
  for (const w of first.workers) assert.ok(w.responseSeconds >= 0 && w.responseSeconds < 1);
  // The next scrape asks again.
  void stats.read();
  assert.equal(asked.length, 4);
});

test('a worker that does not answer in time is reported by the wait, and its late answer is ignored', async () => {
  const { workers, asked } = fakeWorkers(2);
  const stats = new ThreadStats(() => workers, 50);
  const started = Date.now();
  const reading = stats.read();
  const q0 = asked.find((q) => q.worker === 0) as { id: number };
  stats.answer({ type: 'thread-stats', id: q0.id, worker: 0, busyRatio: 0.1, heapUsedBytes: 5 });
  const load = await reading;
  assert.ok(Date.now() - started >= 45, 'waited for the silent worker until the timeout');
  assert.deepEqual(load.workers[1], { worker: 1, responseSeconds: 0.05 });
  assert.deepEqual(load.workers[0].load, { busyRatio: 0.1, heapUsedBytes: 5 });
  const q1 = asked.find((q) => q.worker === 1) as { id: number };
  stats.answer({ type: 'thread-stats', id: q1.id, worker: 1, busyRatio: 0.9, heapUsedBytes: 9 }); // too late: no effect, no throw
  assert.ok(load.primary.busyRatio >= 0 && load.primary.busyRatio <= 1);
});

test('with no workers the reading has the primary alone', async () => {
  const load = await new ThreadStats(() => []).read();
  assert.deepEqual(load.workers, []);
  assert.ok(load.primary.heapUsedBytes > 0);
});
