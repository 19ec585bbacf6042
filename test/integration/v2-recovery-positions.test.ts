// Protocol V2 recovery positions as Sockudo gives them (SOCKUDO-REFERENCE §3.5): a subscription to a channel with
// no message yet carries a position (serial 0) that later subscribers on every worker and host share and a resume is
// served from; the legacy channel_serials form is served from the hot buffer; a position ahead is position_expired.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const isEvent = (name: string, channel?: string) => (f: Frame) => f.event === name && (channel === undefined || f.channel === channel);

async function sub(c: RawClient, data: Record<string, unknown>): Promise<Frame> {
  return c.request({ event: 'sockudo:subscribe', data }, (f) => (f.event.endsWith('subscription_succeeded') && f.channel === data.channel) || f.event.endsWith(':error'));
}

describe('V2 recovery positions, one worker', () => {
  let server: TestServer;
  let publish: (channel: string, name: string) => Promise<unknown>;
  before(async () => {
    // Recovery is on by default; one worker so every publish and resume sees the same replay mirror.
    server = await startTestServer({ workers: 1 });
    const http = serverSdk(server.port);
    publish = (channel, name) => http.post({ path: '/events', body: { channels: [channel], name, data: '{}' } as unknown as string });
  });
  after(() => server.shutdown());

  // SOCKUDO-REFERENCE lines 334-338: "Subscription ack on V2 with recovery enabled carries the current position"
  // {"event":"sockudo_internal:subscription_succeeded",...,"stream_id":"5f0c…","serial":0} — also for a channel
  // nothing was published on yet (replay_buffer.rs current_position creates the stream). Line 313: sockudo-js
  // records its position from that frame, and line 351: a resume from it replays serial+1..newest. Without a
  // position in the ack, a client that subscribes to a quiet channel and drops before the first message has
  // nothing to resume from, and loses whatever is published while it is away.
  test('the ack of a subscription to a channel with no messages yet carries a stream_id and serial 0, and a resume from it recovers', async () => {
    const ch = 'fresh-channel';
    const first = await openV2(server.port);
    const ack = await sub(first, { channel: ch });
    first.terminate();
    await first.closed();
    assert.equal(typeof ack.stream_id, 'string', `subscription_succeeded must carry stream_id; got ${JSON.stringify(ack)}`);
    assert.equal(ack.serial, 0);
    await publish(ch, 'missed-1');
    await publish(ch, 'missed-2');
    const again = await openV2(server.port);
    await sub(again, { channel: ch });
    const from = again.frames.length;
    again.send({ event: 'sockudo:resume', data: { channel_positions: { [ch]: { stream_id: ack.stream_id, serial: 0 } } } });
    const done = await again.next(isEvent('sockudo:resume_success'), 5000, from);
    const result = JSON.parse(done.data as string) as { recovered: { replayed: number }[]; failed: unknown[] };
    assert.deepEqual(result.failed, []);
    assert.equal(result.recovered[0]?.replayed, 2);
    again.close();
  });

  // SOCKUDO-REFERENCE line 346: the legacy form {"channel_serials":{"orders":41}} "is accepted for the hot path
  // only"; lines 351-352: the hot lookup runs first and only a legacy position the hot buffer cannot serve fails
  // with continuity_unverifiable (recovery.rs: legacy_serial_only is checked after get_messages_after_position).
  test('a legacy channel_serials position that the hot buffer holds is recovered', async () => {
    const ch = 'legacy-serials';
    const watcher = await openV2(server.port);
    await sub(watcher, { channel: ch });
    for (const n of [1, 2, 3]) await publish(ch, `l${n}`);
    await watcher.next(isEvent('l3', ch));
    const again = await openV2(server.port);
    await sub(again, { channel: ch });
    const from = again.frames.length;
    again.send({ event: 'sockudo:resume', data: JSON.stringify({ channel_serials: { [ch]: 1 } }) });
    const done = await again.next(isEvent('sockudo:resume_success'), 5000, from);
    const result = JSON.parse(done.data as string) as { recovered: { channel: string; replayed: number }[]; failed: unknown[] };
    assert.deepEqual(result.failed, [], 'the hot buffer holds serials 2 and 3');
    assert.equal(result.recovered[0]?.replayed, 2);
    assert.deepEqual(
      again.frames.slice(from).filter((f) => f.channel === ch && !f.event.includes(':')).map((f) => f.event),
      ['l2', 'l3'],
    );
    watcher.close();
    again.close();
  });

  // SOCKUDO-REFERENCE line 351: on the hot lookup only a stream_id mismatch fails as stream_reset; "expired/ahead/gap
  // ⇒ fall through", and line 353: with durable history disabled the fall-through fails as position_expired
  // (reason hot_replay_expired_and_durable_history_disabled). A serial ahead of the stream on the right stream_id is
  // therefore position_expired, not stream_reset.
  test('a position ahead of the stream on the current stream_id fails as position_expired, not stream_reset', async () => {
    const ch = 'ahead';
    const watcher = await openV2(server.port);
    await sub(watcher, { channel: ch });
    await publish(ch, 'a1');
    const a1 = await watcher.next(isEvent('a1', ch));
    const again = await openV2(server.port);
    await sub(again, { channel: ch });
    const from = again.frames.length;
    again.send({ event: 'sockudo:resume', data: { channel_positions: { [ch]: { stream_id: a1.stream_id, serial: 50 } } } });
    const failed = await again.next(isEvent('sockudo:resume_failed', ch), 5000, from);
    const detail = JSON.parse(failed.data as string) as { code: string; reason: string };
    assert.equal(detail.code, 'position_expired', `got ${failed.data}`);
    watcher.close();
    again.close();
  });
});

