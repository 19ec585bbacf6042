// Template locales named like Object.prototype members ("constructor", "toString") are not found: the lookup falls
// back to defaultLocale, and such a defaultLocale is refused (Sockudo's locales are a BTreeMap).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { finalStatus, pushBed, registerDevice } from '../helpers/pushClient.ts';

describe('template locales named like Object.prototype members', () => {
  const bed = pushBed();

  test('templateData.locale "constructor" falls back to defaultLocale (the device gets the template\'s title and body)', async () => {
    assert.equal(
      (await bed.api.post('/templates', { templateId: 'rv3-proto', defaultLocale: 'en', locales: { en: { title: 'English title', body: 'English body' } } })).status,
      201,
    );
    await registerDevice(bed.api, 'rv3-android', { transportType: 'gcm', registrationToken: 'rv3-fcm-1' }, ['rv3-chan']);
    for (const locale of ['constructor', 'toString-XX']) {
      const before = bed.fcm.received.length;
      const res = await bed.api.post('/publish', {
        recipients: [{ type: 'channel', channel: 'rv3-chan' }],
        payload: { templateId: 'rv3-proto', templateData: { locale } },
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const fcm = res.body.renderedPayloads.find((p: { provider: string }) => p.provider === 'fcm');
      assert.deepEqual(fcm.payload.message.notification, { title: 'English title', body: 'English body' }, `locale ${locale}: ${JSON.stringify(fcm.payload)}`);
      assert.equal((await finalStatus(bed.api, res.body.publishId)).state, 'succeeded');
      const got = bed.fcm.received.slice(before);
      assert.equal(got.length, 1);
      assert.deepEqual((got[0].payload as { notification?: unknown }).notification, { title: 'English title', body: 'English body' });
    }
  });

  test('a defaultLocale that is not a key of locales ("toString") is the 400 "defaultLocale is invalid: must exist in locales"', async () => {
    const res = await bed.api.post('/templates', { templateId: 'rv3-default', defaultLocale: 'toString', locales: { en: { title: 'T', body: 'B' } } });
    assert.equal(res.status, 400, `answered ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error, 'defaultLocale is invalid: must exist in locales');
  });
});
