// V2 `sockudo:presence_update` (SOCKUDO-REFERENCE §2.5 line 245, Sockudo's handler/presence_update.rs): a member's new
// user_info reaches every V2 member of the channel (the sender too) and no V1 member, later snapshots carry it, the
// member_updated webhook goes out; refusals in Sockudo's order and texts; the per-socket, per-channel rate limit;
// and the same across two hosts sharing a real redis-server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient, joinPresence, openV2 } from '../helpers/clients.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { WebhookReceiver } from '../helpers/webhookReceiver.ts';

const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' };
const UPDATE = 'sockudo_internal:presence_update';

/** The broadcast Sockudo sends (messages.rs member_updated): `data` a JSON string with user_id, then user_info. */
function updateText(channel: string, userId: string, userInfo: unknown): string {
  return JSON.stringify({ event: UPDATE, channel, data: JSON.stringify({ user_id: userId, user_info: userInfo }) });
}

function updatesIn(c: RawClient, channel: string): string[] {
  return c.texts.filter((t) => (JSON.parse(t) as Frame).event === UPDATE && (JSON.parse(t) as Frame).channel === channel);
}

/** The next update or error frame after what `c` has now, once `frame` is sent. */
function update(c: RawClient, frame: unknown): Promise<Frame> {
  return c.request(frame, (f) => f.event === UPDATE || f.event.endsWith(':error'));
}

function hashOf(succeeded: Frame): Record<string, unknown> {
  return (JSON.parse(succeeded.data as string) as { presence: { hash: Record<string, unknown> } }).presence.hash;
}

describe('V2 presence_update', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  before(async () => {
    receiver = await new WebhookReceiver(APP).start();
    server = await startTestServer({
      apps: [{ ...APP, webhooks: [{ url: receiver.url, event_types: ['member_updated'] }] }],
      presence: { update_rate_limit_per_member_per_second: 3 },
    });
  });
  after(async () => {
    await server.shutdown();
    await receiver.stop();
  });

  test('every V2 member gets it byte for byte, the sender too, on both workers; V1 members never; later snapshots and member_updated carry the new user_info', async () => {
    const channel = 'presence-update-reach';
    const a = await openV2(server.workerPorts[0]);
    const b = await openV2(server.workerPorts[1]);
    const v1 = await RawClient.open(server.workerPorts[0]);
    for (const [c, id] of [[a, 'a'], [b, 'b'], [v1, 'v1']] as const) assert.match((await joinPresence(c, channel, id)).event, /subscription_succeeded$/);

    // The string form, the only one Sockudo's decoder lets through.
    a.send({ event: 'sockudo:presence_update', data: JSON.stringify({ channel, data: { status: 'thinking' } }) });
    const expected = updateText(channel, 'a', { status: 'thinking' });
    for (const c of [a, b]) {
      await c.next((f) => f.event === UPDATE);
      assert.deepEqual(updatesIn(c, channel), [expected]);
    }

    // A later joiner's snapshot has the new info; the V1 member is told of the joiner (after the update, on the same
    // path) and was never sent the update.
    const joiner = await openV2(server.workerPorts[1]);
    const succeeded = await joinPresence(joiner, channel, 'd');
    assert.deepEqual(hashOf(succeeded).a, { status: 'thinking' });
    await v1.next((f) => f.event === 'pusher_internal:member_added' && (JSON.parse(f.data as string) as { user_id: string }).user_id === 'd');
    assert.deepEqual(updatesIn(v1, channel), []);

    const hook = await eventually(() => receiver.named('member_updated', channel)[0], 'the member_updated webhook');
    assert.deepEqual(hook, { name: 'member_updated', channel, user_id: 'a', user_info: { status: 'thinking' } });
    for (const c of [a, b, v1, joiner]) c.close();
  });

  test('the object form and pusher:presence_update work too; the internal prefixes are ignored without an answer', async () => {
    const channel = 'presence-update-forms';
    const a = await openV2(server.port);
    await joinPresence(a, channel, 'a');
    assert.equal((await update(a, { event: 'pusher:presence_update', data: { channel, data: { n: 1 } } })).data, JSON.stringify({ user_id: 'a', user_info: { n: 1 } }));
    const from = a.frames.length;
    a.send({ event: 'sockudo_internal:presence_update', data: { channel, data: { n: 2 } } });
    a.send({ event: 'pusher_internal:presence_update', data: { channel, data: { n: 3 } } });
    a.send({ event: 'sockudo:presence_update', data: { channel, data: { n: 4 } } });
    const next = await a.next((f) => f.event === UPDATE || f.event.endsWith(':error'), 5000, from);
    assert.equal(next.data, JSON.stringify({ user_id: 'a', user_info: { n: 4 } }));
    a.close();
  });

  test("refusals in Sockudo's order and texts (104009; 40009 past 1024 bytes), the socket stays open", async () => {
    const channel = 'presence-update-refusals';
    const a = await openV2(server.port);
    await joinPresence(a, channel, 'a');
    const cases: [unknown, number, string][] = [
      [undefined, 104009, 'presence_update data is required'],
      ['not json', 104009, 'presence_update data must be a JSON object'],
      [JSON.stringify([channel]), 104009, 'presence_update channel is required'],
      [{ data: {} }, 104009, 'presence_update channel is required'],
      [{ channel: '', data: {} }, 104009, 'presence_update channel is required'],
      [{ channel }, 104009, 'presence_update data field is required'],
      [{ channel: 'private-x', data: {} }, 104009, 'presence_update requires a presence channel'],
      // Checked before membership, as Sockudo does: 1,025 bytes of JSON, and 514 characters that are 1,026 bytes.
      [{ channel: 'presence-elsewhere', data: 'x'.repeat(1023) }, 40009, 'presence_update data exceeds 1024 bytes'],
      [{ channel, data: 'é'.repeat(512) }, 40009, 'presence_update data exceeds 1024 bytes'],
      [{ channel: 'presence-elsewhere', data: {} }, 104009, 'presence_update requires active membership'],
    ];
    for (const [data, code, message] of cases) {
      const answer = await update(a, data === undefined ? { event: 'sockudo:presence_update' } : { event: 'sockudo:presence_update', data });
      assert.equal(answer.event, 'sockudo:error', JSON.stringify(data)?.slice(0, 60));
      assert.deepEqual(answer.data, { code, message });
    }
    // Exactly 1,024 bytes passes.
    const exact = await update(a, { event: 'sockudo:presence_update', data: { channel, data: 'x'.repeat(1022) } });
    assert.equal(exact.event, UPDATE);

    const v1 = await RawClient.open(server.port);
    await joinPresence(v1, channel, 'v1');
    const refused = await update(v1, { event: 'pusher:presence_update', data: { channel, data: {} } });
    assert.deepEqual(refused, { event: 'pusher:error', data: { code: 104009, message: 'presence_update requires protocol V2' } });
    assert.equal(a.closeCode, null);
    assert.equal(v1.closeCode, null);
    a.close();
    v1.close();
  });

  test('a socket may update a channel update_rate_limit_per_member_per_second times in a second (4301 past it); each channel has its own window', async () => {
    const a = await openV2(server.port);
    await joinPresence(a, 'presence-rate-1', 'a');
    await joinPresence(a, 'presence-rate-2', 'a');
    const from = a.frames.length;
    for (let n = 1; n <= 4; n++) a.send({ event: 'sockudo:presence_update', data: { channel: 'presence-rate-1', data: { n } } });
    await a.next((f) => f.event === 'sockudo:error', 5000, from);
    await eventually(() => a.frames.slice(from).filter((f) => f.event === UPDATE).length === 3, 'three updates');
    assert.deepEqual(
      a.frames.slice(from).filter((f) => f.event === 'sockudo:error').map((f) => f.data),
      [{ code: 4301, message: 'Client event rejected due to rate limit' }],
    );
    assert.equal((await update(a, { event: 'sockudo:presence_update', data: { channel: 'presence-rate-2', data: { other: true } } })).event, UPDATE);
    // The window lasts a second from its first update: then the channel takes updates again.
    await eventually(async () => (await update(a, { event: 'sockudo:presence_update', data: { channel: 'presence-rate-1', data: { n: 5 } } })).event === UPDATE, 'the next window', 3000);
    a.close();
  });
});

