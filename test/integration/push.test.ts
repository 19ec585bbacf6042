// Push notifications end to end: the guide's publishPush to a channel with devices of all three providers,
// each provider a local server speaking its real protocol (Web Push payloads really decrypted, FCM OAuth2
// and APNs provider tokens really verified), then the API's validation, duplicates and metrics.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type PushClient, pushClient, pushConfig, registerDevice } from '../helpers/pushClient.ts';
import { type ApnsServer, type FcmServer, type WebPushService, startApnsServer, startFcmServer, startWebPushService } from '../helpers/pushProviders.ts';
import { serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const APNS_TOKEN = 'a'.repeat(64);

describe('push notifications', () => {
  let webPush: WebPushService;
  let fcm: FcmServer;
  let apns: ApnsServer;
  let server: TestServer;
  let api: PushClient;
  let subscription: { endpoint: string; keys: { p256dh: string; auth: string } };

  before(async () => {
    [webPush, fcm, apns] = await Promise.all([startWebPushService(), startFcmServer(), startApnsServer()]);
    server = await startTestServer({ push: pushConfig(webPush, fcm, apns) });
    api = pushClient(server.port);
    subscription = webPush.newSubscription();
    await registerDevice(api, 'browser-1', { transportType: 'web', endpoint: subscription.endpoint, ...subscription.keys }, ['orders'], 'user-42');
    await registerDevice(api, 'android-1', { transportType: 'gcm', registrationToken: 'fcm-token-1' }, ['orders'], 'user-42');
    await registerDevice(api, 'ios-1', { transportType: 'apns', deviceToken: APNS_TOKEN }, ['orders']);
  });

  after(async () => {
    await server.shutdown();
    await Promise.all([webPush.close(), fcm.close(), apns.close()]);
  });

  test("the guide's publishPush through the pusher SDK: 202 with a publish id, then one authenticated message per device", async () => {
    const sdk = serverSdk(server.port);
    const body = {
      recipients: [{ type: 'channel', channel: 'orders' }],
      payload: { title: 'Order created', body: 'Order ord_124 is ready for review', data: { order_id: 'ord_124' } },
      sync: false,
    };
    // The SDK JSON-encodes `body` itself (its typings say string, its code stringifies whatever it gets).
    const res = await sdk.post({ path: '/push/publish', body: body as unknown as string });
    assert.equal(res.status, 202);
    const accepted = (await res.json()) as { publishId: string; publish_id: string; status: string; expectedRecipients: number };
    assert.equal(accepted.status, 'accepted');
    assert.equal(accepted.expectedRecipients, 3);
    assert.match(accepted.publishId, /^[0-9a-f-]{36}$/);
    assert.equal(accepted.publish_id, accepted.publishId);

    const final = await eventually(async () => {
      const s = await api.get(`/publish/${accepted.publishId}/status`);
      return s.body.state === 'succeeded' ? s.body : null;
    }, 'the publish to succeed');
    assert.equal(final.counters.succeeded, 3);
    assert.equal(final.counters.planned, 3);

    assert.equal(webPush.received.length, 1);
    const web = webPush.received[0].payload as { notification: { title: string; body: string }; data: { order_id: string } };
    assert.equal(web.notification.title, 'Order created');
    assert.equal(web.data.order_id, 'ord_124');
    assert.equal(webPush.received[0].headers['content-encoding'], 'aes128gcm');

    assert.equal(fcm.received.length, 1);
    assert.equal(fcm.received[0].payload.token, 'fcm-token-1');
    assert.deepEqual(fcm.received[0].payload.notification, { title: 'Order created', body: 'Order ord_124 is ready for review' });
    assert.deepEqual(fcm.received[0].payload.data, { order_id: 'ord_124' });
    assert.equal(fcm.tokensIssued, 1);

    assert.equal(apns.received.length, 1);
    assert.equal(apns.received[0].deviceId, APNS_TOKEN);
    assert.deepEqual(apns.received[0].payload.aps, { alert: { title: 'Order created', body: 'Order ord_124 is ready for review' } });
    assert.equal(apns.received[0].headers['apns-topic'], apns.topic);
    assert.equal(apns.received[0].headers['apns-push-type'], 'alert');
    assert.equal(apns.received[0].headers['apns-priority'], '10');
  });

  test('sync: true answers 200 with the final state; provider tokens are reused, not minted per message', async () => {
    const before = { web: webPush.received.length, fcm: fcm.received.length, apns: apns.received.length };
    const res = await api.post('/publish', { recipients: [{ type: 'client', client_id: 'user-42' }], payload: { title: 'Hi', collapseKey: 'greeting' }, sync: true });
    assert.equal(res.status, 200);
    assert.equal(res.body.state, 'succeeded');
    assert.equal(res.body.counters.succeeded, 2, 'user-42 has a browser and an android device');
    assert.equal(webPush.received.length, before.web + 1);
    assert.equal(fcm.received.length, before.fcm + 1);
    assert.equal(apns.received.length, before.apns);
    assert.equal(fcm.tokensIssued, 1, 'one OAuth2 token for every FCM message');
    assert.equal(webPush.received.at(-1)?.headers.topic, 'greeting');

    const ios = await api.post('/publish', { recipients: [{ type: 'device', device_id: 'ios-1' }], payload: { body: 'x', collapseKey: 'c1' }, sync: true, expiresAtMs: Date.now() + 60_000 });
    assert.equal(ios.body.state, 'succeeded');
    assert.equal(apns.providerTokensSeen.size, 1, 'one APNs provider token for every request');
    assert.equal(apns.received.at(-1)?.headers['apns-collapse-id'], 'c1');
    assert.ok(Number(apns.received.at(-1)?.headers['apns-expiration']) > Date.now() / 1000);
  });

  test('a duplicate publishId answers with the first publish and sends nothing twice', async () => {
    const body = { publishId: 'order-ord_200', recipients: [{ type: 'device', device_id: 'android-1' }], payload: { title: 'Once' }, sync: true };
    const first = await api.post('/publish', body);
    assert.equal(first.status, 200);
    const count = fcm.received.length;
    const again = await api.post('/publish', body);
    assert.equal(again.status, 202);
    assert.equal(again.body.publishId, 'order-ord_200');
    assert.equal(again.body.status, 'succeeded');
    assert.equal(again.body.duplicate, true);
    const status = await api.get('/publish/order-ord_200/status');
    assert.equal(status.body.counters.succeeded, 1);
    assert.equal(fcm.received.length, count);
  });

  test('a raw recipient is delivered without a registration; a device reached twice gets one message', async () => {
    const sub = webPush.newSubscription();
    const before = webPush.received.length;
    const res = await api.post('/publish', {
      recipients: [
        { type: 'recipient', recipient: { transportType: 'web', endpoint: sub.endpoint, keys: sub.keys } },
        { type: 'channel', channel: 'orders' },
        { type: 'device', device_id: 'browser-1' },
        { type: 'client', client_id: 'user-42' },
      ],
      payload: { title: 'Twice?' },
      sync: true,
    });
    assert.equal(res.body.state, 'succeeded');
    assert.equal(res.body.counters.planned, 4, 'raw + browser-1 + android-1 + ios-1, each once');
    const web = webPush.received.slice(before).map((d) => d.deviceId).sort();
    assert.equal(web.length, 2);
    assert.equal(new Set(web).size, 2);
  });

  test('validation errors are JSON 400s naming the field; unknown capability 403; unknown publish 404', async () => {
    const cases: [unknown, RegExp][] = [
      [{ recipients: [], payload: {} }, /recipients/],
      [{ recipients: [{ type: 'channel' }], payload: {} }, /recipients\[0\]\.channel/],
      [{ recipients: [{ type: 'registeredTopic', topic: 't' }], payload: {} }, /recipients\[0\]\.type.*not supported/],
      [{ recipients: [{ type: 'channel', channel: 'orders' }], payload: { title: 'x'.repeat(257) } }, /payload\.title.*256/],
      [{ recipients: [{ type: 'channel', channel: 'orders' }], payload: { body: 'x'.repeat(4000), data: { big: 'y'.repeat(500) } } }, /rendered .* 4096/],
      [{ recipients: [{ type: 'recipient', recipient: { transportType: 'apns', deviceToken: 'nothex' } }], payload: {} }, /deviceToken/],
      [{ recipients: [{ type: 'channel', channel: 'orders' }] }, /payload/],
    ];
    for (const [body, message] of cases) {
      const res = await api.post('/publish', body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(res.body.code, 'invalid_input');
      assert.match(res.body.error, message);
    }
    const device = await api.post('/deviceRegistrations', { id: 'd-x', push: { recipient: { transportType: 'web', endpoint: 'not a url', p256dh: 'x', auth: 'y' } } });
    assert.equal(device.status, 400);
    assert.match(device.body.error, /push\.recipient/);
    const badCapability = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'orders' }], payload: {} }, { 'x-sockudo-push-capability': 'root' });
    assert.equal(badCapability.status, 403);
    const subscribeOnly = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'orders' }], payload: {} }, { 'x-sockudo-push-capability': 'push-subscribe' });
    assert.equal(subscribeOnly.status, 403);
    assert.equal((await api.get('/publish/nope/status')).status, 404);
    const notJson = await fetch(`http://127.0.0.1:${server.port}/apps/app-id/push/publish`, { method: 'POST', body: 'x' });
    assert.equal(notJson.status, 400);
  });

  test('devices and channel subscriptions: list, paginate, never show tokens, delete by client', async () => {
    const listed = await api.get('/deviceRegistrations', { limit: '2' });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.items.length, 2);
    assert.equal(listed.body.has_more, true);
    const rest = await api.get('/deviceRegistrations', { limit: '2', cursor: listed.body.next_cursor });
    const ids = [...listed.body.items, ...rest.body.items].map((d: { id: string }) => d.id);
    assert.deepEqual(ids, ['android-1', 'browser-1', 'ios-1']);
    assert.ok(!JSON.stringify(listed.body).includes('fcm-token-1'), 'tokens are shown only as hashes');
    const one = await api.get('/deviceRegistrations/ios-1');
    assert.equal(one.body.recipient.provider, 'apns');
    assert.match(one.body.recipient.tokenHash, /^[0-9a-f]{64}$/);
    const subs = await api.get('/channelSubscriptions', { channel: 'orders' });
    assert.equal(subs.body.items.length, 3);
    const channels = await api.get('/channelSubscriptions/channels');
    assert.deepEqual(channels.body.items, ['orders']);

    await registerDevice(api, 'tmp-1', { transportType: 'gcm', registrationToken: 't1' }, ['news'], 'user-tmp');
    await registerDevice(api, 'tmp-2', { transportType: 'gcm', registrationToken: 't2' }, ['news'], 'user-tmp');
    assert.equal((await api.del('/channelSubscriptions', {})).status, 400);
    const removed = await api.del('/deviceRegistrations', { clientId: 'user-tmp' });
    assert.deepEqual(removed.body, { deleted: 2, consistency: 'eventual' });
    assert.equal((await api.get('/channelSubscriptions', { channel: 'news' })).body.items.length, 0);
    assert.equal((await api.get('/deviceRegistrations/tmp-1')).status, 404);
  });

  test('push-subscribe may update only its own device, with its identity token', async () => {
    const created = await registerDevice(api, 'self-1', { transportType: 'gcm', registrationToken: 'self-token' });
    const token = created.body.deviceIdentityToken as string;
    assert.ok(token);
    const asDevice = { 'x-sockudo-push-capability': 'push-subscribe', 'x-sockudo-device-identity-token': token };
    const update = await api.post('/deviceRegistrations', { id: 'self-1', push: { recipient: { transportType: 'gcm', registrationToken: 'self-token-2' } } }, asDevice);
    assert.equal(update.status, 201);
    assert.equal(update.body.change, 'updated');
    assert.equal(update.body.deviceIdentityToken, undefined);
    const wrong = await api.post('/deviceRegistrations', { id: 'self-1', push: { recipient: { transportType: 'gcm', registrationToken: 'x' } } }, { ...asDevice, 'x-sockudo-device-identity-token': 'forged' });
    assert.equal(wrong.status, 401);
    const newDevice = await api.post('/deviceRegistrations', { id: 'self-2', push: { recipient: { transportType: 'gcm', registrationToken: 'x' } } }, asDevice);
    assert.equal(newDevice.status, 403);
    const sub = await api.post('/channelSubscriptions', { channel: 'mine', deviceId: 'self-1' }, asDevice);
    assert.equal(sub.status, 201);
    const other = await api.post('/channelSubscriptions', { channel: 'mine', deviceId: 'android-1' }, asDevice);
    assert.equal(other.status, 401);
    assert.equal((await api.del('/deviceRegistrations/self-1', {}, asDevice)).status, 204);
  });

  test('batch publish: one 202 with an item per publish', async () => {
    const res = await api.post('/batch/publish', [
      { recipients: [{ type: 'device', device_id: 'android-1' }], payload: { title: 'b1' } },
      { publishId: 'batch-2', recipients: [{ type: 'device', device_id: 'ios-1' }], payload: { title: 'b2' } },
    ]);
    assert.equal(res.status, 202);
    assert.equal(res.body.items.length, 2);
    assert.equal(res.body.items[1].publishId, 'batch-2');
    for (const item of res.body.items) {
      await eventually(async () => (await api.get(`/publish/${item.publishId}/status`)).body.state === 'succeeded', `batch item ${item.publishId}`);
    }
    const bad = await api.post('/batch/publish', [{ recipients: [{ type: 'channel', channel: 'orders' }], payload: {} }, { recipients: [], payload: {} }]);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^\[1\]\.recipients/);
  });

  test('FCM: a revoked access token is replaced (one new OAuth2 grant) and the message still goes out', async () => {
    const issued = fcm.tokensIssued;
    fcm.revokeTokens();
    const res = await api.post('/publish', { recipients: [{ type: 'device', device_id: 'android-1' }], payload: { title: 'after revoke' }, sync: true });
    assert.equal(res.body.state, 'succeeded');
    assert.equal(fcm.tokensIssued, issued + 1);
    assert.equal(res.body.counters.retryAttempted, 0, 'the renewal happens inside the same attempt');
  });

  test('development VAPID keys: generated on first run, kept with mode 0600, served to browsers, used to sign', async () => {
    const file = join(dirname(server.config.push.storage.sqlite_path), 'vapid-keys.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string };
    const served = await api.get('/webpush/vapidPublicKey');
    assert.equal(served.body.publicKey, stored.publicKey);
    assert.ok(webPush.vapidPublicKeysSeen.has(stored.publicKey));
    assert.ok(!JSON.stringify(served.body).includes((JSON.parse(readFileSync(file, 'utf8')) as { privateKey: string }).privateKey));
  });

  test('push metrics move', async () => {
    const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    assert.match(text, /sockudo_push_publish_accepted_total\{app="app-id",result="accepted"\} [1-9]/);
    assert.match(text, /sockudo_push_dispatched_total\{provider="webPush",status="ok",app="app-id"\} [1-9]/);
    assert.match(text, /sockudo_push_dispatched_total\{provider="fcm",status="ok",app="app-id"\} [1-9]/);
    assert.match(text, /sockudo_push_dispatched_total\{provider="apns",status="ok",app="app-id"\} [1-9]/);
    assert.match(text, /sockudo_push_publish_finished_total\{app="app-id",state="succeeded"\} [1-9]/);
  });
});
