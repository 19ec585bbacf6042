// The host-wide order of API requests (ipc/requestOrder.ts): stamps from one shared counter, and the
// primary's InOrder runs stamped work in stamp order whatever order it arrives in.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InOrder, RequestSequence } from '../../src/ipc/requestOrder.ts';

describe('request order', () => {
  test('two workers sharing the counter never get the same stamp', () => {
    const buffer = RequestSequence.allocate();
    const a = new RequestSequence(buffer);
    const b = new RequestSequence(buffer);
    assert.deepEqual([a.take(), b.take(), a.take(), b.take()], [0, 1, 2, 3]);
  });

  test('work that arrives ahead of its turn waits for the earlier stamps', () => {
    const ran: number[] = [];
    const order = new InOrder((err) => assert.fail(String(err)));
    for (const stamp of [2, 1, 4]) order.run(stamp, () => ran.push(stamp));
    assert.equal(ran.length, 0);
    assert.equal(order.waiting, 3);
    order.run(0, () => ran.push(0));
    assert.deepEqual(ran, [0, 1, 2]);
    order.run(3, () => ran.push(3));
    assert.deepEqual(ran, [0, 1, 2, 3, 4]);
    assert.equal(order.waiting, 0);
  });

  test('the order carries on across the Int32 wrap-around', () => {
    const buffer = RequestSequence.allocate();
    new Int32Array(buffer)[0] = 2 ** 31 - 2;
    const seq = new RequestSequence(buffer);
    const stamps = [seq.take(), seq.take(), seq.take()];
    assert.deepEqual(stamps, [2 ** 31 - 2, 2 ** 31 - 1, -(2 ** 31)]);
    const order = new InOrder((err) => assert.fail(String(err)), stamps[0]);
    const ran: number[] = [];
    order.run(stamps[2], () => ran.push(stamps[2]));
    order.run(stamps[1], () => ran.push(stamps[1]));
    assert.equal(ran.length, 0);
    order.run(stamps[0], () => ran.push(stamps[0]));
    assert.deepEqual(ran, stamps);
  });

  test('work that throws is reported and does not stop the work after it', () => {
    const errors: unknown[] = [];
    const ran: number[] = [];
    const order = new InOrder((err) => errors.push(err));
    order.run(1, () => ran.push(1));
    order.run(0, () => {
      throw new Error('boom');
    });
    order.run(2, () => ran.push(2));
    assert.deepEqual(ran, [1, 2]);
    assert.equal((errors[0] as Error).message, 'boom');
  });

  test('a stamp that never arrives is given up after the timeout, with an error, and the rest runs in order', async () => {
    const errors: unknown[] = [];
    const ran: number[] = [];
    const order = new InOrder((err) => errors.push(err), 0, 20);
    for (const stamp of [3, 2]) order.run(stamp, () => ran.push(stamp));
    order.run(0, () => ran.push(0));
    assert.deepEqual(ran, [0]); // 1 is missing
    const deadline = Date.now() + 2000;
    while (ran.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(ran, [0, 2, 3]);
    assert.match(String(errors[0]), /stamps 1 to 1 never reached the primary/);
    assert.equal(order.waiting, 0);
    order.run(4, () => ran.push(4));
    assert.deepEqual(ran, [0, 2, 3, 4]);
    // The given-up stamp turns up after all: it still runs (out of order, said so), and nothing waits on it.
    order.run(1, () => ran.push(1));
    assert.deepEqual(ran, [0, 2, 3, 4, 1]);
    assert.match(String(errors[1]), /stamp 1 arrived after it was given up/);
    order.run(5, () => ran.push(5));
    assert.deepEqual(ran, [0, 2, 3, 4, 1, 5]);
    assert.equal(order.waiting, 0);
  });

  test('late work for a given-up stamp that fails asynchronously is reported, not left unhandled', async () => {
    const errors: unknown[] = [];
    const order = new InOrder((err) => errors.push(err), 0, 20);
    order.run(1, () => {});
    const deadline = Date.now() + 2000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.match(String(errors[0]), /never reached the primary/); // stamp 0 given up
    order.run(0, () => Promise.reject(new Error('late failure')));
    assert.match(String(errors[1]), /stamp 0 arrived after it was given up/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(String(errors[2]), /late failure/);
    assert.equal(order.settledThrough, 1); // the late stamp is behind the watermark: it holds nothing back
  });
});
