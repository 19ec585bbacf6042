// Several hosts and a Redis outage. A Redis restart (without persistence, so it comes back empty) loses no
// presence member: each host puts its share back from what it holds when its link is healthy again, so members
// still connected stay members, their leaves announce member_removed, and new joiners see everyone
// (SOCKUDO-REFERENCE.md §10 l.846). While Redis is down, channel queries answer this host's counts marked partial
// (§10 l.844) and the presence users list is a coded 503 (§5.1 l.543), never a 500 or a hang.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { RawClient, joinPresence, serverSdk } from '../helpers/clients.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });


const healthy = async (h: TestServer) => (await (await fetch(`http://127.0.0.1:${h.port}/up`)).text()) === 'OK';

async function get(port: number, path: string, params: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await serverSdk(port).get({ path, params }).catch((e: { status: number; body: string }) => e);
  const text = 'text' in r && typeof r.text === 'function' ? await (r as unknown as Response).text() : (r as { body: string }).body;
  return { status: (r as { status: number }).status, body: JSON.parse(text) as Record<string, unknown> };
}

describe('presence across a Redis restart', () => {
  let redis: RedisProcess;
  let hosts: TestServer[];
  before(async () => {
    redis = await startRedis();
    hosts = await Promise.all([0, 1].map(() => startTestServer({ redis: { url: redis.url, key_prefix: `rr${process.pid}:` } })));
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.shutdown()));
    await redis.stop();
  });

  async function restartRedis(): Promise<void> {
    await redis.restart();
    for (const h of hosts) await eventually(() => healthy(h), 'host healthy again', 10000);
    // A publish through Redis that reaches both hosts proves the cluster is whole again.
    await eventually(async () => (await serverSdk(hosts[0].port).trigger('fence-ch', 'f', 'x').catch(() => null))?.status === 200, 'publishing through Redis', 10000);
  }

  test('GET /channels/{presence}/users still lists members that joined before the restart (ref l.246, l.517, l.846)', async () => {
    const ch = 'presence-restart-users';
    const a = await RawClient.open(hosts[0].port);
    const b = await RawClient.open(hosts[1].port);
    await joinPresence(a, ch, 'ua');
    await joinPresence(b, ch, 'ub');
    const users = async () => ((await (await serverSdk(hosts[0].port).get({ path: `/channels/${ch}/users` })).json()) as { users: { id: string }[] }).users.map((u) => u.id).sort();
    assert.deepEqual(await users(), ['ua', 'ub']);
    await restartRedis();
    // Both sockets are still connected and subscribed.
    assert.equal(a.closeCode, null);
    assert.equal(b.closeCode, null);
    assert.deepEqual(await users(), ['ua', 'ub'], 'the members that are still connected are still members');
    const info = (await (await serverSdk(hosts[1].port).get({ path: `/channels/${ch}`, params: { info: 'user_count' } })).json()) as Record<string, unknown>;
    assert.equal(info.user_count, 2);
    a.close();
    b.close();
  });

  test('a member that joined before the restart and leaves after it: the others get member_removed (ref l.244)', async () => {
    const ch = 'presence-restart-leave';
    const watcher = await RawClient.open(hosts[0].port);
    await joinPresence(watcher, ch, 'watcher');
    const leaver = await RawClient.open(hosts[1].port);
    await joinPresence(leaver, ch, 'leaver');
    await watcher.next((f) => f.event === 'pusher_internal:member_added');
    await restartRedis();
    leaver.close();
    const removed = await watcher.next((f) => f.event === 'pusher_internal:member_removed', 5000);
    assert.deepEqual(JSON.parse(removed.data as string), { user_id: 'leaver' });
    watcher.close();
  });

  test('a member that left while Redis was down: the others get member_removed once Redis is back', async () => {
    const ch = 'presence-left-during-outage';
    const watcher = await RawClient.open(hosts[0].port);
    await joinPresence(watcher, ch, 'watcher');
    const leaver = await RawClient.open(hosts[1].port);
    await joinPresence(leaver, ch, 'gone-meanwhile');
    await watcher.next((f) => f.event === 'pusher_internal:member_added');
    await redis.stop();
    await eventually(async () => (await (await fetch(`http://127.0.0.1:${hosts[1].port}/up`)).text()) === 'DEGRADED', '/up DEGRADED');
    leaver.close();
    // Host 1 has taken the close (its own count, marked incomplete while Redis is down).
    const count = async () => ((await (await serverSdk(hosts[1].port).get({ path: `/channels/${ch}`, params: { info: 'subscription_count' } })).json()) as { subscription_count: number }).subscription_count;
    await eventually(async () => (await count()) === 0, 'the close taken on host 1');
    await restartRedis();
    const removed = await watcher.next((f) => f.event === 'pusher_internal:member_removed', 5000);
    assert.deepEqual(JSON.parse(removed.data as string), { user_id: 'gone-meanwhile' });
    const users = (await (await serverSdk(hosts[0].port).get({ path: `/channels/${ch}/users` })).json()) as { users: { id: string }[] };
    assert.deepEqual(users.users.map((u) => u.id), ['watcher']);
    watcher.close();
  });

  test('a second tab of a member who joined before the restart is not announced again as member_added (ref l.237)', async () => {
    const ch = 'presence-restart-tab';
    const watcher = await RawClient.open(hosts[0].port);
    await joinPresence(watcher, ch, 'watcher');
    const tab1 = await RawClient.open(hosts[1].port);
    await joinPresence(tab1, ch, 'tabbed');
    await watcher.next((f) => f.event === 'pusher_internal:member_added');
    await restartRedis();
    const tab2 = await RawClient.open(hosts[0].port);
    const ok = await joinPresence(tab2, ch, 'tabbed');
    // The new tab's member list must include everyone connected.
    assert.deepEqual(JSON.parse(ok.data as string).presence.ids.sort(), ['tabbed', 'watcher']);
    await serverSdk(hosts[1].port).trigger(ch, 'fence', 'x');
    await watcher.next((f) => f.event === 'fence');
    assert.equal(watcher.frames.filter((f) => f.event === 'pusher_internal:member_added').length, 1, 'the user was already a member');
    for (const c of [watcher, tab1, tab2]) c.close();
  });
});

