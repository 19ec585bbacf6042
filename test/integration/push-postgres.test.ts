// Push with several hosts on one PostgreSQL store (a real `postgres` server): a publish accepted by one
// host is delivered once per device even though both hosts' schedulers claim work from the same table,
// and a duplicate publishId sent to the other host is recognised.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import webpush from 'web-push';
import { type PostgresProcess, startPostgres } from '../helpers/postgres.ts';
import { pushClient, registerDevice } from '../helpers/pushClient.ts';
import { type WebPushService, startWebPushService } from '../helpers/pushProviders.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

describe('push on two hosts sharing PostgreSQL', () => {
  let pg: PostgresProcess;
  let web: WebPushService;
  let hosts: TestServer[] = [];

  before(async () => {
    [pg, web] = await Promise.all([startPostgres(), startWebPushService()]);
    // Hosts must share their VAPID keys (browsers subscribed with the public one).
    const vapid = webpush.generateVAPIDKeys();
    const push = {
      storage: { driver: 'postgres', postgres_url: pg.url },
      webpush: { vapid_public_key: vapid.publicKey, vapid_private_key: vapid.privateKey },
      concurrency_per_provider: 8,
      batch_size: 8,
    };
    hosts = await Promise.all([startTestServer({ push }), startTestServer({ push })]);
  });

  after(async () => {
    await Promise.all(hosts.map((h) => h.shutdown()));
    await web.close();
    await pg.stop();
  });

  test('one publish, two schedulers: every device gets exactly one message', async (t) => {
    const [a, b] = hosts.map((h) => pushClient(h.port));
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const sub = web.newSubscription();
      ids.push(sub.endpoint.split('/').pop() as string);
      await registerDevice(i % 2 ? a : b, `shared-${i}`, { transportType: 'web', endpoint: sub.endpoint, ...sub.keys }, ['shared']);
    }
    // Only host a is woken by the publish; host b notices stored work on its idle timer, at most a second later.
    // 300 ms per delivery makes a's fan-out last about 2.3 s (60 deliveries, 8 at a time), so b always gets to claim.
    web.delayMs = 300;
    const res = await a.post('/publish', { publishId: 'shared-1', recipients: [{ type: 'channel', channel: 'shared' }], payload: { title: 'both' } });
    assert.equal(res.status, 202);
    assert.equal(res.body.expectedRecipients, 60);
    const dup = await b.post('/publish', { publishId: 'shared-1', recipients: [{ type: 'channel', channel: 'shared' }], payload: { title: 'both' } });
    assert.equal(dup.body.duplicate, true, 'the other host recognises the publishId');

    const status = await eventually(async () => {
      const s = await b.get('/publish/shared-1/status');
      return s.body.state === 'succeeded' ? s.body : null;
    }, 'the shared publish to succeed', 20_000);
    web.delayMs = 0;
    assert.equal(status.counters.succeeded, 60);
    const got = web.received.filter((r) => ids.includes(r.deviceId)).map((r) => r.deviceId);
    assert.equal(got.length, 60);
    assert.equal(new Set(got).size, 60, 'no device got the publish twice');
    const perHost = await Promise.all(hosts.map(async (h) => {
      const text = await (await fetch(`http://127.0.0.1:${h.metricsPort}/metrics`)).text();
      return Number(/sockudo_push_dispatched_total\{provider="webPush",status="ok",app="app-id"\} (\d+)/.exec(text)?.[1] ?? 0);
    }));
    t.diagnostic(`deliveries sent per host: ${perHost.join(' + ')}`);
    assert.equal(perHost[0] + perHost[1], 60);
    assert.ok(perHost[0] > 0 && perHost[1] > 0, `both hosts sent part of it: ${perHost.join(' + ')}`);
  });
});
