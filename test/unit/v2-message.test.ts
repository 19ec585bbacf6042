// V2 frames derived on the worker from an HTTP publish's V1 frame: the same frame the primary would have
// built, made only when a V2 subscriber, a held subscription, a filter group or a replay needs it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V2Meta } from '../../src/ipc/messages.ts';
import { channelEvent } from '../../src/protocol/frames.ts';
import { ReplayMirror } from '../../src/worker/replayMirror.ts';
import { V2Fanout, filterView } from '../../src/worker/v2Fanout.ts';
import { V2Message } from '../../src/worker/v2Message.ts';

const APP = 'app1';
const TOPIC = `2\n${APP}\norders`;

function meta(over: Partial<V2Meta> = {}): V2Meta {
  return { channel: 'orders', event: 'order.created', messageId: 'm-1', streamId: 's-1', serial: 7, ephemeral: false, publishedAt: 0, ...over };
}

describe('V2Message derived from a V1 frame', () => {
  test('the V2 frame is the V1 frame plus message_id, stream_id, serial, tags and extras', () => {
    const v1 = channelEvent('order.created', 'orders', '{"id":42}');
    const m = V2Message.fromV1(meta({ tags: { region: 'eu' }, extras: { headers: { priority: 'high' } } }), v1);
    assert.deepEqual(JSON.parse(m.frame), {
      event: 'order.created',
      channel: 'orders',
      data: '{"id":42}',
      message_id: 'm-1',
      stream_id: 's-1',
      serial: 7,
      tags: { region: 'eu' },
      extras: { headers: { priority: 'high' } },
    });
    assert.equal(m.serial, 7);
  });

  test('without a position (recovery off) the frame has a message_id only', () => {
    const m = V2Message.fromV1(meta({ streamId: undefined, serial: undefined }), channelEvent('e', 'orders', 'x'));
    assert.deepEqual(JSON.parse(m.frame), { event: 'e', channel: 'orders', data: 'x', message_id: 'm-1' });
  });

  test('a filter sees the data of the V1 frame, parsed when it holds JSON, and the headers of extras', () => {
    const m = V2Message.fromV1(meta({ extras: { headers: { priority: 'high' } } }), channelEvent('order.created', 'orders', '{"id":42}'));
    const view = filterView(m);
    assert.deepEqual(view.data, { id: 42 });
    assert.deepEqual(view.headers, { priority: 'high' });
    assert.equal(view.serial, 7);
  });

  test('a built message (client event) keeps its frame and gives its data to filters', () => {
    const frame = '{"event":"client-x","channel":"orders","data":{"a":1},"user_id":"u1","message_id":"m-1"}';
    const m = V2Message.built(meta({ event: 'client-x', userId: 'u1' }), frame);
    assert.equal(m.frame, frame);
    assert.deepEqual(filterView(m).data, { a: 1 });
  });
});

describe('V2Fanout with derived messages', () => {
  test('nothing is published to a topic nobody on the thread can receive, but the message is still recorded for replay', () => {
    const mirror = new ReplayMirror(100, 120_000);
    const fanout = new V2Fanout(mirror);
    const published: string[] = [];
    const publish = (topic: string, frame: string) => {
      published.push(`${topic}|${frame}`);
      return 1;
    };
    const v1 = channelEvent('order.created', 'orders', 'd');
    assert.equal(fanout.deliver(APP, TOPIC, V2Message.fromV1(meta(), v1), undefined, publish, () => false), 0);
    assert.deepEqual(published, []);
    // A later rewind gets the full V2 frame, built from the recorded V1 frame.
    const [replayed] = mirror.recent(APP, 'orders', { count: 1 }, 1);
    assert.equal(JSON.parse(replayed.frame).serial, 7);
    assert.equal(JSON.parse(replayed.frame).message_id, 'm-1');
  });

  test('a topic with an audience gets the derived V2 frame, and a filter group is evaluated even without plain subscribers', () => {
    const fanout = new V2Fanout(new ReplayMirror(100, 120_000));
    const compiled = { key: 'k', matches: (v: { data: unknown }) => (v.data as { id: number }).id === 42 };
    const groupTopic = fanout.join(APP, 'orders', compiled as never);
    const got = new Map<string, string>();
    const publish = (topic: string, frame: string) => {
      got.set(topic, frame);
      return 1;
    };
    const v1 = channelEvent('order.created', 'orders', '{"id":42}');
    // The plain topic has nobody; the filter group matches.
    assert.equal(fanout.deliver(APP, TOPIC, V2Message.fromV1(meta(), v1), undefined, publish, (t) => t !== TOPIC), 1);
    assert.deepEqual([...got.keys()], [groupTopic]);
    assert.equal(JSON.parse(got.get(groupTopic) as string).stream_id, 's-1');
  });
});