/** The position a new V2 socket on `port` is given for `channel`. */
async function ackPosition(port: number, channel: string): Promise<{ streamId: unknown; serial: unknown }> {
  const c = await openV2(port);
  const ack = await sub(c, { channel });
  c.close();
  return { streamId: ack.stream_id, serial: ack.serial };
}

describe('V2 recovery positions on a quiet channel, two workers', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ workers: 2 });
  });
  after(() => server.shutdown());

  test('subscribers on the other worker are given the stream the first subscriber opened, and messages continue it', async () => {
    const ch = 'quiet-two-workers';
    const first = await openV2(server.workerPorts[0]);
    const ack = await sub(first, { channel: ch });
    assert.equal(ack.serial, 0);
    // The primary hands the opened stream to every worker (Publisher.streamOpened).
    await eventually(async () => (await ackPosition(server.workerPorts[1], ch)).streamId === ack.stream_id, 'worker 2 gives the same stream');
    await serverSdk(server.port).post({ path: '/events', body: { channels: [ch], name: 'after', data: '{}' } as unknown as string });
    const got = await first.next(isEvent('after', ch));
    assert.equal(got.stream_id, ack.stream_id);
    assert.equal(got.serial, 1);
    first.close();
  });
});

describe('V2 recovery positions on a quiet channel, several hosts', () => {
  let redis: RedisProcess;
  let hosts: TestServer[];
  before(async () => {
    redis = await startRedis();
    hosts = await Promise.all([0, 1].map(() => startTestServer({ redis: { url: redis.url, key_prefix: `q${process.pid}:` } })));
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.shutdown()));
    await redis.stop();
  });

  test('the stream opened on one host is the cluster stream: the other host gives it to its subscribers and numbers from it', async () => {
    const ch = 'quiet-cluster';
    const first = await openV2(hosts[0].port);
    const ack = await sub(first, { channel: ch });
    assert.equal(ack.serial, 0);
    await eventually(async () => (await ackPosition(hosts[1].port, ch)).streamId === ack.stream_id, 'host 2 gives the same stream');
    await serverSdk(hosts[1].port).post({ path: '/events', body: { channels: [ch], name: 'after', data: '{}' } as unknown as string });
    const got = await first.next(isEvent('after', ch));
    assert.equal(got.stream_id, ack.stream_id);
    assert.equal(got.serial, 1);
    first.close();
  });
});
