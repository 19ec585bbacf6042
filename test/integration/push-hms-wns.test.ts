// Sockudo's HMS (Huawei Push Kit) and WNS (Windows) providers (SOCKUDO-REFERENCE §6.3, §6.4): `hms` and `wns`
// recipients, each sent to a local server speaking the provider's protocol — HMS's `/v1/{appId}/messages:send` with
// a bearer token and HMS result codes, WNS's HTTPS POST to the channel URI with a bearer token and x-wns-type — then
// what each server received, invalid tokens, retries, the 202's renderedPayloads, overrides and the refusals.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/config/load.ts';
import { type PushClient, finalStatus, pushClient, registerDevice } from '../helpers/pushClient.ts';
import { type FcmServer, type HmsServer, type WnsServer, hmsAnswer, startFcmServer, startHmsServer, startWnsServer, wnsAnswer } from '../helpers/pushProviders.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

// The WNS stand-in serves TLS with a self-signed certificate (channel URIs are https URLs); this test process
// does not verify it. Nothing else in this file speaks TLS.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

/** The id a WNS channel URI names (`?token=`), which the WNS server records as the device id. */
const channelId = (uri: string): string => new URL(uri).searchParams.get('token') as string;

describe('push to HMS and WNS', () => {
  let fcm: FcmServer;
  let hms: HmsServer;
  let wns: WnsServer;
  let server: TestServer;
  let api: PushClient;

  before(async () => {
    [fcm, hms, wns] = await Promise.all([startFcmServer(), startHmsServer(), startWnsServer()]);
    server = await startTestServer({
      push: {
        acceptance_rps: 1000,
        fcm: { enabled: true, service_account_json: JSON.stringify(fcm.serviceAccount), endpoint: fcm.url },
        hms: { enabled: true, app_id: hms.appId, provider_token: hms.accessToken, endpoint: hms.url },
        wns: { enabled: true, provider_token: wns.accessToken },
        retry: { max_attempts: 3, initial_backoff_ms: 50, max_backoff_ms: 200, jitter_ratio_percent: 20 },
      },
    });
    api = pushClient(server.port);
  });

  after(async () => {
    await server.shutdown();
    await Promise.all([fcm.close(), hms.close(), wns.close()]);
  });

  test('an HMS device gets one Push Kit message: the app id in the URL, the bearer token, message.token [token], HMS types', async () => {
    await registerDevice(api, 'huawei-1', { transportType: 'hms', registrationToken: 'hms-token-1' });
    const res = await api.post('/publish', {
      recipients: [{ type: 'device', device_id: 'huawei-1' }],
      payload: { title: 'Order 7', body: 'ready', icon: 'https://example.test/i.png', sound: 'chime', collapseKey: '7', templateData: { order: 7, tags: ['a'] } },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const status = await finalStatus(api, res.body.publishId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    const got = hms.received.filter((r) => r.deviceId === 'hms-token-1');
    assert.equal(got.length, 1);
    assert.deepEqual(got[0].payload, {
      token: ['hms-token-1'],
      notification: { title: 'Order 7', body: 'ready', image: 'https://example.test/i.png' },
      data: JSON.stringify({ order: 7, tags: ['a'] }),
      android: { collapse_key: 7, notification: { click_action: { type: 3 }, sound: 'chime' } },
    });
    assert.equal(got[0].headers.authorization, `Bearer ${hms.accessToken}`);
    assert.match(got[0].headers['content-type'], /^application\/json/);
    assert.equal(hms.stats.badAuth + hms.stats.badRequest + hms.stats.badPayload, 0);
  });

  test('a WNS device gets one toast: POST to its channel URI with the bearer token, x-wns-type wns/toast and the JSON toast', async () => {
    const uri = wns.newChannel();
    await registerDevice(api, 'windows-1', { transportType: 'wns', channelUri: uri });
    const res = await api.post('/publish', {
      recipients: [{ type: 'device', device_id: 'windows-1' }],
      payload: { title: 'Build done', body: 'all green', icon: 'https://example.test/w.png', sound: 'ms-winsoundevent:Notification.Mail', templateData: { build: 12 } },
    });
    const status = await finalStatus(api, res.body.publishId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    const got = wns.received.filter((r) => r.deviceId === channelId(uri));
    assert.equal(got.length, 1);
    assert.deepEqual(got[0].payload, {
      type: 'toast',
      toast: {
        visual: { binding: { template: 'ToastGeneric', text: ['Build done', 'all green'], image: 'https://example.test/w.png' } },
        audio: { src: 'ms-winsoundevent:Notification.Mail' },
      },
      data: { build: 12 },
    });
    assert.equal(got[0].headers.authorization, `Bearer ${wns.accessToken}`);
    assert.equal(got[0].headers['x-wns-type'], 'wns/toast');
    assert.match(got[0].headers['content-type'], /^application\/json/);
  });

  test('a channel publish reaches an FCM, an HMS and a WNS device, one message each', async () => {
    const uri = wns.newChannel();
    await registerDevice(api, 'mix-android', { transportType: 'gcm', registrationToken: 'mix-fcm-token' }, ['mixed']);
    await registerDevice(api, 'mix-huawei', { transportType: 'hms', registrationToken: 'mix-hms-token' }, ['mixed']);
    await registerDevice(api, 'mix-windows', { transportType: 'wns', channelUri: uri }, ['mixed']);
    const res = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'mixed' }], payload: { title: 'All', body: 'platforms' } });
    assert.equal(res.body.expectedRecipients, 3);
    const status = await finalStatus(api, res.body.publishId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    assert.deepEqual([status.counters.planned, status.counters.succeeded], [3, 3]);
    assert.deepEqual(fcm.received.filter((r) => r.deviceId === 'mix-fcm-token').map((r) => r.payload.notification), [{ title: 'All', body: 'platforms' }]);
    assert.deepEqual(hms.received.filter((r) => r.deviceId === 'mix-hms-token').map((r) => r.payload.notification), [{ title: 'All', body: 'platforms' }]);
    const toasts = wns.received.filter((r) => r.deviceId === channelId(uri)).map((r) => (r.payload as { toast: { visual: { binding: { text: string[] } } } }).toast.visual.binding.text);
    assert.deepEqual(toasts, [['All', 'platforms']]);
  });

  test("HMS's invalid-token answer (80300007) and WNS's 410 mark the device FAILED and unsubscribe it; nothing is retried", async () => {
    const uri = wns.newChannel();
    await registerDevice(api, 'gone-huawei', { transportType: 'hms', registrationToken: 'gone-hms-token' }, ['gone-news']);
    await registerDevice(api, 'gone-windows', { transportType: 'wns', channelUri: uri }, ['gone-news']);
    await registerDevice(api, 'kept-huawei', { transportType: 'hms', registrationToken: 'kept-hms-token' }, ['gone-news']);
    hms.unregister('gone-hms-token');
    wns.unregister(channelId(uri));
    const res = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'gone-news' }], payload: { title: 'gone?' } });
    const status = await finalStatus(api, res.body.publishId);
    assert.equal(status.state, 'partiallySucceeded', JSON.stringify(status));
    assert.deepEqual([status.counters.succeeded, status.counters.failed, status.counters.retryAttempted], [1, 2, 0]);
    for (const id of ['gone-huawei', 'gone-windows']) {
      assert.equal((await api.get(`/deviceRegistrations/${id}`)).body.pushState, 'FAILED', id);
      assert.deepEqual((await api.get('/channelSubscriptions', { deviceId: id })).body.items, [], `${id} unsubscribed`);
    }
    assert.equal((await api.get('/deviceRegistrations/kept-huawei')).body.pushState, 'ACTIVE');
    assert.equal(hms.stats.unregistered, 1);
    assert.equal(wns.stats.unregistered, 1);
    const metrics = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    assert.match(metrics, /sockudo_push_dispatched_total\{provider="hms",status="invalidToken",app="app-id"\} 1/);
    assert.match(metrics, /sockudo_push_dispatched_total\{provider="wns",status="invalidToken",app="app-id"\} 1/);
  });

  test('a 503 is retried and then delivered (HMS and WNS); an HMS 429 waits for its Retry-After', async () => {
    const uri = wns.newChannel();
    const seen: Record<string, number[]> = { hms: [], wns: [], throttled: [] };
    hms.override(({ deviceId, attempt }) => {
      if (deviceId === 'flaky-hms-token') {
        seen.hms.push(Date.now());
        if (attempt === 1) return hmsAnswer(503, '81000001', 'System internal error');
      }
      if (deviceId === 'throttled-hms-token') {
        seen.throttled.push(Date.now());
        if (attempt === 1) return hmsAnswer(429, '80300011', 'too many requests', { 'retry-after': '1' });
      }
      return undefined;
    });
    wns.override(({ deviceId, attempt }) => {
      if (deviceId !== channelId(uri)) return undefined;
      seen.wns.push(Date.now());
      return attempt === 1 ? wnsAnswer(503) : undefined;
    });
    try {
      const publish = (recipient: Record<string, string>) => api.post('/publish', { recipients: [{ type: 'recipient', recipient }], payload: { title: 'again' } });
      const ids = await Promise.all([
        publish({ transportType: 'hms', registrationToken: 'flaky-hms-token' }),
        publish({ transportType: 'wns', channelUri: uri }),
        publish({ transportType: 'hms', registrationToken: 'throttled-hms-token' }),
      ]);
      for (const res of ids) {
        const status = await finalStatus(api, res.body.publishId);
        assert.equal(status.state, 'succeeded', JSON.stringify(status));
        assert.equal(status.counters.retryAttempted, 1);
      }
      assert.deepEqual([seen.hms.length, seen.wns.length, seen.throttled.length], [2, 2, 2]);
      assert.equal(hms.received.filter((r) => r.deviceId === 'flaky-hms-token').length, 1);
      assert.equal(wns.received.filter((r) => r.deviceId === channelId(uri)).length, 1);
      // The backoff is 50 ms: only the answer's Retry-After (1 s) makes the second attempt wait this long.
      assert.ok(seen.throttled[1] - seen.throttled[0] >= 750, `retried after ${seen.throttled[1] - seen.throttled[0]} ms`);
    } finally {
      hms.override(undefined);
      wns.override(undefined);
    }
  });

  test("the 202's renderedPayloads list hms and wns; hms and wns overrides apply (a WNS raw override is sent as wns/raw)", async () => {
    const plain = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'nobody-here' }], payload: { title: 'T', body: 'B', templateData: { k: 'v' } } });
    assert.equal(plain.status, 202, JSON.stringify(plain.body));
    const rendered = plain.body.renderedPayloads as { provider: string; payload: any; usedOverride: boolean }[];
    assert.deepEqual(rendered.map((r) => r.provider), ['webPush', 'fcm', 'apns', 'hms', 'wns']);
    const byProvider = Object.fromEntries(rendered.map((r) => [r.provider, r]));
    assert.deepEqual(byProvider.hms, {
      provider: 'hms',
      payload: { message: { notification: { title: 'T', body: 'B' }, data: '{"k":"v"}', android: { notification: { click_action: { type: 3 } } } } },
      usedOverride: false,
    });
    assert.deepEqual(byProvider.wns, {
      provider: 'wns',
      payload: { type: 'toast', toast: { visual: { binding: { template: 'ToastGeneric', text: ['T', 'B'] } } }, data: { k: 'v' } },
      usedOverride: false,
    });

    const uri = wns.newChannel();
    const android = { urgency: 'HIGH', notification: { click_action: { type: 1, intent: 'intent://orders' }, importance: 'NORMAL' } };
    const res = await api.post('/publish', {
      recipients: [
        { type: 'recipient', recipient: { transportType: 'hms', registrationToken: 'override-hms-token' } },
        { type: 'recipient', recipient: { transportType: 'wns', channelUri: uri } },
      ],
      payload: { title: 'over', body: 'ridden' },
      providerOverrides: [
        { provider: 'hms', payload: { android, token: ['someone-else'] } },
        { provider: 'wns', payload: { type: 'raw', data: { kind: 'sync' } } },
      ],
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const flags = Object.fromEntries((res.body.renderedPayloads as { provider: string; usedOverride: boolean }[]).map((r) => [r.provider, r.usedOverride]));
    assert.deepEqual(flags, { webPush: false, fcm: false, apns: false, hms: true, wns: true });
    const status = await finalStatus(api, res.body.publishId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    const [sent] = hms.received.filter((r) => r.deviceId === 'override-hms-token');
    assert.deepEqual(sent.payload, { token: ['override-hms-token'], notification: { title: 'over', body: 'ridden' }, android }, 'the override, and the delivery\'s own token');
    assert.equal(hms.received.filter((r) => r.deviceId === 'someone-else').length, 0);
    const [raw] = wns.received.filter((r) => r.deviceId === channelId(uri));
    assert.equal(raw.headers['x-wns-type'], 'wns/raw');
    assert.equal(raw.headers['content-type'], 'application/octet-stream');
    const body = JSON.parse(raw.payload as string) as { type: string; data: unknown };
    assert.deepEqual([body.type, body.data], ['raw', { kind: 'sync' }]);
  });

  test('refusals name the field: hms and wns recipients in registrations and raw recipients, a WNS override type', async () => {
    const register = (recipient: unknown) => api.post('/deviceRegistrations', { id: 'refused-device', push: { recipient } });
    const cases: [unknown, string][] = [
      [{ transportType: 'hms' }, 'push.recipient.registrationToken: required'],
      [{ transportType: 'hms', registrationToken: '  ' }, 'push.recipient.registrationToken: registrationToken must not be empty'],
      [{ transportType: 'hms', registrationToken: 7 }, 'push.recipient.registrationToken: a string'],
      [{ transportType: 'wns' }, 'push.recipient.channelUri: required'],
      [{ transportType: 'wns', channelUri: 'http://db5p.notify.windows.com/?token=x' }, 'push.recipient.channelUri: must use https'],
      [{ transportType: 'wns', channelUri: 'not a url' }, 'push.recipient.channelUri: must be a valid URL'],
      [{ transportType: 'wns', channelUri: 'https://user:pw@db5p.notify.windows.com/?token=x' }, 'push.recipient.channelUri: userinfo is not allowed'],
      [{ transportType: 'mpns', channelUri: 'https://x.test/' }, 'push.recipient.transportType: one of web, gcm, apns, hms, wns'],
    ];
    for (const [recipient, error] of cases) {
      const res = await register(recipient);
      assert.equal(res.status, 400, JSON.stringify(recipient));
      assert.deepEqual(res.body, { error, code: 'invalid_input', status: 400 });
    }
    assert.equal((await api.get('/deviceRegistrations/refused-device')).status, 404, 'nothing was stored');

    const sent = hms.requests + wns.requests;
    const publish = (body: Record<string, unknown>) => api.post('/publish', { payload: { title: 'x' }, ...body });
    const raw = await publish({ recipients: [{ type: 'recipient', recipient: { transportType: 'wns', channelUri: 'http://x.test/' } }] });
    assert.deepEqual(raw.body, { error: 'recipients[0].recipient.channelUri: must use https', code: 'invalid_input', status: 400 });
    const hmsRaw = await publish({ recipients: [{ type: 'recipient', recipient: { transportType: 'hms', registrationToken: '' } }] });
    assert.deepEqual(hmsRaw.body, { error: 'recipients[0].recipient.registrationToken: registrationToken must not be empty', code: 'invalid_input', status: 400 });
    const badType = await publish({ recipients: [{ type: 'channel', channel: 'nobody-here' }], providerOverrides: [{ provider: 'wns', payload: { type: 'badge' } }] });
    assert.deepEqual(badType.body, { error: 'providerOverrides[0].payload.type: invalid wns override: invalid type (one of toast, tile, raw)', code: 'invalid_input', status: 400 });
    // WNS's limit is 5000 bytes, the others' 4096: a body between the two names the others only.
    const between = await publish({ recipients: [{ type: 'channel', channel: 'nobody-here' }], payload: { body: 'x'.repeat(4000), templateData: { pad: 'y'.repeat(400) } } });
    assert.equal(between.status, 400);
    assert.match(between.body.error, /^payload: the rendered webPush, fcm, apns, hms message is over 4096 bytes$/);
    assert.equal(hms.requests + wns.requests, sent, 'nothing reached HMS or WNS');
  });
});

