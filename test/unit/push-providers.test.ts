// The local push-provider servers (test/helpers/pushProviders.ts) against requests built the way real
// clients build them — web-push for Web Push, jose-signed JWTs for FCM and APNs, fetch and node:http2 —
// so the integration tests that rely on these servers rest on servers that accept what the real
// providers accept and refuse what they refuse; and how the HMS and WNS senders read those providers' answers.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { SignJWT, importPKCS8 } from 'jose';
import webpush from 'web-push';
import { classifyHms } from '../../src/push/providers/hms.ts';
import { classifyWns, wnsType } from '../../src/push/providers/wns.ts';
import {
  type ApnsServer,
  type FcmServer,
  type HmsServer,
  type WebPushService,
  type WebPushSubscription,
  type WnsServer,
  hmsAnswer,
  startApnsServer,
  startFcmServer,
  startHmsServer,
  startWebPushService,
  startWnsServer,
} from '../helpers/pushProviders.ts';

// ---------------------------------------------------------------------------------------------------
// Web Push
// ---------------------------------------------------------------------------------------------------

describe('Web Push service', () => {
  let service: WebPushService;
  const vapid = webpush.generateVAPIDKeys();

  before(async () => {
    service = await startWebPushService();
  });
  after(() => service.close());

  /** web-push's own request (aes128gcm + VAPID), sent with fetch. */
  function pushRequest(subscription: WebPushSubscription, payload: unknown, keys = vapid): { url: string; init: RequestInit } {
    const details = webpush.generateRequestDetails(subscription, JSON.stringify(payload), {
      vapidDetails: { subject: 'mailto:t@example.com', publicKey: keys.publicKey, privateKey: keys.privateKey },
      contentEncoding: 'aes128gcm',
    });
    const headers = { ...details.headers } as Record<string, string>;
    delete headers['Content-Length']; // fetch computes it from the body
    return { url: details.endpoint, init: { method: details.method, headers, body: new Uint8Array(details.body) } };
  }

  async function push(subscription: WebPushSubscription, payload: unknown, keys = vapid): Promise<Response> {
    const { url, init } = pushRequest(subscription, payload, keys);
    return fetch(url, init);
  }

  test('accepts an encrypted, VAPID-signed push and decrypts it', async () => {
    const subscription = service.newSubscription(vapid.publicKey);
    const payload = { title: 'Hello', body: 'from the test', n: 1 };
    const res = await push(subscription, payload);
    assert.equal(res.status, 201);
    assert.match(res.headers.get('location') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/m\//);
    const delivery = service.received.at(-1)!;
    assert.equal(subscription.endpoint.endsWith(`/wp/${delivery.deviceId}`), true);
    assert.deepEqual(delivery.payload, payload);
    assert.equal(delivery.headers['content-encoding'], 'aes128gcm');
    assert.ok(service.vapidPublicKeysSeen.has(vapid.publicKey));
  });

  test('refuses a JWT not signed by the key in k (403)', async () => {
    const other = webpush.generateVAPIDKeys();
    const forged = { publicKey: vapid.publicKey, privateKey: other.privateKey };
    const before = service.stats.badAuth;
    const res = await push(service.newSubscription(), { x: 1 }, forged);
    assert.equal(res.status, 403);
    assert.equal(service.stats.badAuth, before + 1);
  });

  test('refuses another application server on a restricted subscription (403), and no auth at all (401)', async () => {
    const subscription = service.newSubscription(vapid.publicKey);
    assert.equal((await push(subscription, { x: 1 }, webpush.generateVAPIDKeys())).status, 403);
    const { url, init } = pushRequest(subscription, { x: 1 });
    delete (init.headers as Record<string, string>).Authorization;
    const res = await fetch(url, init);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'vapid');
  });

  test('refuses a body it cannot decrypt (400) and a push without TTL (400)', async () => {
    const subscription = service.newSubscription();
    const tampered = pushRequest(subscription, { x: 1 });
    const body = Buffer.from(tampered.init.body as Uint8Array);
    body[body.length - 1]! ^= 0xff;
    const before = service.stats.badPayload;
    assert.equal((await fetch(tampered.url, { ...tampered.init, body })).status, 400);
    assert.equal(service.stats.badPayload, before + 1);

    const noTtl = pushRequest(subscription, { x: 1 });
    delete (noTtl.init.headers as Record<string, string>).TTL;
    assert.equal((await fetch(noTtl.url, noTtl.init)).status, 400);
  });

  test('answers 410 Gone for unregistered and unknown subscriptions', async () => {
    const subscription = service.newSubscription();
    service.unregister(subscription.endpoint.split('/').at(-1)!);
    assert.equal((await push(subscription, { x: 1 })).status, 410);
    const unknown = { ...subscription, endpoint: `${service.url}/wp/nobody` };
    assert.equal((await push(unknown, { x: 1 })).status, 410);
  });

  test('override injects 429 + Retry-After on the first attempt, then accepts', async () => {
    const subscription = service.newSubscription();
    const seen: number[] = [];
    service.override(({ attempt }) => {
      seen.push(attempt);
      return attempt === 1 ? { status: 429, headers: { 'retry-after': '1' } } : undefined;
    });
    try {
      const count = service.received.length;
      const first = await push(subscription, { x: 1 });
      assert.equal(first.status, 429);
      assert.equal(first.headers.get('retry-after'), '1');
      assert.equal(service.received.length, count);
      assert.equal((await push(subscription, { x: 2 })).status, 201);
      assert.deepEqual(service.received.at(-1)!.payload, { x: 2 });
      assert.deepEqual(seen, [1, 2]);
    } finally {
      service.override(undefined);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// FCM HTTP v1
// ---------------------------------------------------------------------------------------------------

describe('FCM HTTP v1', () => {
  let fcm: FcmServer;
  before(async () => {
    fcm = await startFcmServer();
  });
  after(() => fcm.close());

  /** The JWT-bearer assertion google-auth-library signs with the service account key. */
  async function assertion(privateKeyPem = fcm.serviceAccount.private_key): Promise<string> {
    const sa = fcm.serviceAccount;
    return new SignJWT({ scope: 'https://www.googleapis.com/auth/firebase.messaging' })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: sa.private_key_id })
      .setIssuer(sa.client_email)
      .setAudience(sa.token_uri)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(await importPKCS8(privateKeyPem, 'RS256'));
  }

  async function tokenRequest(jwt: string): Promise<Response> {
    const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwt });
    return fetch(fcm.serviceAccount.token_uri, { method: 'POST', body });
  }

  async function accessToken(): Promise<string> {
    const res = await tokenRequest(await assertion());
    assert.equal(res.status, 200);
    const json = (await res.json()) as { access_token: string; expires_in: number; token_type: string };
    assert.equal(json.token_type, 'Bearer');
    assert.equal(json.expires_in, 3600);
    return json.access_token;
  }

  function send(token: string, message: unknown): Promise<Response> {
    return fetch(`${fcm.url}/v1/projects/${fcm.projectId}/messages:send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message }),
    });
  }

  test('exchanges a signed assertion for a token and accepts a message', async () => {
    const token = await accessToken();
    const message = { token: 'device-a', notification: { title: 'Hi', body: 'there' }, data: { k: 'v' } };
    const res = await send(token, message);
    assert.equal(res.status, 200);
    const { name } = (await res.json()) as { name: string };
    assert.ok(name.startsWith(`projects/${fcm.projectId}/messages/`));
    const delivery = fcm.received.at(-1)!;
    assert.equal(delivery.deviceId, 'device-a');
    assert.deepEqual(delivery.payload, message);
    assert.ok(fcm.tokensIssued >= 1);
  });

  test('refuses an assertion signed with another key (invalid_grant)', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const res = await tokenRequest(await assertion(stranger));
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
  });

  test('refuses non-string data values (INVALID_ARGUMENT)', async () => {
    const before = fcm.stats.badPayload;
    const res = await send(await accessToken(), { token: 'device-b', data: { count: 3 } });
    assert.equal(res.status, 400);
    const { error } = (await res.json()) as { error: { status: string; message: string } };
    assert.equal(error.status, 'INVALID_ARGUMENT');
    assert.match(error.message, /^Invalid value at 'message\.data/);
    assert.equal(fcm.stats.badPayload, before + 1);
  });

  test('revoked tokens get 401 UNAUTHENTICATED; a fresh token works', async () => {
    const old = await accessToken();
    fcm.revokeTokens();
    const res = await send(old, { token: 'device-c' });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { status: string } }).error.status, 'UNAUTHENTICATED');
    assert.equal((await send(await accessToken(), { token: 'device-c' })).status, 200);
  });

  test('unregistered tokens get 404 UNREGISTERED; override can inject 503', async () => {
    const token = await accessToken();
    fcm.unregister('device-gone');
    const res = await send(token, { token: 'device-gone' });
    assert.equal(res.status, 404);
    const { error } = (await res.json()) as { error: { status: string; details: { errorCode: string }[] } };
    assert.equal(error.status, 'NOT_FOUND');
    assert.equal(error.details[0]!.errorCode, 'UNREGISTERED');

    fcm.override(() => ({ status: 503, headers: { 'retry-after': '2' } }));
    try {
      const unavailable = await send(token, { token: 'device-d' });
      assert.equal(unavailable.status, 503);
      assert.equal(unavailable.headers.get('retry-after'), '2');
      assert.equal(fcm.received.some((d) => d.deviceId === 'device-d'), false);
    } finally {
      fcm.override(undefined);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// APNs
// ---------------------------------------------------------------------------------------------------

interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

describe('APNs (HTTP/2)', () => {
  let apns: ApnsServer;
  let client: http2.ClientHttp2Session;
  let providerToken: string;
  const device = randomBytes(32).toString('hex');

  /** An APNs provider token: ES256, kid = key id, iss = team id, iat. */
  async function signProviderToken(opts: { kid?: string; iat?: number } = {}): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? apns.keyId })
      .setIssuer(apns.teamId)
      .setIssuedAt(opts.iat ?? Math.floor(Date.now() / 1000))
      .sign(await importPKCS8(apns.privateKeyPem, 'ES256'));
  }

  before(async () => {
    apns = await startApnsServer();
    client = http2.connect(apns.url);
    providerToken = await signProviderToken();
  });
  after(async () => {
    client.close();
    await apns.close();
  });

  function post(token: string, body: unknown, headers: Record<string, string> = {}, jwt = providerToken): Promise<H2Response> {
    return new Promise((resolve, reject) => {
      const stream = client.request({
        ':method': 'POST',
        ':path': `/3/device/${token}`,
        authorization: `bearer ${jwt}`,
        'apns-topic': apns.topic,
        'apns-push-type': 'alert',
        ...headers,
      });
      let data = '';
      let responseHeaders: http2.IncomingHttpHeaders = {};
      stream.on('response', (h) => (responseHeaders = h));
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (data += chunk));
      stream.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: data }));
      stream.on('error', reject);
      stream.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
  }

  const reason = (res: H2Response): string => (JSON.parse(res.body) as { reason: string }).reason;

  test('accepts a signed notification, echoes apns-id, and sees one reused provider token', async () => {
    const apnsId = '123e4567-e89b-12d3-a456-426614174000';
    const payload = { aps: { alert: { title: 'Hi', body: 'there' } }, extra: 1 };
    const res = await post(device, payload, { 'apns-id': apnsId, 'apns-priority': '10' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['apns-id'], apnsId);
    const second = await post(device, { aps: { 'content-available': 1 } }, { 'apns-push-type': 'background', 'apns-priority': '5' });
    assert.equal(second.status, 200);
    assert.match(String(second.headers['apns-id']), /^[0-9a-f-]{36}$/);
    assert.deepEqual(apns.received.at(-2)!.payload, payload);
    assert.equal(apns.received.at(-1)!.deviceId, device);
    assert.equal(apns.providerTokensSeen.size, 1);
  });

  test('refuses bad provider tokens: wrong kid (InvalidProviderToken), stale iat (ExpiredProviderToken)', async () => {
    const wrongKid = await post(device, { aps: {} }, {}, await signProviderToken({ kid: 'ABCDEFGHIJ' }));
    assert.equal(wrongKid.status, 403);
    assert.equal(reason(wrongKid), 'InvalidProviderToken');
    const stale = await post(device, { aps: {} }, {}, await signProviderToken({ iat: Math.floor(Date.now() / 1000) - 2 * 3600 }));
    assert.equal(stale.status, 403);
    assert.equal(reason(stale), 'ExpiredProviderToken');
  });

  test('refuses wrong topic, bad device token, payload without aps, and oversized payloads', async () => {
    const topic = await post(device, { aps: {} }, { 'apns-topic': 'com.other.app' });
    assert.deepEqual([topic.status, reason(topic)], [400, 'TopicDisallowed']);
    const badToken = await post('not-hex', { aps: {} });
    assert.deepEqual([badToken.status, reason(badToken)], [400, 'BadDeviceToken']);
    const noAps = await post(device, { alert: 'x' });
    assert.equal(noAps.status, 400);
    const big = await post(device, { aps: { alert: 'x'.repeat(5000) } });
    assert.deepEqual([big.status, reason(big)], [413, 'PayloadTooLarge']);
  });

  test('unregistered device gets 410 Unregistered with a timestamp; override injects 429', async () => {
    const gone = randomBytes(32).toString('hex');
    apns.unregister(gone);
    const res = await post(gone, { aps: {} });
    assert.equal(res.status, 410);
    const body = JSON.parse(res.body) as { reason: string; timestamp: number };
    assert.equal(body.reason, 'Unregistered');
    assert.ok(body.timestamp <= Date.now());

    apns.override(({ attempt }) => (attempt === 1 ? { status: 429, body: JSON.stringify({ reason: 'TooManyRequests' }) } : undefined));
    apns.delayMs = 30;
    try {
      const fresh = randomBytes(32).toString('hex');
      const started = Date.now();
      const limited = await post(fresh, { aps: {} });
      assert.deepEqual([limited.status, reason(limited)], [429, 'TooManyRequests']);
      assert.ok(Date.now() - started >= 25);
      assert.equal((await post(fresh, { aps: {} })).status, 200);
    } finally {
      apns.override(undefined);
      apns.delayMs = 0;
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// HMS (Huawei Push Kit) and WNS: the servers, and how the senders read their answers
// ---------------------------------------------------------------------------------------------------

describe('HMS server API v1', () => {
  let hms: HmsServer;
  before(async () => {
    hms = await startHmsServer();
  });
  after(() => hms.close());

  const send = (message: unknown, { token = hms.accessToken, app = hms.appId } = {}) =>
    fetch(`${hms.url}/v1/${app}/messages:send`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ message }) });
  const notification = { notification: { title: 't' }, android: { notification: { click_action: { type: 3 } } } };

  test('accepts a message with the app id and the bearer token: 200 code 80000000', async () => {
    const res = await send({ ...notification, token: ['t1'], data: '{"a":1}' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { code: string; msg: string; requestId: string };
    assert.deepEqual([body.code, body.msg], ['80000000', 'Success']);
    assert.match(body.requestId, /^\d+[0-9a-f]+$/);
    assert.deepEqual(hms.received.at(-1)?.deviceId, 't1');
  });

  test("refuses another app's URL or token (401 80200001), an object as data, a string collapse_key, a missing click_action", async () => {
    const code = async (res: Response) => [res.status, ((await res.json()) as { code: string }).code];
    assert.deepEqual(await code(await send({ ...notification, token: ['t1'] }, { token: 'forged' })), [401, '80200001']);
    assert.deepEqual(await code(await send({ ...notification, token: ['t1'] }, { app: '1' })), [401, '80200001']);
    assert.deepEqual(await code(await send({ ...notification, token: ['t1'], data: { a: 1 } })), [400, '80100003']);
    assert.deepEqual(await code(await send({ ...notification, token: ['t1'], android: { collapse_key: 'k', notification: { click_action: { type: 3 } } } })), [400, '80100001']);
    assert.deepEqual(await code(await send({ notification: { title: 't' }, token: ['t1'] })), [400, '80100001']);
    assert.deepEqual(await code(await send({ ...notification, token: [] })), [400, '80300010']);
  });

  test('an unregistered token gets 80300007; override can inject a 503', async () => {
    hms.unregister('gone');
    const res = await send({ ...notification, token: ['gone'] });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: string }).code, '80300007');
    hms.override(({ attempt }) => (attempt === 1 ? hmsAnswer(503, '81000001', 'System internal error') : undefined));
    try {
      assert.equal((await send({ ...notification, token: ['flaky'] })).status, 503);
      assert.equal((await send({ ...notification, token: ['flaky'] })).status, 200);
    } finally {
      hms.override(undefined);
    }
  });
});

describe('WNS', () => {
  let wns: WnsServer;
  const insecure = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  before(async () => {
    // The stand-in's certificate is self-signed.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    wns = await startWnsServer();
  });
  after(async () => {
    await wns.close();
    if (insecure === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = insecure;
  });

  const send = (uri: string, headers: Record<string, string> = {}, body = '{"type":"toast"}') =>
    fetch(uri, { method: 'POST', headers: { authorization: `Bearer ${wns.accessToken}`, 'x-wns-type': 'wns/toast', 'content-type': 'application/json', ...headers }, body });

  test('accepts a toast on an issued channel URI over https: 200 received with a message id', async () => {
    const uri = wns.newChannel();
    assert.match(uri, /^https:\/\/127\.0\.0\.1:\d+\/\?token=/);
    const res = await send(uri);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-wns-notificationstatus'), 'received');
    assert.match(res.headers.get('x-wns-msg-id') ?? '', /^[0-9A-F]{16}$/);
    assert.deepEqual(wns.received.at(-1)?.payload, { type: 'toast' });
  });

  test('refuses a wrong token (401), a missing x-wns-type (400), raw without octet-stream (400), 5001 bytes (413), an unknown URI (404); an expired one is 410', async () => {
    const uri = wns.newChannel();
    assert.equal((await send(uri, { authorization: 'Bearer forged' })).status, 401);
    assert.equal((await send(uri, { 'x-wns-type': '' })).status, 400);
    assert.equal((await send(uri, { 'x-wns-type': 'wns/raw' })).status, 400);
    assert.equal((await send(uri, {}, JSON.stringify({ pad: 'x'.repeat(5000) }))).status, 413);
    assert.equal((await send(`${wns.url}/?token=never-issued`)).status, 404);
    wns.unregister(new URL(uri).searchParams.get('token') as string);
    assert.equal((await send(uri)).status, 410);
  });
});

describe('reading HMS and WNS answers', () => {
  const hmsBody = (code: string, msg: string) => JSON.stringify({ code, msg, requestId: '1' });

  test('HMS: success is a 2xx with code 80000000 (or none); 80300007, 80100000, 404 and 410 invalidate the token', () => {
    assert.deepEqual(classifyHms(200, hmsBody('80000000', 'Success'), undefined), { kind: 'ok' });
    assert.deepEqual(classifyHms(200, '', undefined), { kind: 'ok' });
    assert.equal(classifyHms(400, hmsBody('80300007', 'All the tokens are invalid'), undefined).kind, 'invalidToken');
    assert.equal(classifyHms(200, hmsBody('80100000', 'Some tokens are right, others are illegal'), undefined).kind, 'invalidToken');
    assert.equal(classifyHms(404, 'not found', undefined).kind, 'invalidToken');
    assert.equal(classifyHms(410, '', undefined).kind, 'invalidToken');
    assert.equal(classifyHms(400, '{"msg":"token does not exist"}', undefined).kind, 'invalidToken', "Sockudo's body test");
  });

  test('HMS: credentials and payload refusals fail the delivery without touching the device; 429, quota and 5xx are retried', () => {
    assert.deepEqual(classifyHms(401, hmsBody('80200003', 'OAuth token expired'), undefined), { kind: 'failed', error: 'credentials refused: 401: 80200003 OAuth token expired' });
    assert.equal(classifyHms(401, '{"msg":"access token invalid"}', undefined).kind, 'failed', 'a refused access token is not a dead device token');
    assert.equal(classifyHms(200, hmsBody('80200001', 'Oauth authentication error'), undefined).kind, 'failed');
    assert.equal(classifyHms(400, hmsBody('80300008', 'The message body size exceeds the default value'), undefined).kind, 'failed');
    assert.equal(classifyHms(413, '', undefined).kind, 'failed');
    assert.equal(classifyHms(400, hmsBody('80100003', 'Incorrect message structure'), undefined).kind, 'failed');
    assert.deepEqual(classifyHms(429, hmsBody('80300011', 'too many'), 2000), { kind: 'retry', error: 'throttled: 429: 80300011 too many', retryAfterMs: 2000 });
    assert.equal(classifyHms(400, '{"msg":"daily quota exceeded"}', undefined).kind, 'retry');
    assert.deepEqual(classifyHms(503, hmsBody('81000001', 'System internal error'), 1000), { kind: 'retry', error: '503: 81000001 System internal error', retryAfterMs: 1000 });
  });

  test('WNS: 200-202 ok; 404/410 invalidate the channel; 401/403/413/400 fail; 406, 429 and 5xx are retried with Retry-After', () => {
    for (const s of [200, 201, 202]) assert.deepEqual(classifyWns(s, '', undefined), { kind: 'ok' });
    assert.equal(classifyWns(404, '', undefined).kind, 'invalidToken');
    assert.deepEqual(classifyWns(410, 'Channel expired', undefined), { kind: 'invalidToken', error: '410: channel URI expired (Channel expired)' });
    for (const s of [400, 401, 403, 405, 413]) assert.equal(classifyWns(s, '', undefined).kind, 'failed', String(s));
    assert.deepEqual(classifyWns(429, 'slow down', 3000), { kind: 'retry', error: '429 throttled: slow down', retryAfterMs: 3000 });
    assert.equal(classifyWns(406, '', undefined).kind, 'retry');
    assert.equal(classifyWns(503, '', undefined).kind, 'retry');
  });

  test("WNS type: the publish's override type, else the configured one; not one of WNS's: null", () => {
    assert.equal(wnsType(undefined, 'toast'), 'toast');
    assert.equal(wnsType(undefined, 'raw'), 'raw');
    assert.equal(wnsType('tile', 'toast'), 'tile');
    assert.equal(wnsType('badge', 'toast'), null);
    assert.equal(wnsType(3, 'toast'), null);
  });
});
