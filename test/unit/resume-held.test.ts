// A resume lets out the publishes its worker holds (worker/recovery.ts, worker/fanoutHold.ts) before it reads the
// replay mirror: a held publish is recorded when it goes out, and a client may already have it from another
// worker, whose frames came from the primary without a hold. Its position must then be one this worker knows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChannelCounts } from '../../src/channels/channelCounts.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { PublishEvent } from '../../src/http/events.ts';
import { appendTaken, emptyPublishesTaken } from '../../src/ipc/publishesTaken.ts';
import { WorkerCounters } from '../../src/metrics/workerCounters.ts';
import type { TemplatedApp } from '../../src/transport/uws.ts';
import { CacheMirror } from '../../src/worker/cacheMirror.ts';
import { ChannelDelivery } from '../../src/worker/channelDelivery.ts';
import { LiveHolds } from '../../src/worker/liveHold.ts';
import { LocalChannels } from '../../src/worker/localChannels.ts';
import { handleResume } from '../../src/worker/recovery.ts';
import { ReplayMirror } from '../../src/worker/replayMirror.ts';
import type { SocketState } from '../../src/worker/socketState.ts';
import { V2Fanout } from '../../src/worker/v2Fanout.ts';
import type { WsServer } from '../../src/worker/wsServer.ts';
import { fakeClock } from '../helpers/fakeClock.ts';

test('a resume from the position of a publish held on this worker succeeds: the held one goes out first', (t) => {
  fakeClock(t);
  // Recovery on (off by default): the test resumes.
  const config = loadConfig({ env: { SOCKUDO_CONNECTION_RECOVERY_ENABLED: 'true' } });
  const replay = new ReplayMirror(100, 120_000);
  const holds = new LiveHolds(() => {}, 100);
  const delivery = new ChannelDelivery({
    config,
    counters: new WorkerCounters(WorkerCounters.allocate(1, 1), 1, 1, 0),
    sockets: new Map(),
    holds,
    cache: new CacheMirror(),
    fanout: new V2Fanout(replay),
    channels: new LocalChannels(new ChannelCounts(ChannelCounts.allocate(1, 8), 8, 0), 0, () => {}),
  });
  delivery.app = { numSubscribers: () => 0, publish: () => true } as unknown as TemplatedApp;
  delivery.v2Sockets[0] = 1;
  const events = [{ name: 'e', channels: ['big'], data: 'held', ephemeral: false } as PublishEvent];
  delivery.holdAdmitted(1, 0, events);
  const taken = emptyPublishesTaken();
  appendTaken(taken, 1, Date.now(), 1, { messageIds: ['m1'], streamIds: ['s1'], serials: [1], publishedAt: Date.now() });
  delivery.deliverOwnPublish(1, 0, events, true, taken, 0, 0); // still held: its answer joins it

  const sent: { event: string; data?: string }[] = [];
  const record = (_s: SocketState, frame: string) => void sent.push(JSON.parse(frame) as { event: string; data?: string });
  const core = { deps: { config }, replay, holds, delivery, send: record, sendChannelFrame: record } as unknown as WsServer;
  const socket = { protocol: 2, app: config.apps[0], channels: new Map(), resumed: false } as unknown as SocketState;
  handleResume(core, socket, { channel_positions: { big: { stream_id: 's1', serial: 1 } } });

  const success = sent.find((f) => f.event === 'sockudo:resume_success');
  assert.ok(success, `resume_success; got ${JSON.stringify(sent)}`);
  const result = JSON.parse(success.data as string) as { recovered: { channel: string; replayed: number }[]; failed: unknown[] };
  assert.deepEqual(result.failed, []);
  assert.deepEqual(result.recovered.map((r) => [r.channel, r.replayed]), [['big', 0]], 'known, and nothing after it to replay');
});
