// ChannelDelivery with held publishes (worker/fanoutHold.ts): whatever else the worker hands uWS, the held
// publishes go first, so each topic's frames keep the order in which the worker admitted them. uWS is replaced
// by a recorder of publish calls (the order of those calls is the order of each topic's frames).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChannelCounts } from '../../src/channels/channelCounts.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { PublishEvent } from '../../src/http/events.ts';
import type { OwnPublishPositions } from '../../src/ipc/messages.ts';
import { appendFrames, emptyFrameColumns } from '../../src/ipc/frameColumns.ts';
import { appendTaken, emptyPublishesTaken } from '../../src/ipc/publishesTaken.ts';
import { compileFilter } from '../../src/protocol/filters.ts';
import { NO_MESSAGE_ID, NO_SERIAL, v2Meta } from '../../src/v2/meta.ts';
import { WorkerCounters } from '../../src/metrics/workerCounters.ts';
import { topicFor, userTopic } from '../../src/protocol/topics.ts';
import type { TemplatedApp } from '../../src/transport/uws.ts';
import { CacheMirror } from '../../src/worker/cacheMirror.ts';
import { ChannelDelivery } from '../../src/worker/channelDelivery.ts';
import { LARGE_FANOUT } from '../../src/worker/fanoutHold.ts';
import { LiveHolds } from '../../src/worker/liveHold.ts';
import { LocalChannels } from '../../src/worker/localChannels.ts';
import { ReplayMirror } from '../../src/worker/replayMirror.ts';
import { V2Fanout } from '../../src/worker/v2Fanout.ts';
import { fakeClock } from '../helpers/fakeClock.ts';

const CHANNEL = 'big';

/**
 * `v1` / `v2`: this thread's V1 and plain V2 subscribers of the channel as uWS counts them; `v2Sockets`: whether
 * the app has V2 sockets here (by default when `v2` > 0).
 */
function setup(options: { v1?: number; v2?: number; v2Sockets?: boolean; recovery?: boolean } = {}) {
  const { v1 = LARGE_FANOUT, v2 = 0, v2Sockets = v2 > 0, recovery = true } = options;
  const config = loadConfig({ env: { SOCKUDO_CONNECTION_RECOVERY_ENABLED: String(recovery) } });
  const appId = config.apps[0].id;
  const topic = topicFor(1, appId, CHANNEL);
  const v2Topic = topicFor(2, appId, CHANNEL);
  const channels = new LocalChannels(new ChannelCounts(ChannelCounts.allocate(1, 8), 8, 0), 0, () => {});
  const fanout = new V2Fanout(new ReplayMirror(100, 120_000));
  const delivery = new ChannelDelivery({
    config,
    counters: new WorkerCounters(WorkerCounters.allocate(1, 1), 1, 1, 0),
    sockets: new Map(),
    holds: new LiveHolds(() => {}, 100),
    cache: new CacheMirror(),
    fanout,
    channels,
  });
  if (v2Sockets) delivery.v2Sockets[0] = 1;
  /** The data of each frame uWS was given for the channel, in order. */
  const written: string[] = [];
  /** The same for the channel's V2 topic, with each frame's serial. */
  const writtenV2: string[] = [];
  /** The channel's V2 frames as given to uWS. */
  const framesV2: string[] = [];
  delivery.app = {
    numSubscribers: (t: string) => (t === topic ? v1 : t === v2Topic ? v2 : 0),
    publish: (t: string, frame: string) => {
      const f = JSON.parse(frame) as { data: string; serial?: number };
      if (f.data === 'throws') throw new Error('uWS refused');
      if (t === topic) written.push(f.data);
      if (t === v2Topic) {
        writtenV2.push(`${f.data}#${f.serial}`);
        framesV2.push(frame);
      }
      return true;
    },
  } as unknown as TemplatedApp;
  const event = (data: string): PublishEvent[] => [{ name: 'e', channels: [CHANNEL], data, ephemeral: false } as PublishEvent];
  /** The primary's answer for the publish stamped `seq`: one message, at `serial`. */
  const answer = (seq: number, serial: number) => {
    const taken = emptyPublishesTaken();
    appendTaken(taken, seq, Date.now(), seq, { messageIds: [`m${seq}`], streamIds: ['s1'], serials: [serial], publishedAt: Date.now() });
    return taken;
  };
  return { delivery, channels, fanout, appId, written, writtenV2, framesV2, event, topic, answer };
}

