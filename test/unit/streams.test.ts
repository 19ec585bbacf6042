// V2 message positions assigned by the primary (§3.3): a stream_id per channel and serials from 1, and
// idle streams forgotten so a later publish starts a new stream.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StreamRegistry } from '../../src/v2/streams.ts';

describe('StreamRegistry', () => {
  test('serials start at 1 and increase by one per publish on a channel', () => {
    const r = new StreamRegistry();
    const got = [1, 2, 3, 4].map((t) => r.next('app', 'orders', t));
    assert.deepEqual(
      got.map((p) => p.serial),
      [1, 2, 3, 4],
    );
    assert.equal(new Set(got.map((p) => p.streamId)).size, 1, 'one stream id for the channel');
    assert.equal(typeof got[0].streamId, 'string');
    assert.ok(got[0].streamId.length >= 16, `stream id ${got[0].streamId} looks random`);
  });

  test('each app and channel has its own stream and serials', () => {
    const r = new StreamRegistry();
    const a1 = r.next('app1', 'orders', 0);
    r.next('app1', 'orders', 0);
    const b1 = r.next('app1', 'trades', 0);
    const c1 = r.next('app2', 'orders', 0);
    const a3 = r.next('app1', 'orders', 0);
    assert.equal(b1.serial, 1);
    assert.equal(c1.serial, 1);
    assert.equal(a3.serial, 3, 'publishes elsewhere do not advance this channel');
    assert.equal(a3.streamId, a1.streamId);
    assert.equal(new Set([a1.streamId, b1.streamId, c1.streamId]).size, 3);
    assert.equal(r.size, 3);
  });

  test('a stream used within the idle window survives a sweep', () => {
    const r = new StreamRegistry();
    const first = r.next('app', 'orders', 0);
    r.next('app', 'orders', 9_000);
    r.sweep(19_000, 10_000); // idle for exactly the window: kept
    const after = r.next('app', 'orders', 19_000);
    assert.equal(after.streamId, first.streamId);
    assert.equal(after.serial, 3);
  });

  test('a sweep forgets idle streams; the next publish starts a new stream at serial 1', () => {
    const r = new StreamRegistry();
    const old = r.next('app', 'orders', 0);
    r.next('app', 'orders', 100);
    const busy = r.next('app', 'busy', 100);
    r.next('app', 'busy', 10_500);
    r.sweep(10_101, 10_000);
    assert.equal(r.size, 1, 'only the idle stream is forgotten');
    const fresh = r.next('app', 'orders', 10_200);
    assert.notEqual(fresh.streamId, old.streamId);
    assert.equal(fresh.serial, 1);
    const stillBusy = r.next('app', 'busy', 10_600);
    assert.equal(stillBusy.streamId, busy.streamId);
    assert.equal(stillBusy.serial, 3);
  });

  test('a sweep covers every app, and an app whose streams all went idle starts afresh', () => {
    const r = new StreamRegistry();
    const idle = r.next('app1', 'orders', 0);
    const kept = r.next('app2', 'orders', 5_000);
    r.sweep(10_001, 10_000);
    assert.equal(r.size, 1);
    assert.equal(r.next('app2', 'orders', 10_002).streamId, kept.streamId);
    const fresh = r.next('app1', 'orders', 10_002);
    assert.notEqual(fresh.streamId, idle.streamId);
    assert.equal(fresh.serial, 1);
    assert.equal(r.size, 2);
  });
});

describe('StreamRegistry.adopt', () => {
  test('a channel continues from a position a worker assigned', () => {
    const r = new StreamRegistry();
    const first = r.next('app', 'orders', 0);
    r.adopt('app', 'orders', first.streamId, 5, 1);
    assert.deepEqual(r.next('app', 'orders', 2), { streamId: first.streamId, serial: 6 });
    r.adopt('app', 'fresh', 'given-stream', 3, 3);
    assert.deepEqual(r.next('app', 'fresh', 4), { streamId: 'given-stream', serial: 4 });
  });

  test('a serial the stream has passed (a request the primary stopped waiting for) gets the next one instead', () => {
    const r = new StreamRegistry();
    const first = r.next('app', 'orders', 0);
    r.next('app', 'orders', 0);
    r.next('app', 'orders', 0);
    assert.deepEqual(r.adopt('app', 'orders', first.streamId, 2, 1), { streamId: first.streamId, serial: 4 });
    assert.deepEqual(r.adopt('app', 'orders', 'another-stream', 1, 2), { streamId: 'another-stream', serial: 1 }, 'a new stream starts where it says');
  });
});
