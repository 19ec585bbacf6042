// Webhooks with several hosts sharing one real redis-server (SOCKUDO-REFERENCE.md §8 l.725-731). channel_occupied /
// channel_vacated follow a set of host ids per channel in Redis, so they fire once cluster-wide and do not drift
// after a Redis restart (hosts put their channels back), a graceful stop (the drain releases this host's channels,
// lingering ones included) or a SIGKILL (the survivor that reaps the host takes it out of its channels).
// subscription_count: the counts last reported are kept in Redis, so a new reporting host still reports a channel
// that emptied as 0. One client_event webhook per client event, whichever host it crossed.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import Pusher from 'pusher';
import { type Frame, RawClient, serverSdk } from '../helpers/clients.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { WebhookReceiver } from '../helpers/webhookReceiver.ts';
import { startHost, stopHost } from './faults-hosts.ts';

const app = { id: 'app-id', key: 'app-key', secret: 'app-secret' };
const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
const healthy = async (h: TestServer) => (await (await fetch(`http://127.0.0.1:${h.port}/up`)).text()) === 'OK';
const isEvent = (name: string) => (f: Frame) => f.event === name;

async function sub(c: RawClient, channel: string) {
  await c.request({ event: 'pusher:subscribe', data: { channel } }, (f) => f.event.endsWith('subscription_succeeded'));
}

describe('occupancy webhooks across hosts', () => {
  let redis: RedisProcess;
  let hosts: TestServer[];
  let receiver: WebhookReceiver;
  const prefix = `wo${process.pid}:`;
  let apps: unknown[];
  before(async () => {
    redis = await startRedis();
    receiver = await new WebhookReceiver(app).start();
    apps = [{ ...app, webhooks: [{ url: receiver.url, event_types: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }] }];
    hosts = await Promise.all([0, 1].map(() => startTestServer({ apps, redis: { url: redis.url, key_prefix: prefix } })));
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.shutdown()));
    await receiver.stop();
    await redis.stop();
  });

  test('after a Redis restart, one host leaving a channel another host still holds sends no channel_vacated (ref l.726)', async () => {
    const ch = 'occupied-across-restart';
    const fence = 'fence-after-restart';
    const a = await RawClient.open(hosts[0].port);
    const b = await RawClient.open(hosts[1].port);
    await sub(a, ch);
    await sub(b, ch);
    await eventually(() => receiver.named('channel_occupied', ch).length === 1, 'occupied');
    await redis.restart();
    for (const h of hosts) await eventually(() => healthy(h), 'host healthy again', 10000);
    // The fence channel lives on host 0 only: its vacated is decided by the same sweep as (or a later one than)
    // host 0 giving up `ch`, and goes through the same webhook queue after it.
    await sub(a, fence);
    a.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
    a.send({ event: 'pusher:unsubscribe', data: { channel: fence } });
    await eventually(() => receiver.named('channel_vacated', fence).length === 1, 'the fence channel vacated', 10000);
    const count = (await (await serverSdk(hosts[0].port).get({ path: `/channels/${ch}`, params: { info: 'subscription_count' } })).json()) as Record<string, unknown>;
    assert.deepEqual(count, { occupied: true, subscription_count: 1 }, 'host 1 still holds the channel');
    assert.deepEqual(receiver.named('channel_vacated', ch), [], 'no channel_vacated while a subscriber remains on host 1');
    a.close();
    b.close();
  });

  test('a host shut down gracefully (rolling restart) while holding a channel: the survivors\' last leave sends channel_vacated (ref l.726)', async () => {
    const ch = 'held-by-the-restarted';
    const leaving = await startTestServer({ apps, redis: { url: redis.url, key_prefix: prefix } });
    const survivor = await RawClient.open(hosts[0].port);
    await sub(survivor, ch);
    await eventually(() => receiver.named('channel_occupied', ch).length === 1, 'occupied');
    const other = await RawClient.open(leaving.port);
    await sub(other, ch);
    await leaving.shutdown();
    assert.equal(await other.closed(), 4200);
    await eventually(async () => {
      const info = (await (await serverSdk(hosts[0].port).get({ path: `/channels/${ch}`, params: { info: 'subscription_count' } })).json()) as Record<string, unknown>;
      return info.subscription_count === 1 && info.subscription_count_complete === undefined;
    }, 'only the survivor counts');
    survivor.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
    await eventually(() => receiver.named('channel_vacated', ch).length === 1, 'channel_vacated after the last subscriber left', 10000);
    survivor.close();
  });

  test('a host killed while holding a channel: the channel is vacated when the survivors\' last subscriber leaves (ref l.726, l.846)', async () => {
    const ch = 'held-by-the-dead';
    const presence = 'presence-dead-fence';
    const dir = mkdtempSync(join(tmpdir(), 'occupancy-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ apps, redis: { url: redis.url, key_prefix: prefix } }));
    const doomed = await startHost({ SOCKUDO_CONFIG_FILE: file, SOCKUDO_WORKERS: '1' });
    try {
      const survivor = await RawClient.open(hosts[0].port);
      await sub(survivor, ch);
      await eventually(() => receiver.named('channel_occupied', ch).length === 1, 'occupied');
      const ghost = await RawClient.open(doomed.port);
      await sub(ghost, ch);
      // A presence member on the doomed host: its member_removed says a survivor has reaped the host.
      const watcher = await RawClient.open(hosts[1].port);
      const wdata = { user_id: 'watcher' };
      await watcher.request(
        { event: 'pusher:subscribe', data: { channel: presence, auth: sdk.authorizeChannel(watcher.socketId, presence, wdata).auth, channel_data: JSON.stringify(wdata) } },
        (f) => f.event.endsWith('subscription_succeeded'),
      );
      const gdata = { user_id: 'ghost' };
      await ghost.request(
        { event: 'pusher:subscribe', data: { channel: presence, auth: sdk.authorizeChannel(ghost.socketId, presence, gdata).auth, channel_data: JSON.stringify(gdata) } },
        (f) => f.event.endsWith('subscription_succeeded'),
      );
      await watcher.next((f) => f.event === 'pusher_internal:member_added');
      await stopHost(doomed, 'SIGKILL');
      await watcher.next((f) => f.event === 'pusher_internal:member_removed', 15000);
      const info = (await (await serverSdk(hosts[0].port).get({ path: `/channels/${ch}`, params: { info: 'subscription_count' } })).json()) as Record<string, unknown>;
      assert.deepEqual(info, { occupied: true, subscription_count: 1 }, 'only the survivor counts');
      survivor.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
      await eventually(() => receiver.named('channel_vacated', ch).length === 1, 'channel_vacated after the last live subscriber left', 10000);
      watcher.close();
      survivor.close();
    } finally {
      await stopHost(doomed, 'SIGKILL');
    }
  });
});