describe('channel queries while Redis is down', () => {
  let redis: RedisProcess;
  let hosts: TestServer[];
  let c: RawClient;
  before(async () => {
    redis = await startRedis();
    hosts = await Promise.all([0, 1].map(() => startTestServer({ redis: { url: redis.url, key_prefix: `rd${process.pid}:` } })));
    c = await RawClient.open(hosts[0].port);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'down-ch' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const data = { user_id: 'u-down' };
    const { auth } = sdk.authorizeChannel(c.socketId, 'presence-down', data);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'presence-down', auth, channel_data: JSON.stringify(data) } }, (f) => f.event.endsWith('subscription_succeeded'));
    await redis.stop();
    await eventually(async () => (await (await fetch(`http://127.0.0.1:${hosts[0].port}/up`)).text()) === 'DEGRADED', '/up DEGRADED');
  });
  after(async () => {
    c.close();
    await Promise.all(hosts.map((h) => h.shutdown()));
    await redis.stop();
  });

  test('GET /channels/{name}?info=subscription_count answers this host\'s count marked incomplete (ref l.516, l.844)', async () => {
    const r = await get(hosts[0].port, '/channels/down-ch', { info: 'subscription_count' });
    assert.deepEqual(r, { status: 200, body: { occupied: true, subscription_count: 1, subscription_count_complete: false } });
  });

  test('GET /channels answers this host\'s channels marked partial (ref l.515, l.844)', async () => {
    const r = await get(hosts[0].port, '/channels', { info: 'subscription_count' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.partial, true);
    assert.deepEqual((r.body.channels as Record<string, unknown>)['down-ch'], { subscription_count: 1 });
  });

  test('GET /channels/{presence}/users is a coded 503, not a 500 internal_error (ref l.517, §5.1 l.543)', async () => {
    const r = await get(hosts[0].port, '/channels/presence-down/users');
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.code, 'service_unavailable');
  });
});
