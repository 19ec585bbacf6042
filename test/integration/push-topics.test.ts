// Sockudo's FCM topic and condition targets (SOCKUDO-REFERENCE §6.2 `providerTopic` / `providerCondition`): each is
// one FCM HTTP v1 message carrying `topic` or `condition` instead of `token`, with the payload a device gets. The
// local FCM server takes exactly one of token, topic and condition per message, as FCM does; what it received, the
// publish's final status and counters, and every refusal text are checked.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { finalStatus, pushBed, registerDevice } from '../helpers/pushClient.ts';
import type { FcmMessage } from '../helpers/pushProviders.ts';

const UNREGISTERED = {
  status: 404,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: { code: 404, status: 'NOT_FOUND', message: 'Requested entity was not found.', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] } }),
};

describe('push to FCM topics and conditions', () => {
  const bed = pushBed();
  const sentTo = (target: string): FcmMessage[] => bed.fcm.received.filter((r) => r.deviceId === target).map((r) => r.payload);

  test('a topic and a condition are one FCM message each, rendered as for a device; a duplicate topic is sent once', async () => {
    await registerDevice(bed.api, 't-android', { transportType: 'gcm', registrationToken: 't-android-token' });
    const condition = "'t-scores' in topics && ('t-eu' in topics || !('t-us' in topics))";
    const res = await bed.api.post('/publish', {
      recipients: [
        { type: 'providerTopic', provider: 'fcm', topic: 't-news' },
        { type: 'device', device_id: 't-android' },
        { type: 'providerCondition', provider: 'fcm', condition },
        { type: 'providerTopic', provider: 'fcm', topic: 't-news' }, // the same topic again: one message
      ],
      payload: { title: 'Goal', body: '1-0', icon: 'https://example.test/i.png', collapseKey: 'match-7', templateData: { match: 7 } },
    });
    assert.equal(res.status, 202);
    assert.equal(res.body.expectedRecipients, 3, 'the device, the topic (once) and the condition');
    const status = await finalStatus(bed.api, res.body.publishId);
    assert.equal(status.state, 'succeeded');
    assert.deepEqual(status.counters, { planned: 3, dispatched: 3, succeeded: 3, failed: 0, expired: 0, retryScheduled: 0, retryAttempted: 0, deadLettered: 0 });

    const [device] = sentTo('t-android-token');
    const topic = sentTo('/topics/t-news');
    const byCondition = sentTo(condition);
    assert.equal(topic.length, 1, 'the duplicate topic target is one delivery');
    assert.equal(byCondition.length, 1);
    const { token, ...rendered } = device;
    assert.equal(token, 't-android-token');
    assert.deepEqual(rendered.notification, { title: 'Goal', body: '1-0' });
    assert.deepEqual(rendered.data, { match: '7' });
    assert.deepEqual(topic[0], { ...rendered, topic: 't-news' }, 'the device message with topic instead of token');
    assert.deepEqual(byCondition[0], { ...rendered, condition }, 'the device message with condition instead of token');
  });

  test('an FCM override that names a token or topic does not add a second target: FCM gets the delivery\'s own', async () => {
    const res = await bed.api.post('/publish', {
      recipients: [{ type: 'providerTopic', provider: 'fcm', topic: 't-override' }],
      payload: { title: 'x' },
      providerOverrides: [{ provider: 'fcm', payload: { token: 'someone-else', topic: 'elsewhere', android: { priority: 'high' } } }],
    });
    const status = await finalStatus(bed.api, res.body.publishId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    assert.deepEqual(sentTo('/topics/t-override'), [{ notification: { title: 'x' }, android: { priority: 'high' }, topic: 't-override' }]);
    assert.equal(sentTo('/topics/elsewhere').length + sentTo('someone-else').length, 0);
  });

  test('retries and dead letters work for a topic as for a device: 503 once then sent; 503 always then dead-lettered', async () => {
    bed.fcm.override(({ deviceId, attempt }) => {
      if (deviceId === '/topics/t-flaky' && attempt === 1) return { status: 503, body: '{"error":{"code":503,"status":"UNAVAILABLE"}}' };
      if (deviceId === '/topics/t-down') return { status: 503, body: '{"error":{"code":503,"status":"UNAVAILABLE"}}' };
      return undefined;
    });
    try {
      const flaky = await bed.api.post('/publish', { recipients: [{ type: 'providerTopic', provider: 'fcm', topic: 't-flaky' }], payload: { title: 'again' } });
      const down = await bed.api.post('/publish', { recipients: [{ type: 'providerTopic', provider: 'fcm', topic: 't-down' }], payload: { title: 'never' } });
      const recovered = await finalStatus(bed.api, flaky.body.publishId);
      assert.equal(recovered.state, 'succeeded');
      assert.equal(recovered.counters.succeeded, 1);
      assert.equal(recovered.counters.retryAttempted, 1);
      assert.equal(sentTo('/topics/t-flaky').length, 1);

      const dead = await finalStatus(bed.api, down.body.publishId);
      assert.equal(dead.state, 'dead_lettered');
      assert.equal(dead.counters.deadLettered, 1);
      assert.equal(dead.counters.retryAttempted, 2, 'three attempts in all (max_attempts 3)');
      const letters = await bed.api.get('/deadLetters', { provider: 'fcm' });
      const letter = letters.body.items.find((l: { publishId: string }) => l.publishId === down.body.publishId);
      assert.ok(letter, 'listed as a dead letter');
      assert.equal(letter.deviceId, null);
    } finally {
      bed.fcm.override(undefined);
    }
  });

  test('an UNREGISTERED answer to a topic fails the delivery and touches no device, not even one whose token is the topic name', async () => {
    await registerDevice(bed.api, 't-namesake', { transportType: 'gcm', registrationToken: 't-gone' }, ['t-namesake-channel']);
    bed.fcm.override(({ deviceId }) => (deviceId === '/topics/t-gone' ? UNREGISTERED : undefined));
    try {
      const res = await bed.api.post('/publish', { recipients: [{ type: 'providerTopic', provider: 'fcm', topic: 't-gone' }], payload: { title: 'gone' } });
      const status = await finalStatus(bed.api, res.body.publishId);
      assert.equal(status.state, 'failed');
      assert.equal(status.counters.failed, 1);
      assert.equal(status.counters.retryAttempted, 0, 'not retried');
    } finally {
      bed.fcm.override(undefined);
    }
    const device = await bed.api.get('/deviceRegistrations/t-namesake');
    assert.equal(device.body.pushState, 'ACTIVE');
    const subs = await bed.api.get('/channelSubscriptions', { deviceId: 't-namesake' });
    assert.deepEqual(subs.body.items.map((s: { channel: string }) => s.channel), ['t-namesake-channel']);
    const metrics = await (await fetch(`http://127.0.0.1:${bed.server.metricsPort}/metrics`)).text();
    assert.match(metrics, /sockudo_push_dispatched_total\{provider="fcm",status="failed",app="app-id"\} [1-9]/);
    assert.doesNotMatch(metrics, /sockudo_push_dispatched_total\{provider="fcm",status="invalidToken"/, 'a topic has no token to invalidate');
  });

  test('refusals are JSON 400s naming the field; nothing is stored or sent', async () => {
    const cases: [unknown, string][] = [
      [{ type: 'providerTopic', provider: 'apns', topic: 'news' }, 'recipients[0].provider: "apns" is not supported: providerTopic targets go to FCM only (use "fcm")'],
      [{ type: 'providerCondition', provider: 'webPush', condition: "'a' in topics" }, 'recipients[0].provider: "webPush" is not supported: providerCondition targets go to FCM only (use "fcm")'],
      [{ type: 'providerTopic', provider: 'hms', topic: 'news' }, 'recipients[0].provider: "hms" is not supported: providerTopic targets go to FCM only (use "fcm")'],
      [{ type: 'providerTopic', topic: 'news' }, 'recipients[0].provider: required'],
      [{ type: 'providerTopic', provider: 'fcm' }, 'recipients[0].topic: required'],
      [{ type: 'providerTopic', provider: 'fcm', topic: '  ' }, 'recipients[0].topic: topic must not be empty'],
      [{ type: 'providerTopic', provider: 'fcm', topic: '/topics/news' }, 'recipients[0].topic: not an FCM topic name: 1 to 900 letters, digits and -_.~% (no /topics/ prefix)'],
      [{ type: 'providerTopic', provider: 'fcm', topic: 'x'.repeat(901) }, 'recipients[0].topic: not an FCM topic name: 1 to 900 letters, digits and -_.~% (no /topics/ prefix)'],
      [{ type: 'providerCondition', provider: 'fcm', condition: '' }, 'recipients[0].condition: condition must not be empty'],
      [{ type: 'providerCondition', provider: 'fcm', condition: 7 }, 'recipients[0].condition: a string'],
      [{ type: 'providerCondition', provider: 'fcm', condition: "'a' in topics &&" }, "recipients[0].condition: not an FCM condition: 'topic' in topics terms joined by && and ||, with ! and parentheses"],
      [{ type: 'providerCondition', provider: 'fcm', condition: "'a' in topics & 'b' in topics" }, "recipients[0].condition: not an FCM condition: 'topic' in topics terms joined by && and ||, with ! and parentheses"],
      [{ type: 'providerCondition', provider: 'fcm', condition: "('a' in topics" }, "recipients[0].condition: not an FCM condition: 'topic' in topics terms joined by && and ||, with ! and parentheses"],
      [
        { type: 'providerCondition', provider: 'fcm', condition: ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => `'${t}' in topics`).join(' || ') },
        'recipients[0].condition: an FCM condition names at most 5 topics',
      ],
      [{ type: 'providerCondition', provider: 'fcm', condition: "'a b' in topics" }, 'recipients[0].condition: "a b" is not an FCM topic name: 1 to 900 letters, digits and -_.~%'],
      [{ type: 'registeredTopic', topic: 't' }, 'recipients[0].type: "registeredTopic" is not supported; use channel, device, client, recipient, providerTopic or providerCondition'],
    ];
    const sent = bed.fcm.requests;
    for (const [target, error] of cases) {
      const res = await bed.api.post('/publish', { recipients: [target], payload: { title: 'x' } });
      assert.equal(res.status, 400, JSON.stringify(target).slice(0, 100));
      assert.deepEqual(res.body, { error, code: 'invalid_input', status: 400 });
    }
    // The field is named by its place in the list.
    const second = await bed.api.post('/publish', { recipients: [{ type: 'providerTopic', provider: 'fcm', topic: 'ok' }, { type: 'providerTopic', provider: 'fcm', topic: '' }], payload: {} });
    assert.equal(second.body.error, 'recipients[1].topic: topic must not be empty');
    assert.equal((await bed.api.post('/publish', { publishId: 't-refused', recipients: [{ type: 'providerTopic', provider: 'apns', topic: 'n' }], payload: {} })).status, 400);
    assert.equal((await bed.api.get('/publish/t-refused/status')).status, 404, 'a refused publish is not stored');
    assert.equal(bed.fcm.requests, sent, 'nothing reached FCM');
  });
});