describe('held publishes keep their place on the topic', () => {
  test('one held publish that throws does not cost the others their delivery', (t) => {
    fakeClock(t);
    const { delivery, written, event } = setup();
    delivery.holdAdmitted(1, 0, event('a'));
    delivery.holdAdmitted(2, 0, event('throws'));
    delivery.holdAdmitted(3, 0, event('b'));
    assert.throws(() => delivery.flushHeld(), /uWS refused/);
    assert.deepEqual(written, ['a', 'b']);
    delivery.flushHeld();
    assert.deepEqual(written, ['a', 'b'], 'nothing left held');
  });


  test('a held publish goes out after the quiet time; may hold only with a large V1 audience', (t) => {
    const clock = fakeClock(t);
    const { delivery, channels, written, event } = setup();
    assert.equal(delivery.mayHold(0, event('x')), false, 'the channel is not large in the worker counts yet');
    for (let i = 0; i < LARGE_FANOUT; i++) channels.add(0, CHANNEL);
    assert.equal(delivery.mayHold(0, event('x')), true);
    delivery.holdAdmitted(4, 0, event('a'));
    delivery.holdAdmitted(5, 0, event('b'));
    assert.deepEqual(written, []);
    clock.advance(1);
    assert.deepEqual(written, ['a', 'b']);
  });

  test('the primary’s frames, a publish delivered at once, a client event and a taken publish’s V1 side all wait for the held ones', (t) => {
    const clock = fakeClock(t);
    const { delivery, written, event, topic } = setup();
    delivery.holdAdmitted(6, 0, event('held-1'));
    const columns = emptyFrameColumns();
    appendFrames(columns, [{ app: 0, topic, frame: JSON.stringify({ event: 'e', channel: CHANNEL, data: 'from-primary' }) }], 0, 0);
    delivery.publishColumns(columns, 0, 1, Date.now(), () => false);
    assert.deepEqual(written, ['held-1', 'from-primary'], 'not streaming: the hand-over goes at once, after the held one');

    delivery.holdAdmitted(7, 0, event('held-2'));
    delivery.deliverAdmitted(0, event('at-once'));
    assert.deepEqual(written.slice(2), ['held-2', 'at-once']);

    delivery.holdAdmitted(8, 0, event('held-3'));
    delivery.publish([{ app: 0, topic, frame: JSON.stringify({ event: 'client-e', channel: CHANNEL, data: 'client-event' }) }]);
    assert.deepEqual(written.slice(4), ['held-3', 'client-event']);

    delivery.holdAdmitted(9, 0, event('held-4'));
    const taken = emptyPublishesTaken();
    appendTaken(taken, 10, Date.now(), 10, { messageIds: ['m1'], streamIds: ['s1'], serials: [1], publishedAt: Date.now() });
    // Stamp 10 went through the primary (it could not be claimed here): it waits behind the held ones, with them.
    delivery.deliverOwnPublish(10, 0, event('taken-v1'), false, taken, 0, 0);
    assert.deepEqual(written.slice(6), []);
    clock.advance(1);
    assert.deepEqual(written.slice(6), ['held-4', 'taken-v1']);
    // The V2 side of a publish delivered at admission (v1Delivered) sends no V1 frame and lets nothing out early.
    delivery.deliverAdmitted(0, event('at-once-2'));
    delivery.holdAdmitted(12, 0, event('held-5'));
    delivery.deliverOwnPublish(11, 0, event('at-once-2'), true, taken, 0, 0);
    assert.deepEqual(written.slice(8), ['at-once-2']);
    delivery.flushHeld();
    assert.deepEqual(written.slice(9), ['held-5']);
  });
});

