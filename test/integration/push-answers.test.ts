// Push answers as Sockudo shapes them (SOCKUDO-REFERENCE §6.3, §6.4): the rendered FCM payload is the body of its v1
// request, {"message": …}; a channel subscription's 201 echoes credentialVersion.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pushBed, registerDevice } from '../helpers/pushClient.ts';
import { signedUrl } from '../helpers/signing.ts';

const APNS_TOKEN = 'b'.repeat(64);

describe('push publish answers', () => {
  const bed = pushBed();

  async function signedPost(path: string, body: unknown, extra: Record<string, string> = {}) {
    const text = JSON.stringify(body);
    const url = signedUrl(`http://127.0.0.1:${bed.server.port}`, { method: 'POST', path: `/apps/app-id/push${path}`, body: text, extra });
    const res = await fetch(url, { method: 'POST', body: text, headers: { 'content-type': 'application/json' } });
    return { status: res.status, headers: res.headers, body: JSON.parse(await res.text()) };
  }

  test('§6.4: the rendered FCM payload is {"message":{"notification":{title,body},…}}', async () => {
    const res = await bed.api.post('/publish', { recipients: [{ type: 'channel', channel: 'r2-nobody' }], payload: { title: 'T', body: 'B' } });
    assert.equal(res.status, 202);
    const fcm = (res.body.renderedPayloads as { provider: string; payload: any }[]).find((p) => p.provider === 'fcm');
    assert.deepEqual(fcm?.payload.message?.notification, { title: 'T', body: 'B' });
  });

});

describe('push channel subscriptions', () => {
  const bed = pushBed();

  const full = (id: string, recipient: Record<string, unknown>) => ({
    appId: 'app-id',
    id,
    formFactor: 'phone',
    platform: 'android',
    metadata: {},
    deviceSecret: 'placeholder',
    timezone: 'UTC',
    locale: 'en',
    push: { state: 'ACTIVE', recipient },
  });

  test('§6.3: channelSubscriptions POST answers 201 with an echo of the body, credentialVersion included', async () => {
    const reg = await registerDevice(bed.api, 'r2-echo', { transportType: 'apns', deviceToken: APNS_TOKEN });
    const body = { appId: 'app-id', channel: 'r2-echo-ch', deviceId: 'r2-echo', clientId: 'u-echo', provider: 'apns', tokenHash: reg.body.tokenHash, credentialVersion: 'v7' };
    const res = await bed.api.post('/channelSubscriptions', body);
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, body);
  });

});

