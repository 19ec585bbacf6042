// Host-wide channel state: per-worker count slots in shared memory (ChannelCounts) and the primary's map of
// which worker holds which channel in which slot (ChannelIndex). Each "worker" is its own view object over
// the same buffer, as each real worker builds one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChannelCounts } from '../../src/channels/channelCounts.ts';
import { ChannelIndex } from '../../src/channels/channelIndex.ts';

function host(workers: number, slots: number): { primary: ChannelCounts; worker: ChannelCounts[] } {
  const buf = ChannelCounts.allocate(workers, slots);
  return {
    primary: new ChannelCounts(buf, slots, -1),
    worker: Array.from({ length: workers }, (_, i) => new ChannelCounts(buf, slots, i)),
  };
}

describe('ChannelCounts', () => {
  test('allocate: one Int32 per slot of every worker, all zero', () => {
    const buf = ChannelCounts.allocate(3, 5);
    assert.ok(buf instanceof SharedArrayBuffer);
    assert.equal(buf.byteLength, 4 * 3 * 5);
    const c = new ChannelCounts(buf, 5, 0);
    for (let w = 0; w < 3; w++) for (let s = 0; s < 5; s++) assert.equal(c.read(w, s), 0);
  });

  test('slots are handed out once each; a full region answers -1', () => {
    const { worker } = host(1, 3);
    const taken = [worker[0].takeSlot(), worker[0].takeSlot(), worker[0].takeSlot()];
    assert.deepEqual([...taken].sort(), [0, 1, 2]);
    assert.equal(worker[0].takeSlot(), -1);
    assert.equal(worker[0].takeSlot(), -1);
  });

  test('a slot is reused only after it is released', () => {
    const { worker } = host(1, 2);
    const w = worker[0];
    const a = w.takeSlot();
    const b = w.takeSlot();
    assert.notEqual(a, b);
    assert.equal(w.takeSlot(), -1);
    w.releaseSlot(b);
    assert.equal(w.takeSlot(), b);
    assert.equal(w.takeSlot(), -1, 'released once, reused once');
  });

  test('released slots are preferred over unused ones, unused ones still follow', () => {
    const { worker } = host(1, 4);
    const w = worker[0];
    const a = w.takeSlot();
    w.releaseSlot(a);
    assert.equal(w.takeSlot(), a);
    const rest = [w.takeSlot(), w.takeSlot(), w.takeSlot()];
    assert.deepEqual([a, ...rest].sort(), [0, 1, 2, 3]);
    assert.equal(w.takeSlot(), -1);
  });

  test("each worker writes its own region; the primary reads any worker's slot", () => {
    const { primary, worker } = host(3, 4);
    worker[0].set(0, 5);
    worker[1].set(0, 7);
    worker[2].set(3, 9);
    assert.equal(primary.read(0, 0), 5);
    assert.equal(primary.read(1, 0), 7);
    assert.equal(primary.read(2, 3), 9);
    assert.equal(primary.read(0, 1), 0, 'neighbouring slot untouched');
    assert.equal(primary.read(1, 3), 0, "worker 2's slot 3 is not worker 1's");
    worker[1].set(0, 6);
    assert.equal(primary.read(1, 0), 6);
  });

  test('each worker has its own free slots', () => {
    const { worker } = host(2, 1);
    assert.equal(worker[0].takeSlot(), 0);
    assert.equal(worker[1].takeSlot(), 0);
    assert.equal(worker[0].takeSlot(), -1);
  });
});

describe('ChannelIndex', () => {
  test('subscription count is the sum over the workers holding the channel', () => {
    const { primary, worker } = host(3, 4);
    const index = new ChannelIndex(primary);
    worker[0].set(2, 3);
    index.occupied('app', 'orders', 0, 2);
    worker[2].set(0, 4);
    index.occupied('app', 'orders', 2, 0);
    worker[1].set(0, 100); // another channel on worker 1
    index.occupied('app', 'trades', 1, 0);
    assert.equal(index.subscriptionCount('app', 'orders'), 7);
    assert.equal(index.subscriptionCount('app', 'trades'), 100);
    worker[0].set(2, 1);
    assert.equal(index.subscriptionCount('app', 'orders'), 5, 'counts are read live');
    assert.equal(index.subscriptionCount('app', 'unknown'), 0);
    assert.equal(index.subscriptionCount('app2', 'orders'), 0);
  });

  test('vacated drops one worker; the last one removes the channel', () => {
    const { primary, worker } = host(2, 2);
    const index = new ChannelIndex(primary);
    worker[0].set(0, 2);
    worker[1].set(1, 3);
    index.occupied('app', 'orders', 0, 0);
    index.occupied('app', 'orders', 1, 1);
    index.vacated('app', 'orders', 0);
    assert.equal(index.subscriptionCount('app', 'orders'), 3);
    assert.deepEqual([...index.channels('app')], ['orders']);
    index.vacated('app', 'orders', 1);
    assert.equal(index.subscriptionCount('app', 'orders'), 0);
    assert.deepEqual([...index.channels('app')], []);
  });

  test('a vacated slot reused for another channel counts for the new channel only', () => {
    const { primary, worker } = host(1, 1);
    const index = new ChannelIndex(primary);
    const w = worker[0];
    const slot = w.takeSlot();
    w.set(slot, 4);
    index.occupied('app', 'a', 0, slot);
    w.set(slot, 0);
    index.vacated('app', 'a', 0);
    w.releaseSlot(slot); // after the primary's slot-released
    const again = w.takeSlot();
    assert.equal(again, slot);
    w.set(again, 6);
    index.occupied('app', 'b', 0, again);
    assert.equal(index.subscriptionCount('app', 'a'), 0);
    assert.equal(index.subscriptionCount('app', 'b'), 6);
  });

  test('vacated for unknown apps, channels or workers is harmless', () => {
    const { primary, worker } = host(2, 1);
    const index = new ChannelIndex(primary);
    worker[0].set(0, 1);
    index.occupied('app', 'orders', 0, 0);
    index.vacated('app2', 'orders', 0);
    index.vacated('app', 'other', 0);
    index.vacated('app', 'orders', 1);
    assert.equal(index.subscriptionCount('app', 'orders'), 1);
    assert.deepEqual([...index.channels('app')], ['orders']);
  });

  test('channels() lists occupied names of one app, optionally by prefix', () => {
    const { primary } = host(1, 8);
    const index = new ChannelIndex(primary);
    index.occupied('app', 'presence-room', 0, 0);
    index.occupied('app', 'private-chat', 0, 1);
    index.occupied('app', 'orders', 0, 2);
    index.occupied('app', 'presence-lobby', 0, 3);
    index.occupied('app2', 'presence-elsewhere', 0, 4);
    assert.deepEqual([...index.channels('app')].sort(), ['orders', 'presence-lobby', 'presence-room', 'private-chat']);
    assert.deepEqual([...index.channels('app', 'presence-')].sort(), ['presence-lobby', 'presence-room']);
    assert.deepEqual([...index.channels('app', 'nothing-')], []);
    assert.deepEqual([...index.channels('app3')], []);
  });
});
