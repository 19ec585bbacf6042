// ChannelDelivery with held publishes (worker/fanoutHold.ts): whatever else the worker hands uWS, the held
// publishes go first, so each topic's frames keep the order in which the worker admitted them. uWS is replaced
// by a recorder of publish calls (the order of those calls is the order of each topic's frames).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChannelCounts } from '../../src/channels/channelCounts.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { PublishEvent } from '../../src/http/events.ts';
import { appendFrames, emptyFrameColumns } from '../../src/ipc/frameColumns.ts';
import { appendTaken, emptyPublishesTaken } from '../../src/ipc/publishesTaken.ts';
import { WorkerCounters } from '../../src/metrics/workerCounters.ts';
import { topicFor } from '../../src/protocol/topics.ts';
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

function setup() {
  const config = loadConfig({ env: {} });
  const appId = config.apps[0].id;
  const topic = topicFor(1, appId, CHANNEL);
  const channels = new LocalChannels(new ChannelCounts(ChannelCounts.allocate(1, 8), 8, 0), 0, () => {});
  const delivery = new ChannelDelivery({
    config,
    counters: new WorkerCounters(WorkerCounters.allocate(1, 1), 1, 1, 0),
    sockets: new Map(),
    holds: new LiveHolds(() => {}, 100),
    cache: new CacheMirror(),
    fanout: new V2Fanout(new ReplayMirror(100, 120_000)),
    channels,
  });
  /** The data of each frame uWS was given for the channel, in order. */
  const written: string[] = [];
  delivery.app = {
    numSubscribers: (t: string) => (t === topic ? LARGE_FANOUT : 0),
    publish: (t: string, frame: string) => {
      const data = (JSON.parse(frame) as { data: string }).data;
      if (data === 'throws') throw new Error('uWS refused');
      if (t === topic) written.push(data);
      return true;
    },
  } as unknown as TemplatedApp;
  const event = (data: string): PublishEvent[] => [{ name: 'e', channels: [CHANNEL], data, ephemeral: false } as PublishEvent];
  return { delivery, channels, written, event, topic };
}

describe('held publishes keep their place on the topic', () => {
  test('one held publish that throws does not cost the others their delivery', (t) => {
    fakeClock(t);
    const { delivery, written, event } = setup();
    delivery.holdAdmitted(0, event('a'));
    delivery.holdAdmitted(0, event('throws'));
    delivery.holdAdmitted(0, event('b'));
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
    delivery.holdAdmitted(0, event('a'));
    delivery.holdAdmitted(0, event('b'));
    assert.deepEqual(written, []);
    clock.advance(1);
    assert.deepEqual(written, ['a', 'b']);
  });

  test('the primary’s frames, a publish delivered at once, a client event and a taken publish’s V1 side all wait for the held ones', (t) => {
    fakeClock(t);
    const { delivery, written, event, topic } = setup();
    delivery.holdAdmitted(0, event('held-1'));
    const columns = emptyFrameColumns();
    appendFrames(columns, [{ app: 0, topic, frame: JSON.stringify({ event: 'e', channel: CHANNEL, data: 'from-primary' }) }], 0, 0);
    delivery.publishColumns(columns, 0, 1, Date.now());
    assert.deepEqual(written, ['held-1', 'from-primary']);

    delivery.holdAdmitted(0, event('held-2'));
    delivery.deliverAdmitted(0, event('at-once'));
    assert.deepEqual(written.slice(2), ['held-2', 'at-once']);

    delivery.holdAdmitted(0, event('held-3'));
    delivery.publish([{ app: 0, topic, frame: JSON.stringify({ event: 'client-e', channel: CHANNEL, data: 'client-event' }) }]);
    assert.deepEqual(written.slice(4), ['held-3', 'client-event']);

    delivery.holdAdmitted(0, event('held-4'));
    const taken = emptyPublishesTaken();
    appendTaken(taken, 7, Date.now(), 7, { messageIds: ['m1'], streamIds: ['s1'], serials: [1], publishedAt: Date.now() });
    delivery.deliverOwnPublish(0, event('taken-v1'), false, taken, 0, 0);
    assert.deepEqual(written.slice(6), ['held-4', 'taken-v1']);
    // The V2 side of a publish already delivered here (v1Delivered) sends no V1 frame and lets nothing out early.
    delivery.holdAdmitted(0, event('held-5'));
    delivery.deliverOwnPublish(0, event('held-5'), true, taken, 0, 0);
    assert.deepEqual(written.slice(8), []);
    delivery.flushHeld();
    assert.deepEqual(written.slice(8), ['held-5']);
  });
});
