// Push API details that match SOCKUDO-REFERENCE §5.3, §6.1–§6.3, pinned down where no other test does: content types,
// publishId dedup (not idempotency keys), the status document, Bearer identity tokens and device validation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pushBed, registerDevice } from '../helpers/pushClient.ts';
import { signedUrl } from '../helpers/signing.ts';

describe('push API details', () => {
  const bed = pushBed();

  async function raw(body: string, contentType: string) {
    const url = signedUrl(`http://127.0.0.1:${bed.server.port}`, { method: 'POST', path: '/apps/app-id/push/publish', body });
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': contentType } });
    return { status: res.status, body: JSON.parse(await res.text()) };
  }

  test('§6.1: content type must be application/json or */*+json (400 invalid_input); bad JSON is a JSON 400 "invalid JSON body: …"', async () => {
    const body = JSON.stringify({ recipients: [{ type: 'channel', channel: 'p2-none' }], payload: { title: 'x' } });
    const plain = await raw(body, 'text/plain');
    assert.deepEqual(plain.body, { error: 'expected application/json content type', code: 'invalid_input', status: 400 });
    assert.equal((await raw(body, 'application/vnd.example+json')).status, 202);
    const bad = await raw('{"recipients":', 'application/json');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'invalid_input');
    assert.match(bad.body.error, /^invalid JSON body: /);
  });

  test('§5.3: body idempotency_key and X-Idempotency-Key do not deduplicate push publishes; publishId does (202, same id, stored state)', async () => {
    const body = { idempotency_key: 'same', recipients: [{ type: 'channel', channel: 'p2-none' }], payload: { title: 'x' } };
    const a = await bed.api.post('/publish', body, { 'x-idempotency-key': 'same-header' });
    const b = await bed.api.post('/publish', body, { 'x-idempotency-key': 'same-header' });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.notEqual(a.body.publishId, b.body.publishId);
    const first = await bed.api.post('/publish', { publishId: 'p2-dup', recipients: [{ type: 'channel', channel: 'p2-none' }], payload: { title: 'one' } });
    assert.equal(first.body.status, 'accepted');
    const changed = await bed.api.post('/publish', { publishId: 'p2-dup', recipients: [{ type: 'channel', channel: 'p2-other' }], payload: { title: 'two' } });
    assert.equal(changed.status, 202);
    assert.equal(changed.body.publishId, 'p2-dup');
    // "status for duplicates reflects the stored state" (a lifecycle state, not "accepted").
    assert.ok(['queued', 'planning', 'dispatching', 'succeeded'].includes(changed.body.status), changed.body.status);
  });

  test('§6.2: status document keys and the 8 counters; unknown publish 404 in the JSON error shape', async () => {
    const pub = await bed.api.post('/publish', { recipients: [{ type: 'channel', channel: 'p2-none' }], payload: { title: 'x' } });
    const s = await bed.api.get(`/publish/${pub.body.publishId}/status`);
    assert.equal(s.body.appId, 'app-id');
    assert.equal(s.body.publishId, pub.body.publishId);
    assert.equal(typeof s.body.state, 'string');
    assert.deepEqual(Object.keys(s.body.counters).sort(), ['deadLettered', 'dispatched', 'expired', 'failed', 'planned', 'retryAttempted', 'retryScheduled', 'succeeded']);
    const missing = await bed.api.get('/publish/p2-never/status');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'not_found');
    assert.equal(missing.body.status, 404);
  });

  test('§6.1/§6.3: Authorization: Bearer carries the identity token; admin rotate header issues a new one; bad platform/formFactor/state are 400', async () => {
    const created = await registerDevice(bed.api, 'p2-dev', { transportType: 'gcm', registrationToken: 'p2-tok' });
    const token = created.body.deviceIdentityToken as string;
    const got = await bed.api.get('/deviceRegistrations/p2-dev', {}, { 'x-sockudo-push-capability': 'push-subscribe', authorization: `Bearer ${token}` });
    assert.equal(got.status, 200);
    const rotated = await bed.api.post(
      '/deviceRegistrations',
      { appId: 'app-id', id: 'p2-dev', formFactor: 'phone', platform: 'android', deviceSecret: 'x', timezone: 'UTC', locale: 'en', push: { state: 'ACTIVE', recipient: { transportType: 'gcm', registrationToken: 'p2-tok' } } },
      { 'x-sockudo-rotate-device-identity-token': 'true' },
    );
    assert.equal(rotated.status, 201);
    assert.ok(rotated.body.deviceIdentityToken && rotated.body.deviceIdentityToken !== token);
    const old = await bed.api.get('/deviceRegistrations/p2-dev', {}, { 'x-sockudo-push-capability': 'push-subscribe', 'x-sockudo-device-identity-token': token });
    assert.equal(old.status, 401);
    assert.equal(old.body.code, 'auth_failed');
    for (const bad of [{ platform: 'android-tv' }, { formFactor: 'fridge' }, { push: { state: 'ON', recipient: { transportType: 'gcm', registrationToken: 't' } } }]) {
      const res = await bed.api.post('/deviceRegistrations', { appId: 'app-id', id: 'p2-bad', formFactor: 'phone', platform: 'android', deviceSecret: 'x', timezone: 'UTC', locale: 'en', push: { state: 'ACTIVE', recipient: { transportType: 'gcm', registrationToken: 't' } }, ...bad });
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(res.body.code, 'invalid_input');
    }
  });
});
