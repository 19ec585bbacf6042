// Socket ids (SOCKUDO-REFERENCE §1.4 line 96: "{high}.{low}", both decimal, drawn from 0..=10_000_000_000): the
// digits.digits form SDKs check, a first part that cannot be guessed from another socket's id, and no repeats on a host.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveWorkerCount } from '../../src/primary/workerCount.ts';
import { SocketIdAllocator } from '../../src/worker/socketState.ts';

test('socket ids: digits.digits, a random first part per socket, never the same id twice across threads', () => {
  const threads = [new SocketIdAllocator(0), new SocketIdAllocator(1), new SocketIdAllocator(63)];
  const ids = new Set<string>();
  const highs = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    for (const t of threads) {
      const id = t.next();
      assert.match(id, /^\d+\.\d+$/);
      const [high, low] = id.split('.').map(Number);
      assert.ok(high <= 10_000_000_000 && low <= Number.MAX_SAFE_INTEGER, id);
      ids.add(id);
      highs.add(id.split('.')[0]);
    }
  }
  assert.equal(ids.size, 15_000, 'unique');
  assert.ok(highs.size > 14_900, `first parts are random per socket (${highs.size} distinct of 15000)`);
  // Two consecutive ids of one thread share nothing guessable in their first part.
  const a = threads[0].next().split('.')[0];
  const b = threads[0].next().split('.')[0];
  assert.notEqual(a, b);
});

// workers: 0 runs cores - 1 workers with no cap: the worker index must fit in the second part whatever the count.
test('the counter part of socket ids never repeats across the workers of a 128-core host', () => {
  const workers = resolveWorkerCount(0, 128);
  const seen = new Map<string, number>();
  for (let w = 0; w < workers; w++) {
    const ids = new SocketIdAllocator(w);
    for (let i = 0; i < 3; i++) {
      const second = ids.next().split('.')[1];
      const other = seen.get(second);
      assert.equal(other, undefined, `worker ${w} and worker ${other} both hand out socket ids ending .${second}`);
      seen.set(second, w);
    }
  }
});
