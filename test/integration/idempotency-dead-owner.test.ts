// An idempotent publish whose host died after the message reached the Redis stream but before it recorded
// the key as done: the other hosts, reading the message back, record it, so a retry gets the first answer
// and nothing is delivered twice. And a claim whose host died before publishing holds the key only for a
// short lease, not the whole idempotency window.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { RedisCluster } from '../../src/adapter/redisCluster.ts';
import { fingerprint, IdempotentPublisher, PENDING_LEASE_MS } from '../../src/http/idempotentPublish.ts';
import { MemoryIdempotencyStore } from '../../src/idempotency/memoryStore.ts';
import { connectPusherJs, serverSdk, subscribed } from '../helpers/clients.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { signedUrl } from '../helpers/signing.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

describe('idempotency when the publishing host dies', () => {
  let redis: RedisProcess;
  let host: TestServer;
  const prefix = `dead${process.pid}:`;

  before(async () => {
    redis = await startRedis();
    host = await startTestServer({ redis: { url: redis.url, key_prefix: prefix } });
  });

  after(async () => {
    await host.shutdown();
    await redis.stop();
  });

  test('a publish that reached the stream is recorded as done by the hosts that read it', async () => {
    const client = await connectPusherJs(host.port);
    const channel = client.subscribe('orders-dead');
    await subscribed(client, 'orders-dead');
    const received: unknown[] = [];
    channel.bind('order.created', (d: unknown) => received.push(d));

    // A "dead host": claims the key, sends the message through Redis, and never completes the key.
    const body = { name: 'order.created', channel: 'orders-dead', data: '{"id":1}', idempotency_key: 'dead-1' };
    const print = fingerprint('events', body);
    const raw = new Redis(redis.url);
    await raw.set(`${prefix}idempotency:app-id:dead-1`, `P${print}`, 'PX', 120_000);
    const dead = new RedisCluster(redis.url, prefix, 120_000, 1000, () => {}, () => {}, pino({ level: 'silent' }));
    await dead.start();
    await dead.send({
      kind: 'events',
      origin: `dead-${randomUUID()}`,
      app: 'app-id',
      events: [{ name: 'order.created', channels: ['orders-dead'], data: '{"id":1}', ephemeral: false, messageIds: [randomUUID()] }],
      completes: { scope: 'app-id', key: 'dead-1', print, status: 200, body: '{"ok":true}', ttlMs: 120_000 },
    });
    await dead.stop();
    await eventually(() => received.length === 1, 'the message on the surviving host');

    // The retry on the surviving host: the stored answer, no second delivery.
    await eventually(async () => (await raw.get(`${prefix}idempotency:app-id:dead-1`))?.startsWith('D'), 'the key recorded as done');
    const text = JSON.stringify(body);
    const res = await fetch(signedUrl(`http://127.0.0.1:${host.port}`, { path: '/apps/app-id/events', body: text }), { method: 'POST', body: text, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    const probe = await serverSdk(host.port).trigger('orders-dead', 'order.created', '{"id":2}');
    assert.equal(probe.status, 200);
    await eventually(() => received.length === 2, 'the probe');
    assert.deepEqual(received, [{ id: 1 }, { id: 2 }], 'the retried publish was not delivered again');
    raw.disconnect();
    client.disconnect();
  });

  test("a message's own key (message_id) that reached the stream is recorded as done by the hosts that read it", async () => {
    const client = await connectPusherJs(host.port);
    const channel = client.subscribe('orders-dead-key');
    await subscribed(client, 'orders-dead-key');
    const received: unknown[] = [];
    channel.bind('order.created', (d: unknown) => received.push(d));

    // A "dead host": claims the message key on the channel, sends the message through Redis, never completes it.
    const print = fingerprint('message', { channel: 'orders-dead-key', name: 'order.created', data: '{"id":1}' });
    const scope = 'message:app-id:orders-dead-key';
    const raw = new Redis(redis.url);
    await raw.set(`${prefix}idempotency:${scope}:msg-dead-1`, `P${print}`, 'PX', 120_000);
    const dead = new RedisCluster(redis.url, prefix, 120_000, 1000, () => {}, () => {}, pino({ level: 'silent' }));
    await dead.start();
    await dead.send({
      kind: 'events',
      origin: `dead-${randomUUID()}`,
      app: 'app-id',
      events: [{ name: 'order.created', channels: ['orders-dead-key'], data: '{"id":1}', ephemeral: false, messageId: 'msg-dead-1', messageIds: ['msg-dead-1'] }],
      messageKeys: [{ scope, key: 'msg-dead-1', print, status: 200, body: '{}', ttlMs: 120_000 }],
    });
    await dead.stop();
    await eventually(() => received.length === 1, 'the message on the surviving host');
    await eventually(async () => (await raw.get(`${prefix}idempotency:${scope}:msg-dead-1`))?.startsWith('D'), 'the key recorded as done');

    // The retry on the surviving host (the same message_id): answered, not delivered again.
    const body = JSON.stringify({ name: 'order.created', channel: 'orders-dead-key', data: '{"id":1}', message_id: 'msg-dead-1' });
    const res = await fetch(signedUrl(`http://127.0.0.1:${host.port}`, { path: '/apps/app-id/events', body }), { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    await serverSdk(host.port).trigger('orders-dead-key', 'order.created', '{"id":2}');
    await eventually(() => received.length === 2, 'the probe');
    assert.deepEqual(received, [{ id: 1 }, { id: 2 }], 'the retried publish was not delivered again');
    raw.disconnect();
    client.disconnect();
  });

  test('a claim in progress holds its key for a short lease, not the whole window', async () => {
    const ttls: number[] = [];
    const store = new MemoryIdempotencyStore(100);
    const spy = { ...store, claim: (s: string, k: string, p: string, ttl: number) => (ttls.push(ttl), store.claim(s, k, p, ttl)), complete: store.complete.bind(store), release: store.release.bind(store) };
    const publisher = new IdempotentPublisher(spy, { idempotentPublish() {}, idempotentDuplicate() {} });
    await publisher.run('app', 'app', 'k', 'print', 3_600_000, async () => ({ status: 200, body: '{}' }));
    assert.deepEqual(ttls, [PENDING_LEASE_MS]);
    await publisher.run('app', 'app', 'k2', 'print', 1000, async () => ({ status: 200, body: '{}' }));
    assert.deepEqual(ttls, [PENDING_LEASE_MS, 1000]);
  });
});