describe('hand-overs of the primary held with the rest', () => {
  test('while publishes stream, a hand-over with a large audience here waits in the hold, in its place', (t) => {
    const clock = fakeClock(t);
    const { delivery, channels, written, event, topic } = setup();
    const handOver = (data: string) => {
      const columns = emptyFrameColumns();
      appendFrames(columns, [{ app: 0, topic, frame: JSON.stringify({ event: 'e', channel: CHANNEL, data }) }], 0, 0);
      return columns;
    };
    delivery.publishColumns(handOver('not-large-yet'), 0, 1, Date.now(), () => true);
    assert.deepEqual(written, ['not-large-yet'], 'no large channel in the worker counts: at once');
    for (let i = 0; i < LARGE_FANOUT; i++) channels.add(0, CHANNEL);
    delivery.holdAdmitted(1, 0, event('admitted'));
    delivery.publishColumns(handOver('handed-over'), 0, 1, Date.now(), () => true);
    delivery.publishColumns(handOver('handed-over-2'), 0, 1, Date.now(), () => true);
    assert.deepEqual(written.slice(1), [], 'held');
    clock.advance(1);
    assert.deepEqual(written.slice(1), ['admitted', 'handed-over', 'handed-over-2']);
    delivery.publishColumns(handOver('alone'), 0, 1, Date.now(), () => false);
    assert.deepEqual(written.slice(4), ['alone'], 'not streaming: at once');
  });

});

describe('hand-overs and held publishes on a V2 topic keep the primary’s serial order', () => {
  /** A hand-over of one V2 frame (a client event from another worker, say) at `serial`. */
  const v2HandOver = (appId: string, data: string, serial: number) => {
    const columns = emptyFrameColumns();
    const meta = v2Meta(CHANNEL, 'client-e', `h${serial}`, false, Date.now(), 's1', serial, undefined, undefined);
    const frame = JSON.stringify({ event: 'client-e', channel: CHANNEL, data, message_id: `h${serial}`, stream_id: 's1', serial });
    appendFrames(columns, [{ app: 0, topic: topicFor(2, appId, CHANNEL), frame, v2: meta }], 0, 0);
    return columns;
  };

  test('a hand-over of an HTTP publish (its V1 frame, which carries the V2 message) counts its V2 audience', (t) => {
    const clock = fakeClock(t);
    const { delivery, channels, writtenV2, topic } = setup({ v1: 0, v2: LARGE_FANOUT });
    for (let i = 0; i < LARGE_FANOUT; i++) channels.add(0, CHANNEL);
    const columns = emptyFrameColumns();
    const meta = v2Meta(CHANNEL, 'e', 'm7', false, Date.now(), 's1', 7, undefined, undefined);
    appendFrames(columns, [{ app: 0, topic, frame: JSON.stringify({ event: 'e', channel: CHANNEL, data: 'p' }), alsoV2: meta }], 0, 0);
    delivery.publishColumns(columns, 0, 1, Date.now(), () => true);
    assert.deepEqual(writtenV2, [], 'held: no V1 subscriber, a large V2 audience');
    clock.advance(1);
    assert.deepEqual(writtenV2, ['p#7']);
  });

  test('a hand-over is not held behind a publish waiting for its answer (the primary handled the hand-over first)', (t) => {
    fakeClock(t);
    const { delivery, channels, appId, writtenV2, event, answer } = setup({ v1: 0, v2: LARGE_FANOUT });
    for (let i = 0; i < LARGE_FANOUT; i++) channels.add(0, CHANNEL);
    delivery.holdAdmitted(5, 0, event('a'));
    delivery.publishColumns(v2HandOver(appId, 'h', 7), 0, 1, Date.now(), () => true);
    assert.deepEqual(writtenV2, ['h#7'], 'at once, the waiting publish let out without its V2 side');
    delivery.deliverOwnPublish(5, 0, event('a'), true, answer(5, 8), 0, 0);
    assert.deepEqual(writtenV2, ['h#7', 'a#8']);
  });

  test('the V2 side of a publish delivered at admission waits for a held hand-over (stamped before it)', (t) => {
    fakeClock(t);
    const { delivery, channels, appId, writtenV2, event, answer } = setup({ v1: 0, v2: LARGE_FANOUT });
    for (let i = 0; i < LARGE_FANOUT; i++) channels.add(0, CHANNEL);
    delivery.publishColumns(v2HandOver(appId, 'h', 7), 0, 1, Date.now(), () => true);
    assert.deepEqual(writtenV2, [], 'held');
    delivery.deliverOwnPublish(9, 0, event('a'), true, answer(9, 8), 0, 0);
    assert.deepEqual(writtenV2, ['h#7', 'a#8']);
  });
});

