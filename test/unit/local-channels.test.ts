// A worker's channel bookkeeping (worker/localChannels.ts): the primary hears of a channel's first
// subscriber at once and of its release only after the channel stayed empty for LINGER_MS, while the
// shared count always says how many subscribers there are right now.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChannelCounts } from '../../src/channels/channelCounts.ts';
import type { WorkerToPrimary } from '../../src/ipc/messages.ts';
import { LARGE_FANOUT } from '../../src/worker/fanoutHold.ts';
import { LINGER_MS, LocalChannels } from '../../src/worker/localChannels.ts';

function setup(slots = 8) {
  const buffer = ChannelCounts.allocate(1, slots);
  const counts = new ChannelCounts(buffer, slots, 0);
  const sent: WorkerToPrimary[] = [];
  const local = new LocalChannels(counts, 0, (m) => sent.push(m));
  return { counts, sent, local, types: () => sent.map((m) => m.type) };
}

describe('local channel counts', () => {
  test('a re-subscribe within the linger time sends nothing; a channel left empty is released once', () => {
    const { counts, sent, local, types } = setup();
    const t0 = 1_000_000;
    assert.equal(local.add(0, 'private-a'), true);
    assert.deepEqual(types(), ['channel-occupied']);
    const slot = (sent[0] as Extract<WorkerToPrimary, { type: 'channel-occupied' }>).slot;
    local.remove(0, 'private-a', t0);
    assert.equal(counts.read(0, slot), 0, 'queries see the channel empty at once');
    local.add(0, 'private-a');
    assert.equal(counts.read(0, slot), 1);
    local.remove(0, 'private-a', t0 + 100);
    local.sweep(t0 + 100 + LINGER_MS - 1);
    assert.deepEqual(types(), ['channel-occupied'], 'no vacate before LINGER_MS');
    local.sweep(t0 + 100 + LINGER_MS);
    assert.deepEqual(types(), ['channel-occupied', 'channel-vacated']);
    local.sweep(t0 + 100 + 10 * LINGER_MS);
    assert.equal(sent.length, 2, 'released once');
    local.add(0, 'private-a');
    assert.deepEqual(types(), ['channel-occupied', 'channel-vacated', 'channel-occupied'], 'a released channel is announced again');
  });

  test('a channel counts as large from LARGE_FANOUT subscribers until it drops below', () => {
    const { local } = setup();
    for (let i = 1; i < LARGE_FANOUT; i++) local.add(0, 'big');
    local.add(1, 'big');
    assert.equal(local.isLarge(0, 'big'), false, `${LARGE_FANOUT - 1} subscribers`);
    local.add(0, 'big');
    assert.equal(local.isLarge(0, 'big'), true);
    assert.equal(local.isLarge(1, 'big'), false, 'the same name in another app');
    assert.equal(local.isLarge(0, 'small'), false);
    local.add(0, 'big');
    local.remove(0, 'big');
    assert.equal(local.isLarge(0, 'big'), true, 'back to LARGE_FANOUT');
    local.remove(0, 'big');
    assert.equal(local.isLarge(0, 'big'), false);
  });

  test('the same channel name in two apps is two channels, each released on its own', () => {
    const { counts, sent, local, types } = setup();
    local.add(0, 'orders');
    local.add(1, 'orders');
    local.add(1, 'orders');
    const occupied = sent as Extract<WorkerToPrimary, { type: 'channel-occupied' }>[];
    assert.deepEqual(occupied.map((m) => m.app), [0, 1]);
    const [slot0, slot1] = occupied.map((m) => m.slot);
    assert.notEqual(slot0, slot1);
    local.remove(0, 'orders', 1);
    assert.equal(counts.read(0, slot0), 0);
    assert.equal(counts.read(0, slot1), 2, "app 1's subscribers are not app 0's");
    local.sweep(1 + LINGER_MS);
    assert.deepEqual(types(), ['channel-occupied', 'channel-occupied', 'channel-vacated']);
    assert.equal((sent[2] as Extract<WorkerToPrimary, { type: 'channel-vacated' }>).app, 0);
    local.add(0, 'orders');
    assert.equal(sent.at(-1)?.type, 'channel-occupied', 'app 0 announces it again; app 1 still holds its slot');
    local.add(1, 'orders');
    assert.equal(sent.length, 4);
    assert.equal(counts.read(0, slot1), 3);
  });

  test('an extra remove never drives a count below 0', () => {
    const { counts, sent, local } = setup();
    local.add(0, 'c');
    const slot = (sent[0] as Extract<WorkerToPrimary, { type: 'channel-occupied' }>).slot;
    local.remove(0, 'c', 1);
    local.remove(0, 'c', 2);
    assert.equal(counts.read(0, slot), 0);
  });

  test('out of slots: the lingering channels are given back at once, the new one is refused this time', () => {
    const { sent, local, types } = setup(2);
    local.add(0, 'a');
    local.add(0, 'b');
    local.remove(0, 'a', 1);
    assert.equal(local.add(0, 'c'), false);
    assert.deepEqual(types(), ['channel-occupied', 'channel-occupied', 'channel-vacated']);
    const freed = (sent[2] as Extract<WorkerToPrimary, { type: 'channel-vacated' }>).slot;
    local.released(freed); // the primary's slot-released
    assert.equal(local.add(0, 'c'), true);
  });
});
