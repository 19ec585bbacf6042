// How the dispatcher treats provider answers, expiry and failing providers (reference §6.4/§6.5): only
// token errors invalidate a device, and only the token that failed; an expired publish is never sent; after
// failure_threshold retryable failures in a row a provider's circuit breaker stops requests for the cooldown.
// Also the request shapes of §6.2 that concern providers (icon, providerOverrides).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type PushClient, finalStatus, pushBed, pushClient, registerDevice } from '../helpers/pushClient.ts';
import { serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const UNREGISTERED = {
  status: 404,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: JSON.stringify({ error: { code: 404, status: 'NOT_FOUND', message: 'Requested entity was not found.', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] } }),
};

describe('push provider answers and expiry', () => {
  const bed = pushBed();

  test('FCM 404 without an UNREGISTERED/invalid-token code is a credential/config failure: the device stays ACTIVE and subscribed', async () => {
    // Reference: FCM "body containing an unregistered/invalid-token code ⇒ DeviceTerminal, 401/403/404 ⇒ credential".
    // A bare 404 is what a wrong FCM endpoint / project (or a proxy in front of it) answers.
    await registerDevice(bed.api, 'fcm-404', { transportType: 'gcm', registrationToken: 'fcm-404-token' }, ['news-404']);
    bed.fcm.override(({ deviceId }) =>
      deviceId === 'fcm-404-token' ? { status: 404, headers: { 'content-type': 'text/html' }, body: '<html><body>404 Not Found</body></html>' } : undefined,
    );
    let status;
    try {
      const res = await bed.api.post('/publish', { recipients: [{ type: 'channel', channel: 'news-404' }], payload: { title: 'x' } });
      assert.equal(res.status, 202);
      status = await finalStatus(bed.api, res.body.publishId);
    } finally {
      bed.fcm.override(undefined);
    }
    assert.equal(status.state, 'failed');
    assert.equal(status.counters.retryAttempted, 0, 'a credential/config failure is not retried');
    const device = await bed.api.get('/deviceRegistrations/fcm-404');
    assert.equal(device.body.pushState, 'ACTIVE', 'a 404 without a token error code must not mark the device FAILED');
    const subs = await bed.api.get('/channelSubscriptions', { channel: 'news-404' });
    assert.deepEqual(subs.body.items.map((s: { deviceId: string }) => s.deviceId), ['fcm-404']);
  });

  test('an HTTP publish with extras.push also pushes to the devices subscribed to each of its channels; a bad payload is a 400', async () => {
    // Reference §4.3 / §6: "each target channel also gets an async channel-targeted push publish with extras.push".
    await registerDevice(bed.api, 'fcm-extras', { transportType: 'gcm', registrationToken: 'fcm-extras-token' }, ['extras-a', 'extras-b']);
    const http = serverSdk(bed.server.port);
    await http.post({ path: '/events', body: { name: 'order', channels: ['extras-a', 'extras-b'], data: '{}', extras: { push: { title: 'from realtime' } } } as unknown as string });
    await eventually(() => bed.fcm.received.filter((r) => r.deviceId === 'fcm-extras-token').length === 2, 'one push per channel');
    assert.deepEqual(bed.fcm.received.filter((r) => r.deviceId === 'fcm-extras-token').map((r) => r.payload.notification?.title), ['from realtime', 'from realtime']);
    const refused = await http
      .post({ path: '/events', body: { name: 'order', channels: ['extras-a'], data: '{}', extras: { push: { icon: 'http://not-https.example/i.png' } } } as unknown as string })
      .then(() => 200, (err: { status: number }) => err.status);
    assert.equal(refused, 400);
  });

  test('a publish whose expiresAtMs has already passed is never sent to the provider (it ends expired)', async () => {
    // Six publishes, one after the other: each must end `expired` with nothing delivered.
    await registerDevice(bed.api, 'fcm-exp', { transportType: 'gcm', registrationToken: 'fcm-exp-token' });
    const states: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'fcm-exp' }], payload: { title: `stale ${i}` }, expiresAtMs: Date.now() - 60_000 });
      assert.equal(res.status, 202);
      const status = await finalStatus(bed.api, res.body.publishId);
      states.push(status.state);
      assert.equal(status.counters.expired, 1);
      assert.equal(status.counters.dispatched, 0);
    }
    const delivered = bed.fcm.received.filter((r) => r.deviceId === 'fcm-exp-token').map((r) => r.payload.notification?.title);
    assert.deepEqual(delivered, [], `already-expired publishes reached the device (final states ${states.join(', ')})`);
    assert.deepEqual(states, Array(6).fill('expired'));
  });

  test('an UNREGISTERED answer for an old token does not fail the device after it re-registered with a new token', async () => {
    // FCM rotates tokens: the old one turns UNREGISTERED exactly when the app registers its new one.
    await registerDevice(bed.api, 'rotating', { transportType: 'gcm', registrationToken: 'old-token' }, ['rotate-ch']);
    let inFlight!: () => void;
    const reached = new Promise<void>((resolve) => {
      inFlight = resolve;
    });
    let release!: () => void;
    const reRegistered = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The old token's UNREGISTERED answer is held until the device has re-registered.
    bed.fcm.override(({ deviceId }) => {
      if (deviceId !== 'old-token') return undefined;
      inFlight();
      return { ...UNREGISTERED, hold: reRegistered };
    });
    try {
      const res = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'rotating' }], payload: { title: 'r' } });
      await reached;
      await registerDevice(bed.api, 'rotating', { transportType: 'gcm', registrationToken: 'new-token' });
      release();
      const status = await finalStatus(bed.api, res.body.publishId);
      assert.equal(status.state, 'failed');
    } finally {
      release();
      bed.fcm.override(undefined);
    }
    const device = await bed.api.get('/deviceRegistrations/rotating');
    assert.equal(device.body.pushState, 'ACTIVE', "the re-registered device (new token) was marked FAILED by the old token's answer");
    const subs = await bed.api.get('/channelSubscriptions', { channel: 'rotate-ch' });
    assert.deepEqual(subs.body.items.map((s: { deviceId: string }) => s.deviceId), ['rotating']);

    // The same answer for the device's current token does invalidate it.
    bed.fcm.override(({ deviceId }) => (deviceId === 'new-token' ? UNREGISTERED : undefined));
    try {
      const res = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'rotating' }], payload: { title: 'r2' } });
      await finalStatus(bed.api, res.body.publishId);
    } finally {
      bed.fcm.override(undefined);
    }
    assert.equal((await bed.api.get('/deviceRegistrations/rotating')).body.pushState, 'FAILED');
    assert.deepEqual((await bed.api.get('/channelSubscriptions', { channel: 'rotate-ch' })).body.items, []);
  });
});