describe('held publishes with a V2 audience here', () => {
  test('may hold for a large V2 audience, plain or filtered, only with V2 sockets of the app here', (t) => {
    fakeClock(t);
    const { delivery, channels, fanout, appId, event } = setup({ v1: 0, v2: LARGE_FANOUT });
    for (let i = 0; i < LARGE_FANOUT; i++) channels.add(0, CHANNEL);
    assert.equal(delivery.mayHold(0, event('x')), true, 'no V1 subscriber, a large V2 audience');
    delivery.v2Sockets[0] = 0;
    assert.equal(delivery.mayHold(0, event('x')), false, 'no V2 socket of the app: no V2 audience to count');

    const filtered = setup({ v1: 0, v2: 0, v2Sockets: true });
    for (let i = 0; i < LARGE_FANOUT; i++) filtered.channels.add(0, CHANNEL);
    assert.equal(filtered.delivery.mayHold(0, event('x')), false);
    const spec = compileFilter({ tags: { key: 'k', cmp: 'eq', val: 'v' } });
    assert.ok(spec.ok);
    for (let i = 0; i < LARGE_FANOUT; i++) filtered.fanout.join(appId, CHANNEL, spec.filter);
    assert.equal(filtered.delivery.mayHold(0, event('x')), true, 'a large filter group');
    assert.equal(fanout.filteredSubscribers(appId, CHANNEL), 0);
  });

  test('a publish to a channel without V2 subscribers here does not wait for the primary, though the app has V2 sockets', (t) => {
    const clock = fakeClock(t);
    const { delivery, written, event } = setup({ v1: LARGE_FANOUT, v2: 0, v2Sockets: true });
    assert.equal(delivery.holdAdmitted(1, 0, event('a')), false);
    clock.advance(1);
    assert.deepEqual(written, ['a'], 'out after the quiet time, no answer needed');
  });

  test('V1 and V2 subscribers of one channel: both sides leave together once the answer came', (t) => {
    const clock = fakeClock(t);
    const { delivery, written, writtenV2, event, answer } = setup({ v1: LARGE_FANOUT, v2: LARGE_FANOUT });
    assert.equal(delivery.holdAdmitted(1, 0, event('a')), true);
    clock.advance(2);
    assert.deepEqual([written, writtenV2], [[], []], 'the V1 side waits with the V2 side');
    delivery.deliverOwnPublish(1, 0, event('a'), true, answer(1, 11), 0, 0);
    clock.advance(1);
    assert.deepEqual([written, writtenV2], [['a'], ['a#11']]);
  });

  test('past the maximum the answered front goes; the unanswered rest waits for its answer', (t) => {
    const clock = fakeClock(t);
    const { delivery, writtenV2, event, answer } = setup({ v1: 0, v2: LARGE_FANOUT });
    delivery.holdAdmitted(1, 0, event('a'));
    delivery.deliverOwnPublish(1, 0, event('a'), true, answer(1, 11), 0, 0);
    delivery.holdAdmitted(2, 0, event('b'));
    clock.advance(4);
    assert.deepEqual(writtenV2, ['a#11'], 'a at the maximum; b has no answer');
    delivery.deliverOwnPublish(2, 0, event('b'), true, answer(2, 12), 0, 0);
    clock.advance(1);
    assert.deepEqual(writtenV2, ['a#11', 'b#12']);
  });

  test('a held publish the primary did not take leaves with its V1 frames and no V2 side', (t) => {
    const clock = fakeClock(t);
    const { delivery, written, writtenV2, event } = setup({ v1: LARGE_FANOUT, v2: LARGE_FANOUT });
    delivery.holdAdmitted(1, 0, event('a'));
    const refused = emptyPublishesTaken();
    appendTaken(refused, 1, Date.now(), 1, undefined);
    delivery.deliverOwnPublish(1, 0, event('a'), true, refused, 0, 0);
    clock.advance(1);
    assert.deepEqual([written, writtenV2], [['a'], []]);
  });

  test('the V2 frame waits in the hold for the primary’s answer, then leaves with the rest', (t) => {
    const clock = fakeClock(t);
    const { delivery, writtenV2, event, answer } = setup({ v1: 0, v2: LARGE_FANOUT });
    assert.equal(delivery.holdAdmitted(1, 0, event('a')), true, 'it waits for the answer');
    delivery.holdAdmitted(2, 0, event('b'));
    delivery.deliverOwnPublish(1, 0, event('a'), true, answer(1, 11), 0, 0);
    clock.advance(2);
    assert.deepEqual(writtenV2, [], 'b has no answer yet: everything waits');
    delivery.deliverOwnPublish(2, 0, event('b'), true, answer(2, 12), 0, 0);
    assert.deepEqual(writtenV2, [], 'the answer joins the hold');
    clock.advance(1);
    assert.deepEqual(writtenV2, ['a#11', 'b#12']);
  });

  test('let out before its answer came, a held publish’s V2 side goes when the answer comes', (t) => {
    fakeClock(t);
    const { delivery, writtenV2, event, answer } = setup({ v1: 0, v2: LARGE_FANOUT });
    delivery.holdAdmitted(1, 0, event('a'));
    delivery.flushHeld();
    assert.deepEqual(writtenV2, []);
    delivery.holdAdmitted(2, 0, event('b'));
    delivery.deliverOwnPublish(1, 0, event('a'), true, answer(1, 11), 0, 0);
    assert.deepEqual(writtenV2, ['a#11'], 'at once, and b stays held');
    delivery.flushHeld();
    delivery.deliverOwnPublish(2, 0, event('b'), true, answer(2, 12), 0, 0);
    assert.deepEqual(writtenV2, ['a#11', 'b#12']);
  });

  test('held V2 frames with their answers go before the V2 frame of an answer for a publish not held', (t) => {
    fakeClock(t);
    const { delivery, writtenV2, event, answer } = setup({ v1: 0, v2: LARGE_FANOUT });
    delivery.holdAdmitted(1, 0, event('a'));
    delivery.deliverOwnPublish(1, 0, event('a'), true, answer(1, 11), 0, 0);
    delivery.deliverOwnPublish(2, 0, event('b'), true, answer(2, 12), 0, 0);
    assert.deepEqual(writtenV2, ['a#11', 'b#12']);
  });
});

