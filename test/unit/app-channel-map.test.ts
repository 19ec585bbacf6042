// The (app, channel) map behind streams, replay mirrors, local channel counts and presence: apps kept apart,
// an app dropped with its last channel, and entries that may be deleted while a sweep walks them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppChannelMap } from '../../src/channels/appChannelMap.ts';

describe('AppChannelMap', () => {
  test('the same channel name in two apps holds two values', () => {
    const m = new AppChannelMap<string, number>();
    m.set('a', 'orders', 1);
    m.set('b', 'orders', 2);
    assert.equal(m.get('a', 'orders'), 1);
    assert.equal(m.get('b', 'orders'), 2);
    assert.equal(m.get('a', 'other'), undefined);
    assert.equal(m.size, 2);
  });

  test('deleting every entry while iterating leaves nothing behind', () => {
    const m = new AppChannelMap<number, string>();
    for (const app of [0, 1]) for (const ch of ['x', 'y', 'z']) m.set(app, ch, `${app}${ch}`);
    const seen: string[] = [];
    for (const [app, channel, value] of m.entries()) {
      seen.push(value);
      m.delete(app, channel);
    }
    assert.deepEqual(seen, ['0x', '0y', '0z', '1x', '1y', '1z']);
    assert.equal(m.size, 0);
    assert.deepEqual([...m.entries()], []);
    m.delete(0, 'x'); // gone already: nothing happens
    m.set(0, 'x', 'again');
    assert.deepEqual([...m.entries()], [[0, 'x', 'again']]);
  });
});
