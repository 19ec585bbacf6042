// The cross-thread outbox (ipc/outbox.ts): one postMessage per event-loop turn, order kept, and awaited
// items (presence joins and their answers) leaving in chunks without waiting for the end of the turn.
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { AWAITED_CHUNK, type Batch, Outbox } from '../../src/ipc/outbox.ts';

type Msg = { type: 'publish'; n: number } | { type: 'join'; n: number };

/** Records what was sent, each send as the list of message numbers it carried. */
function recorder(): { sent: number[][]; outbox: Outbox<Msg> } {
  const sent: number[][] = [];
  const outbox = new Outbox<Msg>((m) => sent.push('messages' in m ? (m as Batch<Msg>).messages.map((x) => x.n) : [(m as Msg).n]));
  return { sent, outbox };
}

describe('outbox', () => {
  test('the messages of one turn leave as one batch, in order, at the end of the turn', async () => {
    const { sent, outbox } = recorder();
    for (let n = 0; n < 100; n++) outbox.post({ type: 'publish', n });
    assert.equal(sent.length, 0);
    await nextTurn();
    assert.deepEqual(sent, [Array.from({ length: 100 }, (_, n) => n)]);
  });

  test('flushSoon sends what is queued once the current task is done, not at the end of the turn', async () => {
    const { sent, outbox } = recorder();
    outbox.post({ type: 'publish', n: 1 });
    outbox.flushSoon();
    outbox.post({ type: 'publish', n: 2 });
    outbox.flushSoon();
    assert.deepEqual(sent, [], 'not inside the task that asked');
    await Promise.resolve();
    assert.deepEqual(sent, [[1, 2]], 'one send, after the task, before any later turn');
    await nextTurn();
    assert.deepEqual(sent, [[1, 2]], 'the end of the turn finds nothing left');
  });

  test('tail is the last message queued this turn, and nothing once the turn has sent it', async () => {
    const { sent, outbox } = recorder();
    assert.equal(outbox.tail(), undefined);
    const first = { type: 'publish' as const, n: 1 };
    outbox.post(first);
    assert.equal(outbox.tail(), first);
    // A sender adds to the queued message instead of queueing another (the primary's publishes-taken).
    (outbox.tail() as Msg).n = 2;
    await nextTurn();
    assert.deepEqual(sent, [[2]]);
    assert.equal(outbox.tail(), undefined);
  });

  test('addTo adds to the last message of its type, and queues a new one after another type or a send', async () => {
    const { sent, outbox } = recorder();
    const create = (n: number) => () => ({ type: 'join' as const, n });
    const first = outbox.addTo('join', create(1));
    assert.equal(outbox.addTo('join', create(2)), first, 'the queued join is added to');
    outbox.post({ type: 'publish', n: 3 });
    const second = outbox.addTo('join', create(4));
    assert.notEqual(second, first, 'a publish in between: order needs a new message');
    second.n = 5; // filled in after it was queued, before the turn sends it
    await nextTurn();
    assert.deepEqual(sent, [[1, 3, 5]]);
    assert.notEqual(outbox.addTo('join', create(6)), second, 'the sent message is not added to');
  });

  test('a lone message leaves as itself, not wrapped in a batch', async () => {
    const messages: unknown[] = [];
    const outbox = new Outbox<Msg>((m) => messages.push(m));
    outbox.post({ type: 'publish', n: 7 });
    await nextTurn();
    assert.deepEqual(messages, [{ type: 'publish', n: 7 }]);
  });

  test('awaited items leave in chunks during the turn, with everything queued before them', async () => {
    const { sent, outbox } = recorder();
    let n = 0;
    const join = () => {
      outbox.post({ type: 'join', n: n++ });
      outbox.awaitedAdded();
    };
    outbox.post({ type: 'publish', n: n++ });
    for (let i = 0; i < AWAITED_CHUNK - 1; i++) join();
    assert.equal(sent.length, 0, 'one short of a chunk: nothing sent yet');
    join();
    assert.deepEqual(sent, [Array.from({ length: AWAITED_CHUNK + 1 }, (_, i) => i)]);
    for (let i = 0; i < 5; i++) join();
    await nextTurn();
    assert.equal(sent.length, 2, 'the rest at the end of the turn');
    assert.deepEqual(sent.flat(), Array.from({ length: n }, (_, i) => i));
  });

  test('postNow sends at once, after what is queued', () => {
    const { sent, outbox } = recorder();
    outbox.post({ type: 'publish', n: 0 });
    outbox.postNow({ type: 'publish', n: 1 });
    assert.deepEqual(sent, [[0, 1]]);
  });
});
