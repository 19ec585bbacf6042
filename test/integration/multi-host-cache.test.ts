// Cache channels are cluster state (SOCKUDO-REFERENCE §10; the cache is read on subscribe, §2.1): a host that joins
// the cluster, or restarts, after the last publish serves the cached event like the others, to V1 and V2 subscribers
// and to `info=cache` queries (adapter/clusterCache.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type RedisProcess, startRedis } from '../helpers/redis.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

describe('cache channels across hosts', () => {
  let redis: RedisProcess;
  let hosts: TestServer[] = [];
  const redisOpts = () => ({ redis: { url: redis.url, key_prefix: `cache${process.pid}:` } });
  before(async () => {
    redis = await startRedis();
    hosts.push(await startTestServer(redisOpts()));
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.shutdown()));
    await redis.stop();
  });

  test('a host started after the publish sends the cached event to a new subscriber, not cache_miss ', async () => {
    const ch = 'cache-late-host';
    const res = await serverSdk(hosts[0].port).trigger(ch, 'price', { v: 42 });
    assert.equal(res.status, 200);
    // The first host has it.
    const early = await RawClient.open(hosts[0].port);
    await early.request({ event: 'pusher:subscribe', data: { channel: ch } }, (f) => f.event === 'price' || f.event === 'pusher:cache_miss');
    assert.ok(early.frames.some((f) => f.event === 'price'), 'host 0 serves the cached event');
    early.close();

    hosts.push(await startTestServer(redisOpts()));
    const late = await RawClient.open(hosts[1].port);
    const got = await late.request({ event: 'pusher:subscribe', data: { channel: ch } }, (f) => f.event === 'price' || f.event === 'pusher:cache_miss');
    assert.deepEqual(got, { event: 'price', channel: ch, data: '{"v":42}' });
    late.close();
    // A V2 subscriber there gets it as a frame to one socket, with a message_id.
    const v2 = await openV2(hosts[1].port);
    const got2 = await v2.request({ event: 'sockudo:subscribe', data: { channel: ch } }, (f) => f.event === 'price' || f.event === 'sockudo:cache_miss');
    assert.equal(got2.event, 'price');
    assert.equal(got2.data, '{"v":42}');
    assert.equal(typeof got2.message_id, 'string');
    v2.close();
  });

  test('GET /channels/{cache-channel}?info=cache answers the cached event on every host ', async () => {
    const ch = 'cache-late-info';
    await serverSdk(hosts[0].port).trigger(ch, 'price', { v: 7 });
    const newcomer = await startTestServer(redisOpts());
    hosts.push(newcomer);
    const body = (await (await serverSdk(newcomer.port).get({ path: `/channels/${ch}`, params: { info: 'cache' } })).json()) as { cache?: { data: string } };
    assert.ok(body.cache, `host started later answers the cache: ${JSON.stringify(body)}`);
    assert.deepEqual(JSON.parse(body.cache.data), { event: 'price', channel: ch, data: '{"v":7}' });
  });
});