describe('HMS and WNS configuration', () => {
  const start = (push: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
    startTestServer({ push: { webpush: { enabled: false }, ...push } }, env).then(
      async (s) => {
        await s.shutdown();
        return null;
      },
      (e: Error) => e,
    );

  test('enabled without a token or an app id: start-up stops naming the key and its variables', async () => {
    const noToken = await start({ hms: { enabled: true, app_id: '10493117' } });
    assert.ok(noToken instanceof ConfigError, String(noToken));
    assert.equal(noToken.message, 'push.hms: enabled, but provider_token (HMS_PROVIDER_TOKEN / PUSH_HMS_PROVIDER_TOKEN) not set');
    const neither = await start({}, { PUSH_HMS_ENABLED: 'true' });
    assert.ok(neither instanceof ConfigError, String(neither));
    assert.match(neither.message, /^push\.hms: enabled, but app_id \(HMS_APP_ID \/ PUSH_HMS_APP_ID\), provider_token/);
    const wnsRefused = await start({}, { PUSH_WNS_ENABLED: 'true' });
    assert.ok(wnsRefused instanceof ConfigError, String(wnsRefused));
    assert.equal(wnsRefused.message, 'push.wns: enabled, but provider_token (WNS_PROVIDER_TOKEN / PUSH_WNS_PROVIDER_TOKEN) not set');
  });

  test("Sockudo's variables configure both providers, HMS_* before PUSH_HMS_*", async () => {
    const hms = await startHmsServer();
    let server: TestServer | undefined;
    try {
      server = await startTestServer(
        { push: { webpush: { enabled: false } } },
        { PUSH_HMS_ENABLED: 'true', HMS_APP_ID: hms.appId, PUSH_HMS_APP_ID: 'ignored', PUSH_HMS_PROVIDER_TOKEN: hms.accessToken, PUSH_HMS_ENDPOINT: hms.url, PUSH_WNS_ENABLED: 'true', WNS_PROVIDER_TOKEN: 'wns-token' },
      );
      assert.deepEqual(server.config.push.hms, { enabled: true, app_id: hms.appId, provider_token: hms.accessToken, endpoint: hms.url });
      assert.deepEqual(server.config.push.wns, { enabled: true, provider_token: 'wns-token', type: 'toast' });
      const api = pushClient(server.port);
      const res = await api.post('/publish', { recipients: [{ type: 'recipient', recipient: { transportType: 'hms', registrationToken: 'env-token' } }], payload: { title: 'env' } });
      assert.equal((await finalStatus(api, res.body.publishId)).state, 'succeeded');
      assert.deepEqual(hms.received.map((r) => r.deviceId), ['env-token']);
    } finally {
      await server?.shutdown();
      await hms.close();
    }
  });
});
