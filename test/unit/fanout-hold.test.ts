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
