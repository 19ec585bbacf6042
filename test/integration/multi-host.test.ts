// Several hosts sharing one real redis-server: publishes and client events reach every host exactly once
// in one order, V2 serials stay strictly increasing whichever host publishes, a V2 client resumes on
// another host, idempotent retries and a publish's own message_id are deduplicated across hosts, users are
// reached on every host (force_reconnect included), and a Redis restart is survived without restarting any host.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { type Frame, RawClient, connectPusherJs, openV2, serverSdk, subscribed } from '../helpers/clients.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });
const isEvent = (name: string) => (f: Frame) => f.event === name;

describe('several hosts through Redis', () => {
  let redis: RedisProcess;
  let hosts: TestServer[];
  before(async () => {
    redis = await startRedis();
    hosts = await Promise.all([0, 1, 2].map(() => startTestServer({ redis: { url: redis.url, key_prefix: `t${process.pid}:` } })));
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.shutdown()));
    await redis.stop();
  });

  test('a publish on any host reaches pusher-js subscribers on every host exactly once, in order', async () => {
    const got: string[][] = [[], [], []];
    const clients = await Promise.all(hosts.map((h) => connectPusherJs(h.port)));
    for (const [i, c] of clients.entries()) (await subscribed(c, 'orders')).bind('order', (d: { n: string }) => got[i].push(d.n));
    // Publishes alternate between the three hosts.
    for (let n = 0; n < 30; n++) await serverSdk(hosts[n % 3].port).trigger('orders', 'order', { n: String(n) });
    await eventually(() => got.every((g) => g.length >= 30), 'every host delivered 30');
    const expected = Array.from({ length: 30 }, (_, n) => String(n));
    for (const g of got) assert.deepEqual(g, expected);
    for (const c of clients) c.disconnect();
  });

  test('V2 serials are strictly increasing whichever host publishes, and the same on every host', async () => {
    const v2 = await Promise.all(hosts.map((h) => openV2(h.port)));
    for (const c of v2) await c.request({ event: 'sockudo:subscribe', data: { channel: 'serials' } }, (f) => f.event.endsWith('subscription_succeeded'));
    await Promise.all(Array.from({ length: 20 }, (_, n) => serverSdk(hosts[n % 3].port).trigger('serials', 'tick', String(n))));
    const lists = await Promise.all(
      v2.map(async (c) => {
        await eventually(() => c.frames.filter(isEvent('tick')).length === 20, 'twenty ticks');
        return c.frames.filter(isEvent('tick')).map((f) => [f.serial, f.message_id, f.stream_id]);
      }),
    );
    assert.deepEqual(lists[0].map((x) => x[0]), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.deepEqual(lists[1], lists[0], 'host 2 delivered the same messages, ids and serials');
    assert.deepEqual(lists[2], lists[0]);
    for (const c of v2) c.close();
  });

  test('a V2 client that reconnects to another host resumes without loss or duplicates', async () => {
    const ch = 'cross-resume';
    const first = await openV2(hosts[0].port);
    await first.request({ event: 'sockudo:subscribe', data: { channel: ch } }, (f) => f.event.endsWith('subscription_succeeded'));
    // A 200 means Redis took the message, not that host 2 has read it back: a V2 watcher on the thread the
    // client resumes on says when m4 got there.
    const resumePort = hosts[2].workerPorts[0];
    const watcher = await openV2(resumePort);
    await watcher.request({ event: 'sockudo:subscribe', data: { channel: ch } }, (f) => f.event.endsWith('subscription_succeeded'));
    await serverSdk(hosts[1].port).trigger(ch, 'm1', '1');
    const m1 = await first.next(isEvent('m1'));
    first.terminate();
    for (const n of [2, 3, 4]) await serverSdk(hosts[n % 3].port).trigger(ch, `m${n}`, String(n));
    await watcher.next(isEvent('m4'));
    watcher.close();
    const again = await openV2(resumePort);
    await again.request({ event: 'sockudo:subscribe', data: { channel: ch } }, (f) => f.event.endsWith('subscription_succeeded'));
    const from = again.frames.length;
    again.send({ event: 'sockudo:resume', data: { channel_positions: { [ch]: { stream_id: m1.stream_id, serial: m1.serial } } } });
    await again.next(isEvent('sockudo:resume_success'), 5000, from);
    await serverSdk(hosts[0].port).trigger(ch, 'm5', '5');
    await again.next(isEvent('m5'));
    const seen = again.frames.slice(from).filter((f) => f.channel === ch || f.event === 'sockudo:resume_success').map((f) => f.event);
    assert.deepEqual(seen, ['m2', 'm3', 'm4', 'sockudo:resume_success', 'm5']);
    again.close();
  });

  test('an idempotent retry that lands on another host is deduplicated', async () => {
    const c = await RawClient.open(hosts[2].port);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'idem' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const body = { name: 'once', channels: ['idem'], data: 'x', idempotency_key: 'cross-host-1' };
    for (const h of hosts) {
      const res = await serverSdk(h.port).post({ path: '/events', body: body as unknown as string });
      assert.equal(res.status, 200);
    }
    await serverSdk(hosts[0].port).trigger('idem', 'fence', 'f');
    await c.next(isEvent('fence'));
    assert.equal(c.frames.filter(isEvent('once')).length, 1);
    c.close();
  });

  test('client events, sendToUser and terminate_connections span hosts', async () => {
    const a = await RawClient.open(hosts[0].port);
    const b = await RawClient.open(hosts[1].port);
    for (const c of [a, b]) {
      const { auth } = sdk.authorizeChannel(c.socketId, 'private-x');
      await c.request({ event: 'pusher:subscribe', data: { channel: 'private-x', auth } }, (f) => f.event.endsWith('subscription_succeeded'));
    }
    a.send({ event: 'client-hi', channel: 'private-x', data: { from: 'a' } });
    assert.deepEqual((await b.next(isEvent('client-hi'))).data, { from: 'a' });

    const signin = async (c: RawClient, id: string) =>
      c.request({ event: 'pusher:signin', data: sdk.authenticateUser(c.socketId, { id }) }, (f) => f.event === 'pusher:signin_success');
    await signin(a, 'u-multi');
    await signin(b, 'u-multi');
    await serverSdk(hosts[2].port).sendToUser('u-multi', 'note', { n: 1 });
    await a.next(isEvent('note'));
    await b.next(isEvent('note'));
    assert.equal(a.frames.filter(isEvent('client-hi')).length, 0, 'no echo to the V1 sender');
    await serverSdk(hosts[2].port).terminateUserConnections('u-multi');
    assert.deepEqual(await Promise.all([a.closed(), b.closed()]), [4009, 4009]);
  });

  test('a message_id published on one host and retried on another is delivered once, same acknowledgement id', async () => {
    const c = await RawClient.open(hosts[1].port);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'mid' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const body = { name: 'once', channel: 'mid', data: 'x', message_id: 'mid-cross-1' };
    const answers = [];
    for (const h of hosts) {
      const res = await serverSdk(h.port).post({ path: '/events', body: body as unknown as string });
      answers.push(await res.json());
    }
    assert.deepEqual(answers[1], answers[0]);
    await serverSdk(hosts[0].port).trigger('mid', 'fence', 'f');
    await c.next(isEvent('fence'));
    assert.equal(c.frames.filter(isEvent('once')).length, 1);
    c.close();
  });

  test('force_reconnect through one host closes the user\'s sockets on every host with 4200', async () => {
    const a = await RawClient.open(hosts[0].port);
    const b = await RawClient.open(hosts[1].port);
    for (const c of [a, b]) await c.request({ event: 'pusher:signin', data: sdk.authenticateUser(c.socketId, { id: 'u-fr' }) }, isEvent('pusher:signin_success'));
    const res = await serverSdk(hosts[1].port).post({ path: '/users/u-fr/force_reconnect', body: {} as unknown as string });
    assert.deepEqual(await res.json(), { ok: true });
    assert.deepEqual(await Promise.all([a.closed(), b.closed()]), [4200, 4200]);
  });

  test('a Redis restart: delivery on the host goes on, /up says DEGRADED, fan-out resumes within 5 s', async (t) => {
    const listeners = await Promise.all(hosts.map((h) => RawClient.open(h.port)));
    for (const c of listeners) await c.request({ event: 'pusher:subscribe', data: { channel: 'restart' } }, (f) => f.event.endsWith('subscription_succeeded'));
    await redis.stop();
    await eventually(async () => (await (await fetch(`http://127.0.0.1:${hosts[0].port}/up`)).text()) === 'DEGRADED', '/up DEGRADED');
    // While Redis is down: the publish reaches this host's subscribers and is not acknowledged as a full success.
    const res = await serverSdk(hosts[0].port).trigger('restart', 'during', 'x').catch((e: { status: number }) => e);
    assert.equal((res as { status: number }).status, 503);
    await listeners[0].next(isEvent('during'));
    const restartedAt = Date.now();
    await redis.restart();
    await eventually(
      async () => {
        const r = await serverSdk(hosts[1].port).trigger('restart', 'after', 'y').catch(() => null);
        return r?.status === 200;
      },
      'publishing through Redis again',
      5000,
    );
    for (const c of listeners) await c.next(isEvent('after'), 5000);
    assert.ok(Date.now() - restartedAt < 5000, 'fan-out resumed within 5 s');
    t.diagnostic(`fan-out resumed ${Date.now() - restartedAt} ms after redis-server was started again`);
    // Each of a host's two Redis connections reconnects on its own schedule; health says OK once both have.
    await eventually(async () => (await (await fetch(`http://127.0.0.1:${hosts[0].port}/up`)).text()) === 'OK', 'host 0 healthy again', 5000);
    for (const c of listeners) c.close();
  });
});