describe('connection recovery off', () => {
  test('V2 frames need nothing from the primary: they leave with the V1 frames, held or at once, and the answer adds none', (t) => {
    const clock = fakeClock(t);
    const { delivery, written, writtenV2, framesV2, event } = setup({ v2: LARGE_FANOUT, recovery: false });
    /** The primary's answer with recovery off: no message id, no position. */
    const bare = (seq: number) => {
      const taken = emptyPublishesTaken();
      appendTaken(taken, seq, Date.now(), seq, { messageIds: [NO_MESSAGE_ID], streamIds: [''], serials: [NO_SERIAL], publishedAt: Date.now() });
      return taken;
    };
    assert.equal(delivery.holdAdmitted(1, 0, event('held')), false, 'a V2 audience does not make the hold wait for the answer');
    clock.advance(1);
    assert.deepEqual([written, writtenV2], [['held'], ['held#undefined']]);
    delivery.deliverOwnPublish(1, 0, event('held'), true, bare(1), 0, 0);
    delivery.deliverAdmitted(0, event('at-once'));
    assert.deepEqual(writtenV2, ['held#undefined', 'at-once#undefined'], 'at admission, before the answer');
    delivery.deliverOwnPublish(2, 0, event('at-once'), true, bare(2), 0, 0);
    assert.deepEqual([written, writtenV2], [['held', 'at-once'], ['held#undefined', 'at-once#undefined']], 'the answers added nothing');
    assert.deepEqual(framesV2.map((f) => Object.keys(JSON.parse(f))), [['event', 'channel', 'data'], ['event', 'channel', 'data']], 'no message_id, stream_id or serial');
  });

  test('an answer that comes while the publish is held joins it; one the primary refused adds nothing', (t) => {
    const clock = fakeClock(t);
    const { delivery, written, writtenV2, event } = setup({ v2: LARGE_FANOUT, recovery: false });
    const taken = (seq: number, count: number) => {
      const m = emptyPublishesTaken();
      appendTaken(m, seq, Date.now(), seq, { messageIds: [NO_MESSAGE_ID], streamIds: [''], serials: [NO_SERIAL], publishedAt: Date.now() });
      if (count < 0) m.counts[0] = count;
      return m;
    };
    delivery.holdAdmitted(5, 0, event('answered'));
    delivery.holdAdmitted(6, 0, event('refused'));
    delivery.deliverOwnPublish(5, 0, event('answered'), true, taken(5, 1), 0, 0);
    delivery.deliverOwnPublish(6, 0, event('refused'), true, taken(6, -1), 0, 0);
    assert.deepEqual(writtenV2, [], 'still held');
    clock.advance(1);
    // One the primary did not take leaves as admitted, as with recovery on: its V1 frames, and here its V2 frames too.
    assert.deepEqual([written, writtenV2], [['answered', 'refused'], ['answered#undefined', 'refused#undefined']]);
  });

  test('a publish that went through the primary leaves with both sides from its answer', (t) => {
    fakeClock(t);
    const { delivery, written, writtenV2, event } = setup({ v2: LARGE_FANOUT, recovery: false });
    const taken = emptyPublishesTaken();
    appendTaken(taken, 3, Date.now(), 3, { messageIds: [NO_MESSAGE_ID], streamIds: [''], serials: [NO_SERIAL], publishedAt: Date.now() });
    delivery.deliverOwnPublish(3, 0, event('via-primary'), false, taken, 0, 0);
    assert.deepEqual([written, writtenV2], [['via-primary'], ['via-primary#undefined']]);
  });
});

