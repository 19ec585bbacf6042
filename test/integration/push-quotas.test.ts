// Push quotas as Sockudo checks them at admission (push_http.rs quota_failure, with PUSH_FANOUT_MAX /
// PUSH_DELIVERY_QUOTA_DAILY): a publish expecting more recipients than the limit is still a 202, but is stored as
// `quota_exceeded` with Sockudo's errorReason and sent to nobody; `x-sockudo-push-quota-override` skips the check.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { finalStatus, pushBed, registerDevice } from '../helpers/pushClient.ts';

describe('push.fanout_max', () => {
  const bed = pushBed({ acceptance_rps: 1000, fanout_max: 2 });

  test('over fanout_max: 202 quota_exceeded, its status says why, nothing is sent; the override header sends it', async () => {
    for (const id of ['q1', 'q2', 'q3']) await registerDevice(bed.api, id, { transportType: 'gcm', registrationToken: `quota-${id}` }, ['q-big']);
    const before = bed.fcm.received.length;
    const big = { publishId: 'q-big-1', recipients: [{ type: 'channel', channel: 'q-big' }], payload: { title: 'Big' } };
    const refused = await bed.api.post('/publish', big);
    assert.equal(refused.status, 202);
    assert.equal(refused.body.status, 'quota_exceeded');
    assert.equal(refused.body.expectedRecipients, 3);
    const status = await bed.api.get('/publish/q-big-1/status');
    assert.equal(status.body.state, 'quota_exceeded');
    assert.equal(status.body.errorReason, 'fanout_max exceeded for app app-id');
    assert.equal(status.body.counters.planned, 3);
    assert.equal(status.body.counters.succeeded, 0);
    // The same publishId again: the stored answer, not a second check.
    const again = await bed.api.post('/publish', big);
    assert.equal(again.status, 202);
    assert.equal(again.body.status, 'quota_exceeded');
    assert.equal(again.body.duplicate, true);

    // Within the limit, and the override: both sent. The first publish's three devices got nothing from it.
    await registerDevice(bed.api, 'q4', { transportType: 'gcm', registrationToken: 'quota-q4' }, ['q-small']);
    const small = await bed.api.post('/publish', { recipients: [{ type: 'channel', channel: 'q-small' }], payload: { title: 'Small' } });
    assert.equal(small.body.status, 'accepted');
    assert.equal((await finalStatus(bed.api, small.body.publishId)).state, 'succeeded');
    const forced = await bed.api.post('/publish', { ...big, publishId: 'q-big-2' }, { 'x-sockudo-push-quota-override': 'true' });
    assert.equal(forced.body.status, 'accepted');
    assert.equal((await finalStatus(bed.api, 'q-big-2')).counters.succeeded, 3);
    const titles = bed.fcm.received.slice(before).map((m) => m.payload.notification?.title);
    assert.deepEqual(titles.sort(), ['Big', 'Big', 'Big', 'Small'], 'the refused publish sent nothing; the forced one sent three');
  });

  test('a batch: each item is checked on its own', async () => {
    const res = await bed.api.post('/batch/publish', [
      { recipients: [{ type: 'channel', channel: 'q-big' }], payload: { title: 'B1' } },
      { recipients: [{ type: 'channel', channel: 'q-small' }], payload: { title: 'B2' } },
    ]);
    assert.equal(res.status, 202);
    assert.deepEqual(res.body.items.map((i: { status: string }) => i.status), ['quota_exceeded', 'accepted']);
  });
});

describe('push.delivery_quota_daily', () => {
  const bed = pushBed({ acceptance_rps: 1000, delivery_quota_daily: 1 });

  test('over delivery_quota_daily (per publish, as Sockudo checks it): quota_exceeded with its errorReason', async () => {
    for (const id of ['d1', 'd2']) await registerDevice(bed.api, id, { transportType: 'gcm', registrationToken: `daily-${id}` }, ['d-two']);
    const res = await bed.api.post('/publish', { publishId: 'd-1', recipients: [{ type: 'channel', channel: 'd-two' }], payload: { title: 'x' } });
    assert.equal(res.body.status, 'quota_exceeded');
    assert.equal((await bed.api.get('/publish/d-1/status')).body.errorReason, 'delivery_quota_daily exceeded for app app-id');
    const one = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'd1' }], payload: { title: 'x' } });
    assert.equal(one.body.status, 'accepted');
  });
});