describe('push circuit breaker', () => {
  // One attempt per delivery, so each publish is one provider request; circuit_breaker at its defaults.
  const bed = pushBed({ acceptance_rps: 1000, retry: { max_attempts: 1, initial_backoff_ms: 50, max_backoff_ms: 200, jitter_ratio_percent: 20 } });

  test('after 5 retryable failures in a row the FCM breaker opens: nothing more is sent to FCM in the cooldown, APNs is unaffected', async () => {
    await registerDevice(bed.api, 'cb', { transportType: 'gcm', registrationToken: 'cb-token' });
    await registerDevice(bed.api, 'cb-ios', { transportType: 'apns', deviceToken: 'e'.repeat(64) });
    const metrics = async () => (await fetch(`http://127.0.0.1:${bed.server.metricsPort}/metrics`)).text();
    assert.match(await metrics(), /^sockudo_push_circuit_breaker_state\{provider="fcm"\} 0$/m);
    let sends = 0;
    bed.fcm.override(({ deviceId }) => {
      if (deviceId !== 'cb-token') return undefined;
      sends++;
      return { status: 503, body: '{"error":{"code":503,"status":"UNAVAILABLE","message":"down"}}' };
    });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'cb' }], payload: { title: `f${i}` } });
        assert.equal(res.status, 202);
        assert.equal((await finalStatus(bed.api, res.body.publishId)).state, 'dead_lettered');
      }
      assert.equal(sends, 5, 'five failed provider requests');
      assert.match(await metrics(), /^sockudo_push_circuit_breaker_state\{provider="fcm"\} 1$/m);
      const sixth = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'cb' }], payload: { title: 'while open' } });
      assert.equal(sixth.status, 202);
      // A publish to APNs accepted after it goes out: the scheduler has run past the point where it would
      // have claimed the FCM delivery, and did not claim it.
      const ios = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'cb-ios' }], payload: { title: 'apns still works' } });
      assert.equal((await finalStatus(bed.api, ios.body.publishId)).state, 'succeeded');
      const held = await bed.api.get(`/publish/${sixth.body.publishId}/status`);
      assert.equal(held.body.state, 'dispatching');
      assert.equal(held.body.counters.dispatched, 0, 'the FCM delivery was claimed while the breaker was open');
      assert.equal(sends, 5, 'a request reached the failing provider while the circuit breaker was open');
      assert.match(await metrics(), /^sockudo_push_circuit_breaker_state\{provider="apns"\} 0$/m);
    } finally {
      bed.fcm.override(undefined);
    }
  });
});

