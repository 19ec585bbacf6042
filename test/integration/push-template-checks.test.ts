// Templated publishes obey the publish rules: what a template fills in (title, icon, overrides) is checked again, as
// Sockudo validates the intent after resolving templates (push_http.rs `accept_publish_inner`) and each override.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pushBed, registerDevice } from '../helpers/pushClient.ts';

describe('templated publishes obey the publish rules', () => {
  const bed = pushBed();

  // README "Publish body": `payload` (`title` ≤ 256 B, … `icon` (an `https` URL) …). SOCKUDO-REFERENCE / research §2:
  // Sockudo re-runs PushPayload::validate after template resolution ("icon is invalid: must use https").
  test('a template whose icon is not https is not sent to devices (400 at the template or at the publish)', async () => {
    await registerDevice(bed.api, 'rv1-android', { transportType: 'gcm', registrationToken: 'rv1-fcm-1' }, ['rv1-icon']);
    const tpl = await bed.api.post('/templates', {
      templateId: 'rv1-http-icon',
      defaultLocale: 'en',
      locales: { en: { title: 'Hi', body: 'There', icon: 'http://insecure.example.com/i.png' } },
    });
    if (tpl.status === 400) return; // refused at the template: fine
    assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
    const before = bed.fcm.received.length;
    const res = await bed.api.post('/publish', { recipients: [{ type: 'channel', channel: 'rv1-icon' }], payload: { templateId: 'rv1-http-icon' } });
    assert.equal(res.status, 400, `a non-https icon from the template was accepted: ${JSON.stringify(res.body?.renderedPayloads?.[1]?.payload)}`);
    assert.match(res.body.error, /icon/);
    assert.equal(bed.fcm.received.length, before);
  });

  // README "Publish body": `title` ≤ 256 B. A template's title is the publish's title once resolved.
  test('a template title over 256 bytes is refused like a publish title over 256 bytes', async () => {
    const own = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'nobody' }], payload: { title: 't'.repeat(300) } });
    assert.equal(own.status, 400, 'a 300-byte title of the publish itself is a 400');
    const tpl = await bed.api.post('/templates', { templateId: 'rv1-long-title', defaultLocale: 'en', locales: { en: { title: 't'.repeat(300), body: 'b' } } });
    if (tpl.status === 400) return;
    assert.equal(tpl.status, 201);
    const res = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'nobody' }], payload: { templateId: 'rv1-long-title' } });
    assert.equal(res.status, 400, `a 300-byte title from the template was accepted (${res.status})`);
  });

  // README "Publish body": "a `wns` override's `type` must be `toast`, `tile` or `raw`" (400 naming the field);
  // research §2: Sockudo validates the template's overrides too ("each override is validated (… WNS header rules)").
  // Here a template's wns override with another type is stored, the publish is accepted with 202, and every WNS
  // delivery then fails at send time ("invalid WNS notification type").
  test('a template whose wns override has an invalid type is refused (not accepted and failed at send)', async () => {
    const tpl = await bed.api.post('/templates', {
      templateId: 'rv1-wns-type',
      defaultLocale: 'en',
      locales: { en: { title: 'Hi', body: 'There' } },
      providerOverrides: { wns: { provider: 'wns', payload: { type: 'badge' } } },
    });
    if (tpl.status === 400) return;
    assert.equal(tpl.status, 201);
    const res = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'nobody' }], payload: { templateId: 'rv1-wns-type' } });
    assert.equal(res.status, 400, `a wns override of type "badge" from a template was accepted (${res.status})`);
    assert.match(res.body.error, /wns/);
  });
});
