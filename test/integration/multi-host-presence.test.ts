// Cluster-wide presence, counts and webhooks over a real redis-server, and a host killed with SIGKILL:
// its members are removed exactly once by a survivor within 15 s, and queries stop counting it.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import Pusher from 'pusher';
import { RawClient, joinPresence, serverSdk } from '../helpers/clients.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { WebhookReceiver } from '../helpers/webhookReceiver.ts';
import { serverStartArgs } from '../../bench/startCommand.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const app = { id: 'app-id', key: 'app-key', secret: 'app-secret' };
const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });


describe('presence and counts across hosts', () => {
  let redis: RedisProcess;
  let hosts: TestServer[];
  let receiver: WebhookReceiver;
  const prefix = `p${process.pid}:`;
  before(async () => {
    redis = await startRedis();
    receiver = await new WebhookReceiver(app).start();
    const apps = [{ ...app, features: { enable_client_messages: true }, webhooks: [{ url: receiver.url, event_types: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }] }];
    hosts = await Promise.all([0, 1].map(() => startTestServer({ apps, redis: { url: redis.url, key_prefix: prefix } })));
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.shutdown()));
    await receiver.stop();
    await redis.stop();
  });

  test('two tabs of one user on two hosts: one member_added, one member_removed, one occupied, one vacated', async () => {
    const watcher = await RawClient.open(hosts[0].port);
    await joinPresence(watcher, 'presence-x', 'watcher');
    const tab1 = await RawClient.open(hosts[0].port);
    const tab2 = await RawClient.open(hosts[1].port);
    const ok = await joinPresence(tab1, 'presence-x', 'u1');
    await joinPresence(tab2, 'presence-x', 'u1');
    const snapshot = JSON.parse((await joinPresence(tab2, 'presence-x', 'u1')).data as string);
    assert.deepEqual(snapshot.presence.ids.sort(), ['u1', 'watcher'], 'the member list is cluster-wide');
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
    await serverSdk(hosts[1].port).trigger('presence-x', 'fence1', 'x');
    await watcher.next((f) => f.event === 'fence1');
    assert.equal(watcher.frames.filter((f) => f.event === 'pusher_internal:member_added').length, 1);
    // Users and counts over both hosts.
    const users = (await (await serverSdk(hosts[1].port).get({ path: '/channels/presence-x/users' })).json()) as { users: { id: string }[] };
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['u1', 'watcher']);
    const info = (await (await serverSdk(hosts[0].port).get({ path: '/channels/presence-x', params: { info: 'subscription_count,user_count' } })).json()) as Record<string, unknown>;
    assert.deepEqual(info, { occupied: true, subscription_count: 3, user_count: 2 });
    const list = (await (await serverSdk(hosts[1].port).get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count,subscription_count' } })).json()) as Record<string, unknown>;
    assert.deepEqual(list, { channels: { 'presence-x': { subscription_count: 3, user_count: 2 } } });

    tab1.close();
    // The close and the fence travel on different connections: wait until the server has taken the close.
    const count = async () =>
      ((await (await serverSdk(hosts[0].port).get({ path: '/channels/presence-x', params: { info: 'subscription_count' } })).json()) as { subscription_count: number }).subscription_count;
    await eventually(async () => (await count()) === 2, 'tab 1 closed on its host');
    await serverSdk(hosts[0].port).trigger('presence-x', 'fence2', 'x');
    await watcher.next((f) => f.event === 'fence2');
    assert.equal(watcher.frames.filter((f) => f.event === 'pusher_internal:member_removed').length, 0, 'u1 still has a tab');
    tab2.close();
    await watcher.next((f) => f.event === 'pusher_internal:member_removed');
    await serverSdk(hosts[0].port).trigger('presence-x', 'fence3', 'x');
    await watcher.next((f) => f.event === 'fence3');
    assert.equal(watcher.frames.filter((f) => f.event === 'pusher_internal:member_removed').length, 1);
    watcher.close();
    // Webhooks come from different hosts' senders, each batching for 50 ms: wait for all of them.
    const u1 = (name: string) => receiver.named(name, 'presence-x').filter((e) => e.user_id === 'u1').length;
    await eventually(() => receiver.named('channel_vacated', 'presence-x').length === 1 && u1('member_removed') === 1, 'vacated and member_removed webhooks');
    assert.equal(receiver.named('channel_occupied', 'presence-x').length, 1, 'occupied once cluster-wide');
    assert.equal(receiver.named('member_added', 'presence-x').filter((e) => e.user_id === 'u1').length, 1);
    assert.equal(receiver.named('member_removed', 'presence-x').filter((e) => e.user_id === 'u1').length, 1);
  });

  test('leave and join again before the join is answered: the socket counts once in Redis, and its close leaves nobody', async () => {
    const ch = 'presence-rejoin';
    const users = async () => ((await (await serverSdk(hosts[1].port).get({ path: `/channels/${ch}/users` })).json()) as { users: { id: string }[] }).users.map((u) => u.id);
    const c = await RawClient.open(hosts[0].port);
    const data = { user_id: 'again' };
    const { auth } = sdk.authorizeChannel(c.socketId, ch, data);
    const subscribe = { event: 'pusher:subscribe', data: { channel: ch, auth, channel_data: JSON.stringify(data) } };
    // Three frames in a row, as a client leaving and re-entering a page does: one join reaches Redis, not two.
    c.send(subscribe);
    c.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
    c.send(subscribe);
    await c.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    assert.deepEqual(await users(), ['again']);
    c.close();
    await eventually(async () => (await users()).length === 0, 'the member gone cluster-wide after the close');
  });

  test('a member that subscribes, unsubscribes and subscribes again in one burst is still a member cluster-wide', async () => {
    const ch = 'presence-member-burst';
    const users = async () => ((await (await serverSdk(hosts[1].port).get({ path: `/channels/${ch}/users` })).json()) as { users: { id: string }[] }).users.map((u) => u.id);
    const c = await RawClient.open(hosts[0].port);
    assert.equal((await joinPresence(c, ch, 'member')).event, 'pusher_internal:subscription_succeeded');
    const data = { user_id: 'member' };
    const { auth } = sdk.authorizeChannel(c.socketId, ch, data);
    const subscribe = { event: 'pusher:subscribe', data: { channel: ch, auth, channel_data: JSON.stringify(data) } };
    // The first subscribe joins again (already a member); the unsubscribe's leave follows it to Redis; the last
    // subscribe must then join anew, not take back the first.
    const from = c.frames.length;
    c.send(subscribe);
    c.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
    c.send(subscribe);
    await c.next((f) => f.event === 'pusher_internal:subscription_succeeded', 5000, from);
    assert.deepEqual(await users(), ['member']);
    c.close();
    await eventually(async () => (await users()).length === 0, 'the member gone cluster-wide after the close');
  });

  test('a host that does not answer: queries answer after the timeout with what they have, marked partial', async () => {
    const redisClient = new Redis(redis.url);
    const fake = 'host-that-never-answers';
    try {
      await redisClient.set(`${prefix}host:${fake}:alive`, '1', 'PX', 20_000);
      await redisClient.sadd(`${prefix}hosts`, fake);
      const c = await RawClient.open(hosts[1].port);
      await c.request({ event: 'pusher:subscribe', data: { channel: 'partial' } }, (f) => f.event.endsWith('subscription_succeeded'));
      const started = Date.now();
      const list = (await (await serverSdk(hosts[0].port).get({ path: '/channels', params: { info: 'subscription_count' } })).json()) as Record<string, unknown>;
      const took = Date.now() - started;
      assert.equal(list.partial, true);
      assert.deepEqual((list.channels as Record<string, unknown>).partial, { subscription_count: 1 });
      assert.ok(took >= 900 && took < 3000, `answered after ${took} ms`);
      const one = (await (await serverSdk(hosts[0].port).get({ path: '/channels/partial', params: { info: 'subscription_count' } })).json()) as Record<string, unknown>;
      assert.deepEqual(one, { occupied: true, subscription_count: 1, subscription_count_complete: false });
      c.close();
    } finally {
      await redisClient.del(`${prefix}host:${fake}:alive`, `${prefix}host:${fake}:reaper`);
      await redisClient.srem(`${prefix}hosts`, fake);
      redisClient.disconnect();
    }
  });

  test('a host killed with SIGKILL: its members are removed once, within 15 s, and no query counts it', async (t) => {
    const child: ChildProcess = spawn(process.execPath, serverStartArgs(ROOT), {
      cwd: ROOT,
      env: { PATH: process.env.PATH, SOCKUDO_PORT: '0', SOCKUDO_METRICS_ENABLED: 'false', SOCKUDO_WORKERS: '1', SOCKUDO_LOG_PRETTY: 'false', SOCKUDO_REDIS_URL: redis.url, SOCKUDO_REDIS_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const line = await eventually(() => out.split('\n').find((l) => l.includes('sockudo-ts listening')), 'the doomed host to start', 15000);
    const doomedPort = (JSON.parse(line) as { port: number }).port;

    const watcher = await RawClient.open(hosts[0].port);
    await joinPresence(watcher, 'presence-kill', 'survivor');
    const victims = await Promise.all([1, 2].map(() => RawClient.open(doomedPort)));
    await joinPresence(victims[0], 'presence-kill', 'ghost-1');
    await joinPresence(victims[1], 'presence-kill', 'ghost-2');
    await eventually(() => watcher.frames.filter((f) => f.event === 'pusher_internal:member_added').length === 2, 'both ghosts added');

    const killedAt = Date.now();
    child.kill('SIGKILL');
    await eventually(() => watcher.frames.filter((f) => f.event === 'pusher_internal:member_removed').length === 2, 'ghosts removed', 15000);
    const took = Date.now() - killedAt;
    assert.ok(took < 15000, `removed after ${took} ms`);
    t.diagnostic(`members of the killed host removed ${took} ms after SIGKILL`);
    const removed = watcher.frames.filter((f) => f.event === 'pusher_internal:member_removed').map((f) => JSON.parse(f.data as string).user_id).sort();
    assert.deepEqual(removed, ['ghost-1', 'ghost-2'], 'each exactly once');
    const users = (await (await serverSdk(hosts[1].port).get({ path: '/channels/presence-kill/users' })).json()) as { users: { id: string }[] };
    assert.deepEqual(users.users.map((u) => u.id), ['survivor']);
    const info = (await (await serverSdk(hosts[1].port).get({ path: '/channels/presence-kill', params: { info: 'subscription_count' } })).json()) as Record<string, unknown>;
    assert.deepEqual(info, { occupied: true, subscription_count: 1 });
    watcher.close();
  });
});
