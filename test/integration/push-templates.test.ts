// Push templates and delivery-status events, as Sockudo's push API has them (SOCKUDO-REFERENCE §6.3: templates with
// `{{ data.path }}` placeholders over templateData, locale from templateData.locale; deliveryStatus 202). A template
// publish is checked where it counts: the message the local FCM and APNs servers receive.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { finalStatus, pushBed, pushClient, registerDevice } from '../helpers/pushClient.ts';

const APNS_TOKEN = 'c'.repeat(64);

const orderTemplate = {
  appId: 'ignored-the-path-wins',
  templateId: 'order-ready',
  defaultLocale: 'en',
  locales: {
    en: { title: 'Order {{ data.order.id }} is ready', body: 'Total {{data.total}}, gift: {{ data.gift }}', sound: 'chime' },
    pt: { title: 'Pedido {{ data.order.id }} pronto', body: 'Total {{ data.total }}' },
    'zh-Hant': { title: '訂單 {{ data.order.id }}', body: '合計 {{ data.total }}' },
  },
  providerOverrides: { apns: { provider: 'apns', payload: { aps: { alert: { title: 'From the template override' } } } } },
};

describe('push templates', () => {
  const bed = pushBed();

  test('POST/GET/DELETE /push/templates: 201 with the stored template (the path app), list, 404 "template not found", DELETE 204', async () => {
    const created = await bed.api.post('/templates', orderTemplate);
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, { ...orderTemplate, appId: 'app-id' });
    const second = await bed.api.post('/templates', { ...orderTemplate, templateId: 'a-first', providerOverrides: undefined });
    assert.equal(second.status, 201);
    assert.deepEqual(second.body.providerOverrides, {});
    const list = await bed.api.get('/templates', { limit: '1' });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items.map((t: { templateId: string }) => t.templateId), ['a-first']);
    assert.equal(list.body.has_more, true);
    const rest = await bed.api.get('/templates', { cursor: list.body.next_cursor });
    assert.deepEqual(rest.body.items.map((t: { templateId: string }) => t.templateId), ['order-ready']);
    assert.equal(rest.body.has_more, false);
    assert.deepEqual((await bed.api.get('/templates/order-ready')).body, { ...orderTemplate, appId: 'app-id' });
    assert.equal((await bed.api.del('/templates/a-first')).status, 204);
    const gone = await bed.api.get('/templates/a-first');
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error, 'template not found');
    assert.equal((await bed.api.del('/templates/never-was')).status, 204, 'Sockudo answers 204 for an unknown id too');
    // push-subscribe may not manage templates.
    assert.equal((await bed.api.get('/templates', {}, { 'x-sockudo-push-capability': 'push-subscribe' })).status, 403);
  });

  test('a template is refused with a 400 naming the rule (Sockudo answers these with a 500)', async () => {
    const refused = async (body: unknown) => {
      const res = await bed.api.post('/templates', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      return res.body.error as string;
    };
    assert.equal(await refused({ ...orderTemplate, templateId: '' }), 'templateId must not be empty');
    assert.equal(await refused({ ...orderTemplate, defaultLocale: 'fr' }), 'defaultLocale is invalid: must exist in locales');
    assert.equal(await refused({ ...orderTemplate, locales: { en: { title: 'T', body: ' ' } } }), 'body must not be empty');
    assert.equal(await refused({ ...orderTemplate, locales: { en: { body: 'B' } } }), 'locales.en.title: title: a string');
    assert.equal(await refused({ ...orderTemplate, locales: { ...orderTemplate.locales, '': { title: 'T', body: 'B' } } }), 'locale must not be empty');
    assert.match(await refused({ ...orderTemplate, providerOverrides: { fcm: { provider: 'apns', payload: {} } } }), /^providerOverrides\.fcm: the key must be its provider/);
  });

  test('a templated publish: locale by prefix, placeholders from templateData, explicit fields win, the template\'s provider override', async () => {
    assert.equal((await bed.api.post('/templates', orderTemplate)).status, 201);
    await registerDevice(bed.api, 'tpl-android', { transportType: 'gcm', registrationToken: 'tpl-fcm-1' }, ['tpl-orders']);
    await registerDevice(bed.api, 'tpl-ios', { transportType: 'apns', deviceToken: APNS_TOKEN }, ['tpl-orders']);
    const fcmBefore = bed.fcm.received.length;
    const apnsBefore = bed.apns.received.length;
    const templateData = { locale: 'pt_BR', order: { id: 'ord_7' }, total: 12.5, gift: null };
    const res = await bed.api.post('/publish', {
      recipients: [{ type: 'channel', channel: 'tpl-orders' }],
      payload: { templateId: 'order-ready', templateData, body: 'Explicit body {{ data.order.id }}' },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const fcmRendered = res.body.renderedPayloads.find((p: { provider: string }) => p.provider === 'fcm');
    assert.deepEqual(fcmRendered.payload.message.notification, { title: 'Pedido ord_7 pronto', body: 'Explicit body ord_7' });
    assert.equal(res.body.renderedPayloads.find((p: { provider: string }) => p.provider === 'apns').usedOverride, true);
    assert.equal((await finalStatus(bed.api, res.body.publishId)).state, 'succeeded');
    const fcm = bed.fcm.received.slice(fcmBefore);
    assert.equal(fcm.length, 1);
    assert.deepEqual(fcm[0].payload.notification, { title: 'Pedido ord_7 pronto', body: 'Explicit body ord_7' }, 'pt_BR falls back to pt');
    const apns = bed.apns.received.slice(apnsBefore);
    assert.equal(apns.length, 1);
    assert.deepEqual(apns[0].payload.aps, { alert: { title: 'From the template override' } }, "the template's APNs override");

    // Default locale (no locale asked), null renders empty, the template's sound; a publish's own override beats the template's.
    const en = await bed.api.post('/publish', {
      recipients: [{ type: 'device', device_id: 'tpl-ios' }],
      payload: { templateId: 'order-ready', templateData: { order: { id: 'ord_8' }, total: 3, gift: null } },
      providerOverrides: [{ provider: 'apns', payload: { aps: { alert: { title: 'Publisher override' } } } }],
    });
    assert.equal(en.status, 202, JSON.stringify(en.body));
    const enFcm = en.body.renderedPayloads.find((p: { provider: string }) => p.provider === 'fcm').payload.message;
    assert.deepEqual(enFcm.notification, { title: 'Order ord_8 is ready', body: 'Total 3, gift: ' });
    assert.deepEqual(enFcm.android, { notification: { sound: 'chime' } });
    await finalStatus(bed.api, en.body.publishId);
    assert.deepEqual(bed.apns.received.at(-1)?.payload.aps, { alert: { title: 'Publisher override' } });

    // zh-Hant-TW → zh-Hant.
    const zh = await bed.api.post('/publish', { recipients: [{ type: 'channel', channel: 'tpl-nobody' }], payload: { templateId: 'order-ready', templateData: { locale: 'zh-Hant-TW', order: { id: '9' }, total: 1, gift: 'no' } } });
    assert.equal(zh.body.renderedPayloads.find((p: { provider: string }) => p.provider === 'fcm').payload.message.notification.title, '訂單 9');
  });

  test('placeholders in any publish; Sockudo\'s 400s for an unknown template and bad substitutions', async () => {
    const publish = (payload: Record<string, unknown>) => bed.api.post('/publish', { recipients: [{ type: 'channel', channel: 'tpl-nobody' }], payload });
    const plain = await publish({ title: 'Hi {{ data.name }}', body: 'n={{data.n}} ok={{ data.ok }}', templateData: { name: 'Ana', n: 2, ok: true } });
    assert.equal(plain.status, 202);
    assert.deepEqual(plain.body.renderedPayloads.find((p: { provider: string }) => p.provider === 'fcm').payload.message.notification, { title: 'Hi Ana', body: 'n=2 ok=true' });
    const refusal = async (payload: Record<string, unknown>) => {
      const res = await publish(payload);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      return res.body.error as string;
    };
    assert.equal(await refusal({ templateId: 'no-such-template' }), 'push template no-such-template not found');
    assert.equal(await refusal({ title: 'Hi {{ data.name }}', templateData: {} }), 'invalid template substitution: placeholder key is missing');
    assert.equal(await refusal({ title: 'Hi {{ data.name', templateData: { name: 'x' } }), 'invalid template substitution: unterminated placeholder');
    assert.equal(await refusal({ title: 'Hi {{ name }}', templateData: { name: 'x' } }), 'invalid template substitution: placeholder key must use a bounded data.* path');
    assert.equal(await refusal({ title: 'Hi {{ data.a.b.c.d.e }}', templateData: {} }), 'invalid template substitution: placeholder key must use a bounded data.* path');
    assert.equal(await refusal({ title: 'Hi {{ data.o }}', templateData: { o: { x: 1 } } }), 'invalid template substitution: placeholder value must be scalar');
    assert.equal(await refusal({ body: '{{ data.big }}{{ data.big }}', templateData: { big: 'x'.repeat(3000) } }), 'invalid template substitution: rendered output is too large');
    // A batch item names its template too.
    const batch = await bed.api.post('/batch/publish', [{ recipients: [{ type: 'channel', channel: 'tpl-nobody' }], payload: { templateId: 'order-ready', templateData: { order: { id: 'b1' }, total: 0, gift: '' } } }]);
    assert.equal(batch.status, 202, JSON.stringify(batch.body));
  });
});

describe('push delivery status', () => {
  const bed = pushBed();
  const event = {
    publishId: 'pub-1',
    eventId: 'evt-1',
    occurredAtMs: 1_765_000_000_000,
    result: { appId: 'app-id', publishId: 'pub-1', provider: 'fcm', batchId: 'b-1', deviceId: 'd-1', outcome: 'accepted', providerMessageId: 'projects/p/messages/1', attempt: 1, extra: 'dropped' },
  };

  test('POST /push/deliveryStatus: 202 with the event (the path\'s appId, unknown keys dropped); bad ones are 400s naming the field; admin only', async () => {
    const res = await bed.api.post('/deliveryStatus', { appId: 'someone-else', ...event });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const { extra: _dropped, ...result } = event.result;
    assert.deepEqual(res.body, { ...event, appId: 'app-id', result });
    assert.equal((await bed.api.post('/deliveryStatus', event)).status, 202, "the SDK's appId is optional");
    const failed = await bed.api.post('/deliveryStatus', { ...event, result: { ...event.result, outcome: 'rejected', error: { class: 'DeviceTerminal', failureClass: 'device_terminal', reason: 'Unregistered' } } });
    assert.equal(failed.status, 202);
    assert.equal(failed.body.result.error.failureClass, 'device_terminal');
    const bad = await bed.api.post('/deliveryStatus', { ...event, result: { ...event.result, outcome: 'delivered' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^result\.outcome: /);
    const missing = await bed.api.post('/deliveryStatus', { ...event, occurredAtMs: undefined });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error, /^occurredAtMs: /);
    assert.equal((await bed.api.post('/deliveryStatus', event, { 'x-sockudo-push-capability': 'push-subscribe' })).status, 403);
    // Another app's client cannot post into this app's path.
    assert.notEqual((await pushClient(bed.server.port, 'app-id', 'app-key', 'wrong-secret').post('/deliveryStatus', event)).status, 202);
  });
});
