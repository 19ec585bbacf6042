// Resume failures as Sockudo reports them (SOCKUDO-REFERENCE §3.5 steps 3–5): what the hot buffer cannot serve
// (evicted, no buffer, expired, ahead) falls through to durable history, which is off: position_expired /
// hot_replay_expired_and_durable_history_disabled with no stream or serials; stream_reset names the current stream
// only; a legacy channel_serials position fails continuity_unverifiable; a position without stream_id is not legacy.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, type RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const isEvent = (name: string, channel?: string) => (f: Frame) => f.event === name && (channel === undefined || f.channel === channel);
async function sub(c: RawClient, data: Record<string, unknown>): Promise<Frame> {
  return c.request({ event: 'sockudo:subscribe', data }, (f) => (f.event.endsWith('subscription_succeeded') && f.channel === data.channel) || f.event.endsWith(':error'));
}
/** Sends a resume, waits for resume_success, returns the frames since, and the parsed resume_success data. */
async function resume(c: RawClient, data: unknown): Promise<{ frames: Frame[]; success: { recovered: Record<string, unknown>[]; failed: Record<string, unknown>[] } }> {
  const from = c.frames.length;
  c.send({ event: 'sockudo:resume', data });
  const s = await c.next(isEvent('sockudo:resume_success'), 5000, from);
  return { frames: c.frames.slice(from), success: JSON.parse(s.data as string) };
}
const failedFrame = (frames: Frame[], channel: string) => {
  const f = frames.find((x) => x.event === 'sockudo:resume_failed' && x.channel === channel);
  assert.ok(f, `a resume_failed for ${channel}: ${JSON.stringify(frames)}`);
  return JSON.parse(f.data as string) as Record<string, unknown>;
};
const expiredNoHistory = (expected: string | null) => ({
  code: 'position_expired',
  reason: 'hot_replay_expired_and_durable_history_disabled',
  expected_stream_id: expected,
  current_stream_id: null,
  oldest_available_serial: null,
  newest_available_serial: null,
});

describe('resume failures', () => {
  let server: TestServer;
  let publish: (channel: string, name: string) => Promise<unknown>;
  before(async () => {
    server = await startTestServer({ connection_recovery: { enabled: true, buffer_ttl_seconds: 120, max_buffer_size: 3 } });
    const http = serverSdk(server.workerPorts[0]);
    publish = (channel, name) => http.post({ path: '/events', body: { channels: [channel], name, data: '{}' } as unknown as string });
  });
  after(() => server.shutdown());

  /** Publishes m1..mN to `ch`; resolves once worker 0 has recorded them (a V2 watcher there got mN). */
  async function seed(ch: string, n: number): Promise<{ watcher: RawClient; streamId: string }> {
    const watcher = await openV2(server.workerPorts[0]);
    await sub(watcher, { channel: ch });
    for (let i = 1; i <= n; i++) await publish(ch, `m${i}`);
    const last = await watcher.next(isEvent(`m${n}`, ch));
    return { watcher, streamId: last.stream_id as string };
  }

  test('a position evicted from the buffer (max_buffer_size) fails position_expired / hot_replay_expired_and_durable_history_disabled, other fields null', async () => {
    const ch = 'rr2-evicted';
    const { watcher, streamId } = await seed(ch, 5); // the buffer keeps serials 3..5
    const c = await openV2(server.workerPorts[0]);
    await sub(c, { channel: ch });
    const { frames, success } = await resume(c, { channel_positions: { [ch]: { stream_id: streamId, serial: 1 } } });
    assert.deepEqual(failedFrame(frames, ch), expiredNoHistory(streamId));
    assert.deepEqual(success.failed, [{ channel: ch, ...expiredNoHistory(streamId) }]);
    c.close();
    watcher.close();
  });

  test('a position on a channel with no buffer at all fails position_expired / hot_replay_expired_and_durable_history_disabled', async () => {
    const c = await openV2(server.workerPorts[0]);
    const { frames } = await resume(c, { channel_positions: { 'rr2-never-published': { stream_id: 'some-stream', serial: 4 } } });
    assert.deepEqual(failedFrame(frames, 'rr2-never-published'), expiredNoHistory('some-stream'));
    c.close();
  });

  test('stream_reset names the current stream but carries null oldest/newest serials', async () => {
    const ch = 'rr2-reset';
    const { watcher, streamId } = await seed(ch, 2);
    const c = await openV2(server.workerPorts[0]);
    await sub(c, { channel: ch });
    const { frames } = await resume(c, { channel_positions: { [ch]: { stream_id: 'another-stream', serial: 1 } } });
    assert.deepEqual(failedFrame(frames, ch), {
      code: 'stream_reset',
      reason: 'stream_id_mismatch',
      expected_stream_id: 'another-stream',
      current_stream_id: streamId,
      oldest_available_serial: null,
      newest_available_serial: null,
    });
    c.close();
    watcher.close();
  });

  test('a legacy channel_serials position the buffer cannot serve fails continuity_unverifiable with every other field null', async () => {
    const ch = 'rr2-legacy';
    const { watcher } = await seed(ch, 5);
    const c = await openV2(server.workerPorts[0]);
    await sub(c, { channel: ch });
    const { frames } = await resume(c, { channel_serials: { [ch]: 1 } });
    assert.deepEqual(failedFrame(frames, ch), {
      code: 'continuity_unverifiable',
      reason: 'legacy_serial_only_position_cannot_use_cold_recovery',
      expected_stream_id: null,
      current_stream_id: null,
      oldest_available_serial: null,
      newest_available_serial: null,
    });
    c.close();
    watcher.close();
  });

  test('a channel_positions entry without stream_id is not a legacy position: expired, it fails position_expired', async () => {
    const ch = 'rr2-nostream';
    const { watcher } = await seed(ch, 5);
    const c = await openV2(server.workerPorts[0]);
    await sub(c, { channel: ch });
    const { frames } = await resume(c, { channel_positions: { [ch]: { serial: 1 } } });
    assert.deepEqual(failedFrame(frames, ch), expiredNoHistory(null));
    c.close();
    watcher.close();
  });

});

describe('buffer_ttl_seconds expiry', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ connection_recovery: { enabled: true, buffer_ttl_seconds: 1, max_buffer_size: 100 } });
  });
  after(() => server.shutdown());

  test('messages older than buffer_ttl_seconds: the position fails position_expired / hot_replay_expired_and_durable_history_disabled', async () => {
    const ch = 'rr2-ttl';
    const watcher = await openV2(server.workerPorts[0]);
    await sub(watcher, { channel: ch });
    await serverSdk(server.workerPorts[0]).post({ path: '/events', body: { channels: [ch], name: 'm1', data: '{}' } as unknown as string });
    await serverSdk(server.workerPorts[0]).post({ path: '/events', body: { channels: [ch], name: 'm2', data: '{}' } as unknown as string });
    const m1 = await watcher.next(isEvent('m1', ch));
    await watcher.next(isEvent('m2', ch));
    const received = Date.now();
    watcher.close();
    // The buffer keeps messages for buffer_ttl_seconds (1 s here): past it, with a margin, they are gone.
    await eventually(() => Date.now() - received > 1500, 'the buffer TTL has passed', 5000);
    // Resumed without subscribing first (a fresh subscribe would open a new stream): the buffered frames are gone.
    const c = await openV2(server.workerPorts[0]);
    const { frames } = await resume(c, { channel_positions: { [ch]: { stream_id: m1.stream_id, serial: 1 } } });
    assert.deepEqual(failedFrame(frames, ch), expiredNoHistory(m1.stream_id as string));
    c.close();
  });
});
