// ExpiringMap: entries expire after their TTL, the soonest-expiring goes first when full, and a timer frees
// expired entries on a host that stopped setting (fake clock: performance.now and setTimeout mocked).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExpiringMap } from '../../src/expiringMap.ts';
import { fakeClock } from '../helpers/fakeClock.ts';

test('a value is there until its TTL runs out, and remainingTtl counts down', (t) => {
  const clock = fakeClock(t);
  const m = new ExpiringMap<string, string>(10);
  m.set('a', 'A', 1_000);
  clock.advance(400);
  assert.equal(m.get('a'), 'A');
  assert.equal(m.remainingTtl('a'), 600);
  clock.advance(599);
  assert.equal(m.get('a'), 'A', '1 ms before the TTL');
  clock.advance(1);
  assert.equal(m.get('a'), undefined, 'at the TTL');
  assert.equal(m.remainingTtl('a'), 0);
  assert.equal(m.size, 0);
});

test('setting a key again replaces its value and starts its TTL again, with the new TTL', (t) => {
  const clock = fakeClock(t);
  const m = new ExpiringMap<string, string>(10);
  m.set('k', 'lease', 100);
  clock.advance(90);
  m.set('k', 'done', 1_000);
  clock.advance(500);
  assert.equal(m.get('k'), 'done', 'not expired by the first, shorter TTL');
  assert.equal(m.size, 1);
  clock.advance(500);
  assert.equal(m.get('k'), undefined);
});

test('delete forgets a key', (t) => {
  fakeClock(t);
  const m = new ExpiringMap<string, number>(10);
  m.set('a', 1, 1_000);
  m.set('b', 2, 1_000);
  m.delete('a');
  m.delete('missing');
  assert.equal(m.get('a'), undefined);
  assert.equal(m.get('b'), 2);
  assert.equal(m.size, 1);
});

test('entries with different TTLs each expire on time, whatever order they were set in', (t) => {
  const clock = fakeClock(t);
  const m = new ExpiringMap<string, number>(100);
  m.set('long', 1, 10_000);
  m.set('short', 2, 100);
  m.set('mid', 3, 1_000);
  clock.advance(100);
  assert.deepEqual([m.get('long'), m.get('short'), m.get('mid')], [1, undefined, 3]);
  clock.advance(900);
  assert.deepEqual([m.get('long'), m.get('mid')], [1, undefined]);
  assert.equal(m.size, 1);
});

test('past max entries, the one that would expire first is dropped', (t) => {
  const clock = fakeClock(t);
  const m = new ExpiringMap<string, number>(3);
  m.set('a', 1, 60_000);
  clock.advance(1);
  m.set('b', 2, 500); // set later, expires first
  clock.advance(1);
  m.set('c', 3, 60_000);
  m.set('d', 4, 60_000);
  assert.equal(m.held, 3);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => m.get(k)), [1, undefined, 3, 4]);
  m.set('e', 5, 60_000);
  assert.deepEqual(['a', 'c', 'd', 'e'].map((k) => m.get(k)), [undefined, 3, 4, 5], 'then the oldest of one TTL');
});

test('expired entries are freed by the sweep timer once nothing is set any more', (t) => {
  const clock = fakeClock(t);
  const m = new ExpiringMap<number, string>(1_000_000);
  for (let i = 0; i < 5_000; i++) {
    m.set(i, 'x', i % 2 === 0 ? 2_000 : 30_000); // two TTLs, over 500 ms
    if (i % 10 === 9) clock.advance(1);
  }
  assert.equal(m.held, 5_000);
  clock.advance(3_000); // every 2 s entry has expired and a sweep has run since; nothing was set or read
  assert.equal(m.held, 2_500, 'the short-TTL half is gone');
  clock.advance(30_000);
  assert.equal(m.held, 0, 'and then the rest');
});

test('a key set again and again is held once, and its queue does not grow with every set', (t) => {
  const clock = fakeClock(t);
  const m = new ExpiringMap<string, string>(100);
  for (let i = 0; i < 50_000; i++) {
    m.set(`channel-${i % 10}`, `frame ${i}`, 3_600_000); // ten cache channels republished for an hour's TTL
    if (i % 100 === 0) clock.advance(1);
  }
  assert.equal(m.held, 10);
  assert.equal(m.get('channel-3'), 'frame 49993');
  const queues = (m as unknown as { queues: Map<number, { items: unknown[]; head: number }> }).queues;
  const q = queues.get(3_600_000);
  assert.ok(q && q.items.length - q.head <= 2_048, `the queue holds ${q && q.items.length - q.head} slots for 10 keys`);
});