describe('subscription_count webhooks when the reporting host changes', () => {
  let redis: RedisProcess;
  let receiver: WebhookReceiver;
  const prefix = `ws${process.pid}:`;
  const started: TestServer[] = [];
  before(async () => {
    redis = await startRedis();
    receiver = await new WebhookReceiver(app).start();
  });
  after(async () => {
    for (const h of started) await h.shutdown().catch(() => {});
    await receiver.stop();
    await redis.stop();
  });

  test('a channel whose subscribers were on a host that shut down is reported with subscription_count 0 (ref l.731)', async () => {
    const apps = [{ ...app, webhooks: [{ url: receiver.url, event_types: ['subscription_count'] }] }];
    const peek = new Redis(redis.url);
    // Start the hosts one at a time to learn which host id is which (the leader is the smallest id).
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      started.push(await startTestServer({ apps, redis: { url: redis.url, key_prefix: prefix } }));
      const members = await peek.smembers(`${prefix}hosts`);
      ids.push(members.find((m) => !ids.includes(m)) as string);
    }
    peek.disconnect();
    const leaderIndex = ids[0] < ids[1] ? 0 : 1;
    const leader = started[leaderIndex];
    const other = started[1 - leaderIndex];

    const ch = 'counted-on-the-leader';
    const c = await RawClient.open(leader.port);
    await c.request({ event: 'pusher:subscribe', data: { channel: ch } }, (f) => f.event.endsWith('subscription_succeeded'));
    await eventually(() => receiver.named('subscription_count', ch).some((e) => e.subscription_count === 1), 'subscription_count 1', 4000);
    await leader.shutdown();
    started.splice(started.indexOf(leader), 1);
    assert.equal(await c.closed(), 4200);
    const info = (await (await serverSdk(other.port).get({ path: `/channels/${ch}`, params: { info: 'subscription_count' } })).json()) as Record<string, unknown>;
    assert.deepEqual(info, { occupied: false, subscription_count: 0 });
    await eventually(() => receiver.named('subscription_count', ch).at(-1)?.subscription_count === 0, 'the last subscription_count for the channel says 0', 6000).catch((err: Error) => {
      throw new Error(`${err.message}; received ${JSON.stringify(receiver.named('subscription_count', ch))}`);
    });
  });
});

describe('client_event webhooks across hosts', () => {
  let redis: RedisProcess;
  let hosts: TestServer[];
  let receiver: WebhookReceiver;
  before(async () => {
    redis = await startRedis();
    receiver = await new WebhookReceiver(app).start();
    const apps = [{ ...app, features: { enable_client_messages: true }, webhooks: [{ url: receiver.url, event_types: ['client_event', 'cache_miss'] }] }];
    hosts = await Promise.all([0, 1].map(() => startTestServer({ apps, redis: { url: redis.url, key_prefix: `wc${process.pid}:` } })));
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.shutdown()));
    await receiver.stop();
    await redis.stop();
  });

  test('a client event on a channel that spans hosts gives one client_event webhook', async () => {
    const ch = 'private-hooked';
    const a = await RawClient.open(hosts[0].port);
    const b = await RawClient.open(hosts[1].port);
    for (const c of [a, b]) await c.request({ event: 'pusher:subscribe', data: { channel: ch, auth: sdk.authorizeChannel(c.socketId, ch).auth } }, (f) => f.event.endsWith('subscription_succeeded'));
    a.send({ event: 'client-ping', channel: ch, data: { n: 1 } });
    await b.next(isEvent('client-ping'));
    b.send({ event: 'client-pong', channel: ch, data: { n: 2 } });
    await a.next(isEvent('client-pong'));
    await eventually(() => receiver.named('client_event', ch).length >= 2, 'two client_event webhooks');
    // One more round trip through both hosts' webhook queues as a fence.
    a.send({ event: 'client-fence', channel: ch, data: {} });
    await eventually(() => receiver.named('client_event', ch).some((e) => e.event === 'client-fence'), 'fence');
    assert.deepEqual(receiver.named('client_event', ch).map((e) => e.event).sort(), ['client-fence', 'client-ping', 'client-pong']);
    a.close();
    b.close();
  });
});
