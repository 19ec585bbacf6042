// The primary's `publishes-taken` answers (ipc/publishesTaken.ts): answers queued for one worker in a row travel
// as columns, and the worker finds each publish's message ids and positions again where they start.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OwnPublishPositions } from '../../src/ipc/messages.ts';
import { appendTaken, emptyPublishesTaken, forEachTaken } from '../../src/ipc/publishesTaken.ts';
import { NO_SERIAL } from '../../src/v2/meta.ts';

function positions(tag: string, count: number, publishedAt: number): OwnPublishPositions {
  return {
    messageIds: Array.from({ length: count }, (_, k) => `${tag}-id-${k}`),
    streamIds: Array.from({ length: count }, (_, k) => (k === 1 ? '' : `${tag}-stream`)),
    serials: Array.from({ length: count }, (_, k) => (k === 1 ? NO_SERIAL : 100 + k)),
    publishedAt,
  };
}

describe('publishes-taken', () => {
  test('each publish gets back exactly its own ids and positions, a publish that did not validate none', () => {
    const m = emptyPublishesTaken();
    const a = positions('a', 10, 1000);
    const c = positions('c', 1, 3000);
    appendTaken(m, 7, 1.5, 7, a);
    appendTaken(m, 8, 2.5, 7, undefined); // held back: through stays at 7
    appendTaken(m, 9, 3.5, 9, c);
    // Through the structured clone, as between threads.
    const wire = structuredClone(m);

    const seen: { seq: number; at: number; through: number; publishedAt: number; own: OwnPublishPositions | undefined }[] = [];
    forEachTaken(wire, (i, first) => {
      const count = wire.counts[i];
      seen.push({
        seq: wire.seqs[i],
        at: wire.at[i],
        through: wire.through[i],
        publishedAt: wire.publishedAt[i],
        own:
          count < 0
            ? undefined
            : {
                messageIds: wire.messageIds.slice(first, first + count),
                streamIds: wire.streamIds.slice(first, first + count),
                serials: wire.serials.slice(first, first + count),
                publishedAt: wire.publishedAt[i],
              },
      });
    });
    assert.deepEqual(seen, [
      { seq: 7, at: 1.5, through: 7, publishedAt: 1000, own: a },
      { seq: 8, at: 2.5, through: 7, publishedAt: 0, own: undefined },
      { seq: 9, at: 3.5, through: 9, publishedAt: 3000, own: c },
    ]);
    assert.equal(wire.messageIds.length, 11, 'ten messages of the first publish and one of the third');
  });

  test('an empty answer visits nothing', () => {
    let visits = 0;
    forEachTaken(emptyPublishesTaken(), () => visits++);
    assert.equal(visits, 0);
  });
});
