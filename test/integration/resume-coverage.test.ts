// Resume and serial behaviour that matches SOCKUDO-REFERENCE §3.3/§3.5 and no other test pins down: several channels
// with one failing, and client events sharing the channel serials with HTTP publishes across threads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const isEvent = (name: string, channel?: string) => (f: Frame) => f.event === name && (channel === undefined || f.channel === channel);
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('resume coverage', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  // §3.5 step 6: per failed channel a `resume_failed` (channel set, data a JSON string) before the single
  // `resume_success` (no channel, data a JSON string with recovered[] and failed[]); both are direct frames with a
  // uuid4 message_id (§3.3 rule 1). The recovered channel's missed messages come before resume_success.
  test('several channels, one recovered and one failed: replay, resume_failed, then one resume_success listing both', async () => {
    const ok = 'rr2p-ok';
    const c = await openV2(server.workerPorts[0]);
    const ack = await c.request({ event: 'sockudo:subscribe', data: { channel: ok } }, isEvent('sockudo_internal:subscription_succeeded', ok));
    await serverSdk(server.workerPorts[0]).post({ path: '/events', body: { channels: [ok], name: 'm1', data: 'x' } as unknown as string });
    const m1 = await c.next(isEvent('m1', ok));
    const from = c.frames.length;
    c.send({ event: 'sockudo:resume', data: JSON.stringify({ channel_positions: { [ok]: { stream_id: ack.stream_id, serial: 0 }, 'rr2p-bad': { stream_id: 'gone', serial: 3 } } }) });
    await c.next(isEvent('sockudo:resume_success'), 5000, from);
    const got = c.frames.slice(from);
    // Channels are handled one after another in no set order (Sockudo iterates a HashMap): only resume_success is last.
    assert.deepEqual(
      got.map((f) => `${f.event} ${f.channel}`).sort(),
      [`m1 ${ok}`, 'sockudo:resume_failed rr2p-bad', 'sockudo:resume_success undefined'],
    );
    assert.equal(got[2].event, 'sockudo:resume_success');
    assert.equal(got.find((f) => f.event === 'm1')?.message_id, m1.message_id, 'a replay is the original frame');
    for (const f of got.filter((x) => x.event.startsWith('sockudo:'))) {
      assert.equal(typeof f.data, 'string');
      assert.match(String(f.message_id), UUID_V4);
    }
    const success = JSON.parse(got[2].data as string);
    assert.deepEqual(success.recovered, [{ channel: ok, source: 'hot', replayed: 1, position: { stream_id: ack.stream_id, serial: 1, last_message_id: m1.message_id } }]);
    assert.deepEqual(success.failed.map((x: { channel: string; code: string }) => [x.channel, x.code]), [['rr2p-bad', 'position_expired']]);
    c.close();
  });

  // §3.3 rule 2: client events are channel publishes: they take the channel's next serial, between HTTP publishes,
  // whichever protocol and thread sent them; the V2 sender's echo carries the same message_id and serial; they are
  // kept for resume. Their extras are not delivered (Sockudo builds client events with `extras: None`).
  test('client events (V1 and V2 senders, two threads) share the channel serials with HTTP publishes and are replayed', async () => {
    const ch = 'private-rr2p';
    const sdk = serverSdk(server.workerPorts[0]);
    const auth = (c: RawClient) => sdk.authorizeChannel(c.socketId, ch).auth;
    const v2 = await openV2(server.workerPorts[0]);
    const v1 = await RawClient.open(server.workerPorts[1]);
    const ack = await v2.request({ event: 'sockudo:subscribe', data: { channel: ch, auth: auth(v2) } }, isEvent('sockudo_internal:subscription_succeeded', ch));
    await v1.request({ event: 'pusher:subscribe', data: { channel: ch, auth: auth(v1) } }, isEvent('pusher_internal:subscription_succeeded', ch));
    await sdk.post({ path: '/events', body: { channels: [ch], name: 'h1', data: '{}' } as unknown as string });
    await v2.next(isEvent('h1', ch));
    v1.send({ event: 'client-from-v1', channel: ch, data: { a: 1 } });
    await v2.next(isEvent('client-from-v1', ch));
    v2.send({ event: 'client-from-v2', channel: ch, data: { b: 2 }, extras: { headers: { h: 'x' } } });
    await v2.next(isEvent('client-from-v2', ch));
    await sdk.post({ path: '/events', body: { channels: [ch], name: 'h2', data: '{}' } as unknown as string });
    await v2.next(isEvent('h2', ch));
    const live = v2.frames.filter((f) => f.channel === ch && !f.event.includes(':'));
    assert.deepEqual(live.map((f) => [f.event, f.serial, f.stream_id]), [
      ['h1', 1, ack.stream_id],
      ['client-from-v1', 2, ack.stream_id],
      ['client-from-v2', 3, ack.stream_id],
      ['h2', 4, ack.stream_id],
    ]);
    assert.equal(live[2].extras, undefined, 'client event extras are not delivered');
    for (const f of live) assert.match(String(f.message_id), UUID_V4);
    await v1.next(isEvent('h2', ch)); // worker 1 has had h2 (and so recorded it) too
    const again = await openV2(server.workerPorts[1]);
    await again.request({ event: 'sockudo:subscribe', data: { channel: ch, auth: auth(again) } }, isEvent('sockudo_internal:subscription_succeeded', ch));
    const from = again.frames.length;
    again.send({ event: 'sockudo:resume', data: { channel_positions: { [ch]: { stream_id: ack.stream_id, serial: 1 } } } });
    await again.next(isEvent('sockudo:resume_success'), 5000, from);
    const replayed = again.frames.slice(from).filter((f) => f.channel === ch);
    assert.deepEqual(replayed.map((f) => [f.event, f.serial, f.message_id]), live.slice(1).map((f) => [f.event, f.serial, f.message_id]));
    for (const c of [v2, v1, again]) c.close();
  });
});