describe('connection recovery off: messages to a user\'s sockets', () => {
  test('delivered at once, its V2 frame has a message_id, as the primary gives the other workers', (t) => {
    fakeClock(t);
    const { delivery, appId } = setup({ v2: 1, recovery: false });
    const v2UserTopic = userTopic(2, appId, 'u1');
    const frames: string[] = [];
    delivery.app = {
      numSubscribers: (topic: string) => (topic === v2UserTopic ? 1 : 0),
      publish: (topic: string, frame: string) => {
        if (topic === v2UserTopic) frames.push(frame);
        return true;
      },
    } as unknown as TemplatedApp;
    const toUser = (ephemeral: boolean): PublishEvent[] => [{ name: 'e', channels: ['#server-to-user-u1'], data: 'x', ephemeral } as PublishEvent];
    delivery.deliverAdmitted(0, toUser(false));
    delivery.deliverAdmitted(0, toUser(true));
    assert.equal(frames.length, 2);
    const ids = frames.map((f) => (JSON.parse(f) as { message_id?: string }).message_id);
    for (const id of ids) assert.match(String(id), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.notEqual(ids[0], ids[1]);
  });
});

describe('publishes numbered here (recovery on, one host: worker/positionTracker.ts)', () => {
  /** A hand-over of an HTTP publish on `channel` (its V1 frame carrying the V2 message) at `serial` of stream s1. */
  const handOver = (appId: string, channel: string, data: string, serial: number) => {
    const columns = emptyFrameColumns();
    const alsoV2 = v2Meta(channel, 'e', `h${serial}`, false, Date.now(), 's1', serial, undefined, undefined);
    appendFrames(columns, [{ app: 0, topic: topicFor(1, appId, channel), frame: JSON.stringify({ event: 'e', channel, data }), alsoV2 }], 0, 0);
    return columns;
  };

  test('only a public channel whose position came from the primary is numbered here; ephemeral messages get an id only', (t) => {
    fakeClock(t);
    const { delivery, appId, event } = setup({ v2: LARGE_FANOUT });
    assert.equal(delivery.assignPositions(0, event('a')), undefined, 'no position of the channel seen yet');
    delivery.publishColumns(handOver(appId, CHANNEL, 'first', 7), 0, 1, Date.now());
    delivery.publishColumns(handOver(appId, 'private-x', 'first', 3), 0, 1, Date.now());
    const ephemeral = { name: 'e', channels: [CHANNEL], data: 'p', ephemeral: true } as PublishEvent;
    const local = delivery.assignPositions(0, [...event('b'), ephemeral, ...event('c')]);
    assert.deepEqual([local?.streamIds, local?.serials], [['s1', '', 's1'], [8, NO_SERIAL, 9]]);
    assert.equal(new Set(local?.messageIds).size, 3);
    const privately = [{ name: 'e', channels: ['private-x'], data: 'p', ephemeral: false } as PublishEvent];
    assert.equal(delivery.assignPositions(0, privately), undefined, 'client events there are numbered by the primary outside the stamp order');
    assert.equal(delivery.assignPositions(0, [...event('d'), ...privately]), undefined, 'all or nothing');
    assert.deepEqual(delivery.assignPositions(0, event('e'))?.serials, [10], 'the refused batch took no serial');
  });

  test('its V2 frames leave with its V1 frames, at once or from the hold, and the answer adds nothing', (t) => {
    const clock = fakeClock(t);
    const { delivery, appId, written, writtenV2, event } = setup({ v2: LARGE_FANOUT });
    delivery.publishColumns(handOver(appId, CHANNEL, 'first', 1), 0, 1, Date.now());
    const asAnswer = (seq: number, local: OwnPublishPositions) => {
      const m = emptyPublishesTaken();
      appendTaken(m, seq, Date.now(), seq, local);
      return m;
    };
    const atOnce = delivery.assignPositions(0, event('at-once')) as OwnPublishPositions;
    delivery.deliverAdmitted(0, event('at-once'), atOnce);
    assert.deepEqual([written, writtenV2], [['first', 'at-once'], ['first#1', 'at-once#2']], 'no wait for the answer');
    delivery.deliverOwnPublish(1, 0, event('at-once'), true, asAnswer(1, atOnce), 0, 0, atOnce);
    const held = delivery.assignPositions(0, event('held')) as OwnPublishPositions;
    assert.equal(delivery.holdAdmitted(2, 0, event('held'), held), false, 'the hold does not wait for the answer');
    clock.advance(1);
    delivery.deliverOwnPublish(2, 0, event('held'), true, asAnswer(2, held), 0, 0, held);
    assert.deepEqual([written, writtenV2], [['first', 'at-once', 'held'], ['first#1', 'at-once#2', 'held#3']], 'the answers added nothing');
    assert.deepEqual(delivery.assignPositions(0, event('next'))?.serials, [4], 'answers that agree change nothing');
    // An answer that numbered a message otherwise (a request the primary stopped waiting for): numbered there again.
    const late = delivery.assignPositions(0, event('late')) as OwnPublishPositions;
    delivery.deliverAdmitted(0, event('late'), late);
    delivery.deliverOwnPublish(4, 0, event('late'), true, asAnswer(4, { ...late, serials: [9] }), 0, 0, late);
    assert.equal(delivery.assignPositions(0, event('after')), undefined);
  });

  test('the answer for a publish the primary numbered teaches the next one', (t) => {
    fakeClock(t);
    const { delivery, writtenV2, event, answer } = setup({ v2: LARGE_FANOUT });
    delivery.deliverOwnPublish(4, 0, event('via-primary'), false, answer(4, 5), 0, 0);
    assert.deepEqual(writtenV2, ['via-primary#5']);
    assert.deepEqual(delivery.assignPositions(0, event('next'))?.serials, [6]);
  });

  test('after a publish the primary did not take, its channels are numbered by the primary again', (t) => {
    fakeClock(t);
    const { delivery, event, answer } = setup({ v2: LARGE_FANOUT });
    delivery.deliverOwnPublish(4, 0, event('via-primary'), false, answer(4, 5), 0, 0);
    const refused = emptyPublishesTaken();
    appendTaken(refused, 5, Date.now(), 5, undefined);
    delivery.deliverOwnPublish(5, 0, event('refused'), false, refused, 0, 0);
    assert.equal(delivery.assignPositions(0, event('next')), undefined);
  });

  test('with recovery off nothing is numbered here', (t) => {
    fakeClock(t);
    const { delivery, appId, event } = setup({ v2: LARGE_FANOUT, recovery: false });
    delivery.publishColumns(handOver(appId, CHANNEL, 'first', 1), 0, 1, Date.now());
    assert.equal(delivery.assignPositions(0, event('a')), undefined);
  });
});
