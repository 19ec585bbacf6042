// When a worker may deliver a publish it admitted to its own V1 sockets at once (worker/localPublishOrder.ts):
// only when every earlier request stamp has had its V1 deliveries on that worker.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InOrder } from '../../src/ipc/requestOrder.ts';
import { LocalPublishOrder } from '../../src/worker/localPublishOrder.ts';

describe('local publish order', () => {
  test('the first stamp, and each one right after a publish delivered here, may be delivered here', () => {
    const order = new LocalPublishOrder();
    assert.equal(order.claim(0), true);
    assert.equal(order.claim(1), true);
    assert.equal(order.claim(2), true);
  });

  test('a stamp taken by a request that went to the primary holds later publishes back until the primary has started it', () => {
    const order = new LocalPublishOrder();
    assert.equal(order.claim(0), true);
    // Stamp 1: a request this worker (or another) sent to the primary; nothing is known of it here yet.
    assert.equal(order.claim(2), false);
    assert.equal(order.claim(3), false);
    order.applied(1); // the primary's message says it started stamp 1: stamps 2 and 3 went its way too
    assert.equal(order.claim(4), false);
    order.applied(3);
    assert.equal(order.claim(4), true);
  });

  test('a message from the primary never moves the watermark back', () => {
    const order = new LocalPublishOrder();
    order.applied(9);
    order.applied(4); // an older figure, e.g. from a message posted before the others
    assert.equal(order.claim(10), true);
  });

  test('carries on across the Int32 wrap-around of the stamps', () => {
    const order = new LocalPublishOrder();
    order.applied(2 ** 31 - 2);
    assert.equal(order.claim(2 ** 31 - 1), true);
    assert.equal(order.claim(-(2 ** 31)), true); // the counter wrapped
    order.applied(2 ** 31 - 1); // behind, across the wrap: ignored
    assert.equal(order.claim(-(2 ** 31) + 1), true);
  });

  test("the primary's watermark: the last stamp up to which every request has run", () => {
    const errors: unknown[] = [];
    const inOrder = new InOrder((err) => errors.push(err), 0, 20);
    assert.equal(inOrder.settledThrough, -1);
    inOrder.run(1, () => {});
    assert.equal(inOrder.settledThrough, -1); // stamp 0 has not arrived: stamp 1 waits
    inOrder.run(0, () => assert.equal(inOrder.startedThrough, 0));
    assert.equal(inOrder.startedThrough, 1);
    assert.equal(inOrder.settledThrough, 1);
    assert.equal(errors.length, 0);
  });

  test('a request still waiting for something holds the watermark back, whatever runs after it', async () => {
    const errors: unknown[] = [];
    const inOrder = new InOrder((err) => errors.push(err));
    let finish: () => void = () => {};
    let fail: (err: Error) => void = () => {};
    inOrder.run(0, () => new Promise<void>((resolve) => (finish = resolve))); // e.g. an idempotency claim
    inOrder.run(1, () => {});
    inOrder.run(2, () => new Promise<void>((_, reject) => (fail = reject)));
    inOrder.run(3, () => {});
    assert.equal(inOrder.startedThrough, 3);
    assert.equal(inOrder.settledThrough, -1);
    finish();
    await new Promise((r) => setImmediate(r));
    assert.equal(inOrder.settledThrough, 1);
    fail(new Error('broken'));
    await new Promise((r) => setImmediate(r));
    assert.equal(inOrder.settledThrough, 3);
    assert.deepEqual(errors.map((e) => (e as Error).message), ['broken']); // a failure is reported, not lost
  });

  test('a stamp given up counts as done', async () => {
    const errors: unknown[] = [];
    const inOrder = new InOrder((err) => errors.push(err), 0, 20);
    inOrder.run(1, () => {});
    // Stamp 0 never comes: given up after 20 ms, with an error.
    for (const deadline = Date.now() + 2000; errors.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    assert.equal(inOrder.settledThrough, 1);
    assert.equal(errors.length, 1);
  });
});
