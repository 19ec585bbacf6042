// WNS channel URIs: URL schemes are case-insensitive, so `HTTPS://…`, accepted at registration, is delivered to.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type PushClient, finalStatus, pushClient, registerDevice } from '../helpers/pushClient.ts';
import { type FcmServer, type WnsServer, startFcmServer, startWnsServer } from '../helpers/pushProviders.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

// The WNS stand-in serves TLS with a self-signed certificate (as in push-hms-wns.test.ts).
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

describe('WNS channel URIs', () => {
  let fcm: FcmServer;
  let wns: WnsServer;
  let server: TestServer;
  let api: PushClient;

  before(async () => {
    [fcm, wns] = await Promise.all([startFcmServer(), startWnsServer()]);
    server = await startTestServer({
      push: {
        acceptance_rps: 1000,
        fcm: { enabled: true, service_account_json: JSON.stringify(fcm.serviceAccount), endpoint: fcm.url },
        wns: { enabled: true, provider_token: wns.accessToken },
        retry: { max_attempts: 2, initial_backoff_ms: 50, max_backoff_ms: 100, jitter_ratio_percent: 20 },
      },
    });
    api = pushClient(server.port);
  });

  after(async () => {
    await server.shutdown();
    await Promise.all([fcm.close(), wns.close()]);
  });

  test('a channel URI registered as HTTPS://… (accepted with 201) is delivered to', async () => {
    const uri = wns.newChannel();
    assert.match(uri, /^https:\/\//);
    const upper = `HTTPS://${uri.slice('https://'.length)}`;
    const reg = await registerDevice(api, 'rv4-windows', { transportType: 'wns', channelUri: upper });
    assert.equal(reg.status, 201);
    const res = await api.post('/publish', { recipients: [{ type: 'device', device_id: 'rv4-windows' }], payload: { title: 'T', body: 'B' } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const status = await finalStatus(api, res.body.publishId);
    assert.equal(status.state, 'succeeded', `accepted at registration, then: ${JSON.stringify(status)}`);
    assert.equal(wns.received.length, 1);
  });
});