describe('push publish request shapes', () => {
  let server: TestServer;
  let api: PushClient;

  before(async () => {
    server = await startTestServer(); // development mode: Web Push is configured
    api = pushClient(server.port);
  });
  after(() => server.shutdown());

  test('payload.icon must be an https URL', async () => {
    for (const icon of ['http://example.com/icon.png', 'javascript:alert(1)', 'ftp://example.com/i.png']) {
      const res = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'nobody-icon' }], payload: { title: 'i', icon } });
      assert.equal(res.status, 400, `icon ${icon} was accepted`);
      assert.equal(res.body.code, 'invalid_input');
      assert.match(res.body.error, /payload\.icon/);
    }
    const ok = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'nobody-icon' }], payload: { title: 'i', icon: 'https://example.com/icon.png' } });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
  });

  test("providerOverrides for all five of Sockudo's providers are accepted and each is used; an unknown provider is refused", async () => {
    const res = await api.post('/publish', {
      recipients: [{ type: 'channel', channel: 'nobody-overrides' }],
      payload: { title: 'x' },
      providerOverrides: ['fcm', 'apns', 'webPush', 'hms', 'wns'].map((provider) => ({ provider, payload: {} })),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body.renderedPayloads.map((r: { provider: string; usedOverride: boolean }) => [r.provider, r.usedOverride]), [['webPush', true], ['fcm', true], ['apns', true], ['hms', true], ['wns', true]]);
    const unknown = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'nobody-overrides' }], payload: { title: 'x' }, providerOverrides: [{ provider: 'pigeon', payload: {} }] });
    assert.equal(unknown.status, 400);
  });
});

describe('push batch publish and the acceptance rate', () => {
  const bed = pushBed({ acceptance_rps: 2 });

  test('a batch over the acceptance rate is refused whole (429): none of its items is accepted, so a retry sends nothing twice', async () => {
    await registerDevice(bed.api, 'fcm-batch', { transportType: 'gcm', registrationToken: 'fcm-batch-token' });
    const item = (n: number) => ({ publishId: `batch-item-${n}`, recipients: [{ type: 'device', device_id: 'fcm-batch' }], payload: { title: `b${n}` } });
    // The rate is 2 a second: after one publish, a batch of two does not fit in that second. (If a new second began
    // between the two requests, the batch fits: then try again with new ids.)
    let refusedIds: string[] = [];
    for (let n = 0; n < 5 && refusedIds.length === 0; n++) {
      assert.equal((await bed.api.post('/publish', item(10 * n))).status, 202);
      const batch = [item(10 * n + 1), item(10 * n + 2)];
      if ((await bed.api.post('/batch/publish', batch)).status === 429) refusedIds = batch.map((b) => b.publishId);
    }
    assert.equal(refusedIds.length, 2, 'a batch over the rate is refused');
    for (const id of refusedIds) assert.equal((await bed.api.get(`/publish/${id}/status`)).status, 404, `${id} was not accepted`);
    // Within the rate (a later second), a batch goes through whole.
    const accepted = await eventually(async () => {
      const res = await bed.api.post('/batch/publish', [item(98), item(99)]);
      return res.status === 202 ? res : null;
    }, 'a batch within the rate is accepted');
    assert.equal(accepted.body.items.length, 2);
    await eventually(() => bed.fcm.received.some((r) => r.payload.notification?.title === 'b99'), 'the accepted batch delivered');
    const titles = bed.fcm.received.filter((r) => r.deviceId === 'fcm-batch-token').map((r) => r.payload.notification?.title);
    for (const id of refusedIds) assert.ok(!titles.includes(`b${id.slice('batch-item-'.length)}`), `${id} was never sent`);
  });
});
