import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FanoutHold, QUIET_MS } from '../../src/worker/fanoutHold.ts';
import { fakeClock } from '../helpers/fakeClock.ts';

function holder(maxHoldMs: number) {
  const batches: string[][] = [];
  const hold = new FanoutHold<string>(maxHoldMs, (held) => batches.push([...held]));
  return { hold, batches };
}

test('a held publish goes out once nothing else came for QUIET_MS', (t) => {
  const clock = fakeClock(t);
  const { hold, batches } = holder(4);
  hold.hold('a');
  clock.advance(QUIET_MS / 2);
  assert.deepEqual(batches, []);
  clock.advance(QUIET_MS / 2);
  assert.deepEqual(batches, [['a']]);
  assert.equal(hold.size, 0);
});

test('publishes that keep coming are held together, never longer than the maximum', (t) => {
  const clock = fakeClock(t);
  const { hold, batches } = holder(4);
  const sent: string[] = [];
  // One every half QUIET_MS for 6 ms: the first batch leaves at 4 ms with everything held until then.
  for (let i = 0; i < 12; i++) {
    const name = `p${i}`;
    sent.push(name);
    hold.hold(name);
    clock.advance(QUIET_MS / 2);
    if (i === 7) assert.deepEqual(batches, [sent.slice(0, 8)], 'out at 4 ms, in the order held');
  }
  clock.advance(QUIET_MS);
  assert.deepEqual(batches, [sent.slice(0, 8), sent.slice(8)]);
});

test('flush sends everything held at once, in order, and nothing is sent twice', (t) => {
  const clock = fakeClock(t);
  const { hold, batches } = holder(4);
  hold.hold('a');
  hold.hold('b');
  hold.flush();
  assert.deepEqual(batches, [['a', 'b']]);
  clock.advance(10);
  hold.flush();
  assert.deepEqual(batches, [['a', 'b']]);
});

test('a hold of 0 is off', () => {
  assert.equal(holder(0).hold.enabled, false);
  assert.equal(holder(4).hold.enabled, true);
});

/** A hold whose items are ready once named in `ready`. */
function waitingHolder(maxHoldMs: number) {
  const batches: string[][] = [];
  const ready = new Set<string>();
  const hold = new FanoutHold<string>(maxHoldMs, (held) => batches.push([...held]), (item) => ready.has(item));
  return { hold, batches, ready };
}

test('a held item that is not ready keeps everything held past the quiet time, until it is', (t) => {
  const clock = fakeClock(t);
  const { hold, batches, ready } = waitingHolder(4);
  ready.add('a');
  hold.hold('a');
  hold.hold('b');
  clock.advance(QUIET_MS * 2);
  assert.deepEqual(batches, [], 'b is not ready');
  ready.add('b');
  clock.advance(QUIET_MS);
  assert.deepEqual(batches, [['a', 'b']]);
});

test('past the maximum the ready ones at the front go; the rest wait, with the next one held, for a new maximum', (t) => {
  const clock = fakeClock(t);
  const { hold, batches, ready } = waitingHolder(4);
  ready.add('a');
  hold.hold('a');
  hold.hold('b');
  ready.add('c');
  hold.hold('c');
  clock.advance(4);
  assert.deepEqual(batches, [['a']], 'a, in front of the one not ready; c waits behind b');
  assert.equal(hold.size, 2);
  clock.advance(3);
  hold.hold('d'); // starts the new maximum
  ready.add('d');
  clock.advance(3);
  assert.deepEqual(batches, [['a']], 'b is still not ready, and the new maximum has not passed');
  ready.add('b');
  clock.advance(QUIET_MS);
  assert.deepEqual(batches, [['a'], ['b', 'c', 'd']]);
});

test('a front still not ready past the maximum gets one more quiet time, then everything goes', (t) => {
  const clock = fakeClock(t);
  const { hold, batches } = waitingHolder(4);
  hold.hold('a');
  hold.hold('b');
  clock.advance(4);
  assert.deepEqual(batches, [], 'the grace: one more quiet time');
  clock.advance(QUIET_MS);
  assert.deepEqual(batches, [['a', 'b']], 'never ready: out anyway');
  assert.equal(hold.size, 0);
});
