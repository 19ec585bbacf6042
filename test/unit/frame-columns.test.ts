// The primary's `frames` message (ipc/frameColumns.ts): the frames it hands one worker in a row travel as
// columns, and the worker gets each hand-over's frames back, V2 fields and all, after the structured clone, with
// the answers to its presence joins in between, in the order the primary made them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FRAME_V1, FRAME_V1_ALSO_V2, FRAME_V2, appendFrames, emptyFrameColumns, forEachInOrder, metaAt } from '../../src/ipc/frameColumns.ts';
import type { FrameColumns, PresenceJoined, TopicFrame } from '../../src/ipc/messages.ts';
import { appendPresenceAnswer } from '../../src/ipc/presenceColumns.ts';
import { v2Meta } from '../../src/v2/meta.ts';

/** Frame `k` of the columns as the TopicFrame the primary appended. */
function frameAt(m: FrameColumns, k: number): TopicFrame {
  const f: TopicFrame = { app: m.apps[k], topic: m.topics[k], frame: m.frames[k] };
  if (m.excludes[k] !== '') f.exclude = m.excludes[k];
  if (m.cacheTtlMs[k] > 0) f.cacheTtlMs = m.cacheTtlMs[k];
  if (m.kinds[k] === FRAME_V2) f.v2 = metaAt(m, k);
  if (m.kinds[k] === FRAME_V1_ALSO_V2) f.alsoV2 = metaAt(m, k);
  return f;
}

describe('frames as columns', () => {
  // An HTTP publish to two channels (one of them a cache channel, one message ephemeral), a client event (its V1
  // frame and its V2 frame with the sender's user id, tags and extras), and a presence change with no V2 fields.
  const publish: TopicFrame[] = [
    {
      app: 0,
      topic: 'v1\napp\nnews',
      frame: '{"event":"e","channel":"news","data":"x"}',
      alsoV2: v2Meta('news', 'e', 'id-1', false, 1000, 'stream-news', 41, { region: 'eu' }, { headers: { h: 'v' } }),
    },
    {
      app: 0,
      topic: 'v1\napp\ncache-x',
      frame: '{"event":"e","channel":"cache-x","data":"x"}',
      exclude: '1.2',
      cacheTtlMs: 30_000,
      alsoV2: v2Meta('cache-x', 'e', 'id-2', true, 1000, undefined, undefined, undefined, undefined),
    },
  ];
  const clientEvent: TopicFrame[] = [
    { app: 1, topic: 'v1\nother\nprivate-a', frame: '{"event":"client-a","channel":"private-a","data":{}}', exclude: '3.4' },
    {
      app: 1,
      topic: 'v2\nother\nprivate-a',
      frame: '{"event":"client-a","channel":"private-a","data":{},"message_id":"id-3"}',
      exclude: '3.4',
      v2: v2Meta('private-a', 'client-a', 'id-3', false, 2000, 'stream-a', 7, undefined, undefined, 'user-9'),
    },
  ];
  const presence: TopicFrame[] = [{ app: 0, topic: 'v1\napp\npresence-room', frame: '{"event":"pusher_internal:member_added"}' }];

  test('every hand-over gets back exactly its frames, with their watermark and time', () => {
    const m = emptyFrameColumns();
    appendFrames(m, publish, 1.5, 7);
    appendFrames(m, clientEvent, 2.5, 7);
    appendFrames(m, presence, 3.5, 9);
    // Through the structured clone, as between threads.
    const wire = structuredClone(m);

    const seen: { at: number; through: number; frames: TopicFrame[] }[] = [];
    forEachInOrder(
      wire,
      (i, first, count) => {
        const frames: TopicFrame[] = [];
        for (let k = first; k < first + count; k++) frames.push(frameAt(wire, k));
        seen.push({ at: wire.at[i], through: wire.through[i], frames });
      },
      () => assert.fail('no answer was queued'),
    );
    assert.deepEqual(seen, [
      { at: 1.5, through: 7, frames: publish },
      { at: 2.5, through: 7, frames: clientEvent },
      { at: 3.5, through: 9, frames: presence },
    ]);
    assert.deepEqual(wire.kinds, [FRAME_V1_ALSO_V2, FRAME_V1_ALSO_V2, FRAME_V1, FRAME_V2, FRAME_V1]);
  });

  test('a message without a position gets none back, not serial -1', () => {
    const m = emptyFrameColumns();
    appendFrames(m, publish, 0, 0);
    const meta = metaAt(structuredClone(m), 1);
    assert.equal('streamId' in meta, false);
    assert.equal('serial' in meta, false);
    assert.equal(meta.ephemeral, true);
  });

  test('an empty hand-over keeps its place, and an empty message visits nothing', () => {
    const m = emptyFrameColumns();
    appendFrames(m, [], 1, 1);
    appendFrames(m, presence, 2, 2);
    const visits: [number, number, number][] = [];
    forEachInOrder(m, (i, first, count) => visits.push([i, first, count]), () => assert.fail('no answer was queued'));
    assert.deepEqual(visits, [
      [0, 0, 0],
      [1, 0, 1],
    ]);
    let none = 0;
    forEachInOrder(emptyFrameColumns(), () => none++, () => none++);
    assert.equal(none, 0);
  });

  test('answers to presence joins come back in their place among the hand-overs', () => {
    // As in a presence room: a member leaves (its frame), another joins (member_added, then the answer), and so on.
    const answer = (requestId: number, ok = true): PresenceJoined =>
      ok ? { type: 'presence-joined', requestId, ok, dataJson: JSON.stringify(`{"presence":{"count":${requestId}}}`) } : { type: 'presence-joined', requestId, ok, reason: 'full' };
    const m = emptyFrameColumns();
    appendPresenceAnswer(m.answers, answer(1));
    appendFrames(m, presence, 1, 1);
    appendPresenceAnswer(m.answers, answer(2));
    appendPresenceAnswer(m.answers, answer(3, false));
    appendFrames(m, clientEvent, 2, 2);
    appendFrames(m, presence, 3, 3);
    appendPresenceAnswer(m.answers, answer(4));
    const order: unknown[] = [];
    const wire = structuredClone(m);
    forEachInOrder(
      wire,
      (i) => order.push(`hand-over ${wire.at[i]}`),
      (a) => order.push(a),
    );
    assert.deepEqual(order, [answer(1), 'hand-over 1', answer(2), answer(3, false), 'hand-over 2', 'hand-over 3', answer(4)]);
  });
});