describe('V2 presence_update across hosts', () => {
  let redis: RedisProcess;
  let hosts: TestServer[];
  let receiver: WebhookReceiver;
  before(async () => {
    redis = await startRedis();
    receiver = await new WebhookReceiver(APP).start();
    const apps = [{ ...APP, webhooks: [{ url: receiver.url, event_types: ['member_updated'] }] }];
    hosts = await Promise.all([0, 1].map(() => startTestServer({ apps, redis: { url: redis.url, key_prefix: `pu${process.pid}:` } })));
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.shutdown()));
    await receiver.stop();
    await redis.stop();
  });

  test('a member on one host updates: the V2 member on the other host gets it, a joiner there sees the new info, one webhook', async () => {
    const channel = 'presence-update-hosts';
    const a = await openV2(hosts[0].port);
    const b = await openV2(hosts[1].port);
    await joinPresence(a, channel, 'a');
    await joinPresence(b, channel, 'b');
    a.send({ event: 'sockudo:presence_update', data: { channel, data: { mood: 'busy' } } });
    await b.next((f) => f.event === UPDATE);
    assert.deepEqual(updatesIn(b, channel), [updateText(channel, 'a', { mood: 'busy' })]);
    await a.next((f) => f.event === UPDATE);

    const joiner = await openV2(hosts[1].port);
    assert.deepEqual(hashOf(await joinPresence(joiner, channel, 'c')).a, { mood: 'busy' });
    // Sent by the host that took the update only: a copy from the other host would come before that host's own next one.
    b.send({ event: 'sockudo:presence_update', data: { channel, data: { mood: 'away' } } });
    await eventually(() => receiver.named('member_updated', channel).some((e) => e.user_id === 'a') && receiver.named('member_updated', channel).some((e) => e.user_id === 'b'), 'both webhooks');
    assert.deepEqual(
      receiver.named('member_updated', channel).map((e) => [e.user_id, e.user_info]).sort(),
      [['a', { mood: 'busy' }], ['b', { mood: 'away' }]],
    );
    for (const c of [a, b, joiner]) c.close();
  });
});
