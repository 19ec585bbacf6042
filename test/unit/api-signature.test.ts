// HTTP API request signatures (§4.1) and channel authorization signatures (§2.4), checked against requests we
// sign ourselves, Pusher's documented worked examples, and what the real `pusher` server SDK sends.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { type SignedRequest, TIMESTAMP_WINDOW_SECONDS, parseQuery, stringToSign, verifyApiRequest } from '../../src/auth/apiSignature.ts';
import { channelAuthValid, md5Hex, safeEqual, sign } from '../../src/auth/hmac.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { AppConfig } from '../../src/config/schema.ts';
import { HttpError } from '../../src/errors.ts';

const require = createRequire(import.meta.url);

const config = loadConfig({
  env: {},
  fileContents: {
    apps: [
      { id: 'app-id', key: 'app-key', secret: 'app-secret' },
      { id: 'other-app', key: 'other-key', secret: 'other-secret' },
      // Pusher's documented worked example uses these credentials.
      { id: '3', key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' },
    ],
  },
});
const byKey = new Map(config.apps.map((a) => [a.key, a]));
const findAppByKey = (key: string): AppConfig | undefined => byKey.get(key);
const NOW = 1_700_000_000;

/** Independent signer (no code from src): what a correct Pusher client computes. */
function signedRequest(opts: {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: string;
  key?: string;
  secret?: string;
  timestamp?: number | string;
  extra?: Record<string, string>;
  /** Put body_md5 in the query even when the method has no body. */
  bodyMd5?: string | null;
}): SignedRequest {
  const body = opts.body ?? '';
  const params: Record<string, string> = {
    auth_key: opts.key ?? 'app-key',
    auth_timestamp: String(opts.timestamp ?? NOW),
    auth_version: '1.0',
    ...opts.extra,
  };
  const md5 =
    opts.bodyMd5 !== undefined
      ? opts.bodyMd5
      : opts.method === 'POST' || opts.method === 'PUT'
        ? createHash('md5').update(body).digest('hex')
        : null;
  if (md5 !== null) params.body_md5 = md5;
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  const signature = createHmac('sha256', opts.secret ?? 'app-secret')
    .update(`${opts.method}\n${opts.path}\n${canonical}`)
    .digest('hex');
  const query = Object.keys(params)
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k])}`)
    .concat(`auth_signature=${signature}`)
    .join('&');
  return { method: opts.method, path: opts.path, query, body };
}

function verify(req: SignedRequest, routeAppId: string, nowSeconds = NOW): AppConfig {
  return verifyApiRequest(req, parseQuery(req.query), findAppByKey, routeAppId, nowSeconds);
}

/** Asserts fn throws an HttpError with exactly this status, code and (optionally) message. */
function assertHttpError(fn: () => unknown, status: number, code: string, message?: string | RegExp): HttpError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof HttpError, `expected an HttpError, got ${String(caught)}`);
  assert.equal(caught.status, status, `status (message: ${caught.message})`);
  assert.equal(caught.code, code);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else if (message) assert.match(caught.message, message);
  const body = JSON.parse(caught.toBody());
  assert.deepEqual(body, { error: caught.message, code, status });
  return caught;
}

/** Replaces one query parameter's raw value (the rest, including the signature, untouched). */
function withParam(req: SignedRequest, key: string, value: string | null): SignedRequest {
  const parts = req.query.split('&').filter((p) => !p.startsWith(`${key}=`));
  if (value !== null) parts.push(`${key}=${value}`);
  return { ...req, query: parts.join('&') };
}

const EVENTS_BODY = JSON.stringify({ name: 'my-event', channel: 'my-channel', data: '{"hello":"world"}' });

describe('hmac primitives', () => {
  test('sign is lowercase hex HMAC-SHA256 (RFC 4231 test case 2)', () => {
    assert.equal(sign('Jefe', 'what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  test('sign equals createHmac for ASCII, non-ASCII and longer-than-a-block secrets and messages', () => {
    const secrets = ['app-secret', '', 's'.repeat(64), 's'.repeat(65), 'ünïcødé-sécret', '🔑'.repeat(20), '6'.repeat(10), '\u007f\u0000x'];
    const messages = ['', 'POST\n/apps/1/events\nauth_key=k&auth_timestamp=1', 'héllo wörld', '1234.5678:presence-room:{"user_id":"ü"}', 'x'.repeat(5000), 'lone \ud800 surrogate'];
    for (const secret of secrets) {
      for (const message of messages) {
        assert.equal(sign(secret, message), createHmac('sha256', secret).update(message).digest('hex'), `${JSON.stringify(secret)} / ${message.slice(0, 20)}`);
      }
    }
    // Repeated signing with one secret reuses its buffers: results must not bleed into each other.
    const a = sign('app-secret', 'first');
    sign('app-secret', 'second');
    assert.equal(sign('app-secret', 'first'), a);
  });

  test('md5Hex of strings and bytes', () => {
    assert.equal(md5Hex(''), 'd41d8cd98f00b204e9800998ecf8427e');
    assert.equal(md5Hex('héllo'), md5Hex(new TextEncoder().encode('héllo')));
    assert.equal(md5Hex('héllo'), createHash('md5').update(Buffer.from('héllo', 'utf8')).digest('hex'));
  });

  test('safeEqual', () => {
    assert.equal(safeEqual('abc', 'abc'), true);
    assert.equal(safeEqual('abc', 'abd'), false);
    assert.equal(safeEqual('abc', 'abcd'), false);
    assert.equal(safeEqual('', ''), true);
    assert.equal(safeEqual('é', 'e\u0301'), false);
    assert.equal(safeEqual('abcd', 'abc'), false);
    assert.equal(safeEqual('', 'a'), false);
    const hex = sign('secret', 'message');
    assert.equal(safeEqual(hex, sign('secret', 'message')), true);
    assert.equal(safeEqual(hex, `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`), false, 'last character differs');
    assert.equal(safeEqual(hex, `${hex.startsWith('0') ? '1' : '0'}${hex.slice(1)}`), false, 'first character differs');
    // Two different lone surrogates both became U+FFFD when the comparison went through UTF-8 Buffers.
    assert.equal(safeEqual('\ud800', '\ud801'), false);
  });
});

describe('parseQuery', () => {
  test('decodes values and lower-cases keys', () => {
    const q = parseQuery('Auth_Key=app-key&info=user_count%2Csubscription_count&x=a+b');
    assert.equal(q.get('auth_key'), 'app-key');
    assert.equal(q.get('info'), 'user_count,subscription_count');
    assert.equal(q.get('x'), 'a b');
    assert.equal(parseQuery('').size, 0);
  });

  test('a repeated parameter is refused with 400 invalid_input', () => {
    assertHttpError(() => parseQuery('auth_key=a&auth_key=b'), 400, 'invalid_input', /Duplicate query parameter: auth_key/);
    assertHttpError(() => parseQuery('auth_key=a&AUTH_KEY=a'), 400, 'invalid_input', /Duplicate query parameter/);
    assertHttpError(() => parseQuery('info=x&auth_key=a&info=x'), 400, 'invalid_input', /info/);
  });

  test('a signed request with a duplicated auth_signature never reaches verification', () => {
    const req = signedRequest({ method: 'POST', path: '/apps/app-id/events', body: EVENTS_BODY });
    const sig = parseQuery(req.query).get('auth_signature');
    assertHttpError(() => verify({ ...req, query: `${req.query}&auth_signature=${sig}` }, 'app-id'), 400, 'invalid_input');
  });
});

describe('stringToSign', () => {
  test('METHOD\\npath\\nsorted pairs without auth_signature', () => {
    const params = new Map([
      ['body_md5', 'm'],
      ['auth_signature', 'ignored'],
      ['auth_key', 'k'],
      ['auth_version', '1.0'],
      ['auth_timestamp', '5'],
    ]);
    assert.equal(stringToSign('post', '/apps/1/events', params), 'POST\n/apps/1/events\nauth_key=k&auth_timestamp=5&auth_version=1.0&body_md5=m');
  });
});

describe("Pusher's documented worked example", () => {
  // https://pusher.com/docs/channels/library_auth_reference/rest-api/#worked-authentication-example
  const body = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';
  const query =
    'auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f' +
    '&auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c';

  test('is accepted at its own timestamp', () => {
    const app = verify({ method: 'POST', path: '/apps/3/events', query, body }, '3', 1353088179);
    assert.equal(app.id, '3');
  });

  test('is refused 601 s later', () => {
    assertHttpError(() => verify({ method: 'POST', path: '/apps/3/events', query, body }, '3', 1353088179 + 601), 401, 'auth_failed');
  });

  test('private and presence channel auth examples', () => {
    const key = '278d425bdf160c739803';
    const secret = '7ad3773142a6692b25b8';
    assert.ok(
      channelAuthValid(key, secret, '1234.1234', 'private-foobar', `${key}:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4`),
    );
    const channelData = '{"user_id":10,"user_info":{"name":"Mr. Channels"}}';
    assert.ok(
      channelAuthValid(
        key,
        secret,
        '1234.1234',
        'presence-foobar',
        `${key}:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80`,
        channelData,
      ),
    );
  });
});

describe('verifyApiRequest: accepted', () => {
  test('signed POST with body returns the app', () => {
    const app = verify(signedRequest({ method: 'POST', path: '/apps/app-id/events', body: EVENTS_BODY }), 'app-id');
    assert.equal(app.id, 'app-id');
    assert.equal(app.key, 'app-key');
  });

  test('the second app with its own secret', () => {
    const req = signedRequest({ method: 'POST', path: '/apps/other-app/events', body: EVENTS_BODY, key: 'other-key', secret: 'other-secret' });
    assert.equal(verify(req, 'other-app').id, 'other-app');
  });

  test('signed GET without body_md5', () => {
    const req = signedRequest({ method: 'GET', path: '/apps/app-id/channels', extra: { filter_by_prefix: 'presence-' } });
    assert.equal(verify(req, 'app-id').id, 'app-id');
  });

  test('POST with an empty body and the md5 of the empty string', () => {
    const req = signedRequest({ method: 'POST', path: '/apps/app-id/users/u1/terminate_connections', body: '' });
    assert.match(req.query, /body_md5=d41d8cd98f00b204e9800998ecf8427e/);
    assert.equal(verify(req, 'app-id').id, 'app-id');
  });

  test('values are signed decoded: a percent-encoded comma is signed as ","', () => {
    const req = signedRequest({ method: 'GET', path: '/apps/app-id/channels', extra: { info: 'user_count,subscription_count' } });
    assert.match(req.query, /info=user_count%2Csubscription_count/);
    assert.equal(verify(req, 'app-id').id, 'app-id');
  });

  test('a body with non-ASCII text: body_md5 is over its UTF-8 bytes', () => {
    const body = JSON.stringify({ name: 'é', channel: 'c', data: 'ünïcödé ✓' });
    assert.equal(verify(signedRequest({ method: 'POST', path: '/apps/app-id/events', body }), 'app-id').id, 'app-id');
  });

  test(`auth_timestamp within ±${TIMESTAMP_WINDOW_SECONDS} s is accepted`, () => {
    assert.equal(TIMESTAMP_WINDOW_SECONDS, 600);
    for (const offset of [-600, -599, 0, 599, 600]) {
      const req = signedRequest({ method: 'POST', path: '/apps/app-id/events', body: EVENTS_BODY, timestamp: NOW + offset });
      assert.equal(verify(req, 'app-id').id, 'app-id', `offset ${offset}`);
    }
  });
});

describe('verifyApiRequest: refused', () => {
  const path = '/apps/app-id/events';
  const good = () => signedRequest({ method: 'POST', path, body: EVENTS_BODY });

  test('wrong signature: 401 auth_failed "Invalid API signature"', () => {
    const req = good();
    const sig = parseQuery(req.query).get('auth_signature') as string;
    const flipped = (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1);
    assertHttpError(() => verify(withParam(req, 'auth_signature', flipped), 'app-id'), 401, 'auth_failed', 'Invalid API signature');
    assertHttpError(() => verify(withParam(req, 'auth_signature', ''), 'app-id'), 401, 'auth_failed', 'Invalid API signature');
    assertHttpError(() => verify(withParam(req, 'auth_signature', null), 'app-id'), 401, 'auth_failed', 'Invalid API signature');
  });

  test('signed with another secret', () => {
    const req = signedRequest({ method: 'POST', path, body: EVENTS_BODY, secret: 'other-secret' });
    assertHttpError(() => verify(req, 'app-id'), 401, 'auth_failed', 'Invalid API signature');
  });

  test('signature over another body: the body no longer matches body_md5', () => {
    const req = good();
    const other = JSON.stringify({ name: 'evil', channel: 'my-channel', data: 'x' });
    assertHttpError(() => verify({ ...req, body: other }, 'app-id'), 401, 'auth_failed', 'body_md5 mismatch');
  });

  test("signature over another body: body_md5 updated to the new body, signature isn't", () => {
    const req = good();
    const other = JSON.stringify({ name: 'evil', channel: 'my-channel', data: 'x' });
    const tampered = withParam({ ...req, body: other }, 'body_md5', createHash('md5').update(other).digest('hex'));
    assertHttpError(() => verify(tampered, 'app-id'), 401, 'auth_failed', 'Invalid API signature');
  });

  test('POST without body_md5 (even when the rest is correctly signed)', () => {
    const req = signedRequest({ method: 'POST', path, body: EVENTS_BODY, bodyMd5: null });
    assertHttpError(() => verify(req, 'app-id'), 401, 'auth_failed', /^body_md5 is required and must be non-empty/);
    const empty = signedRequest({ method: 'POST', path, body: '', bodyMd5: null });
    assertHttpError(() => verify(empty, 'app-id'), 401, 'auth_failed', /^body_md5 is required/);
    const blank = signedRequest({ method: 'POST', path, body: EVENTS_BODY, bodyMd5: '' });
    assertHttpError(() => verify(blank, 'app-id'), 401, 'auth_failed', /^body_md5 is required/);
  });

  test('PUT needs body_md5 too', () => {
    const req = signedRequest({ method: 'PUT', path, body: EVENTS_BODY, bodyMd5: null });
    assertHttpError(() => verify(req, 'app-id'), 401, 'auth_failed', /^body_md5 is required/);
  });

  test('wrong body_md5 (correctly signed)', () => {
    const req = signedRequest({ method: 'POST', path, body: EVENTS_BODY, bodyMd5: 'd41d8cd98f00b204e9800998ecf8427e' });
    assertHttpError(() => verify(req, 'app-id'), 401, 'auth_failed', 'body_md5 mismatch');
  });

  test('body_md5 present on GET or DELETE (correctly signed)', () => {
    const get = signedRequest({ method: 'GET', path: '/apps/app-id/channels', bodyMd5: 'd41d8cd98f00b204e9800998ecf8427e' });
    assertHttpError(() => verify(get, 'app-id'), 401, 'auth_failed', /^body_md5 must not be present/);
    const emptyValue = signedRequest({ method: 'GET', path: '/apps/app-id/channels', bodyMd5: '' });
    assertHttpError(() => verify(emptyValue, 'app-id'), 401, 'auth_failed', /^body_md5 must not be present/);
    const del = signedRequest({ method: 'DELETE', path: '/apps/app-id/channels/x', bodyMd5: 'd41d8cd98f00b204e9800998ecf8427e' });
    assertHttpError(() => verify(del, 'app-id'), 401, 'auth_failed', /^body_md5 must not be present/);
  });

  test('auth_timestamp 601 s away in either direction', () => {
    for (const offset of [-601, 601, -100_000, 100_000]) {
      const req = signedRequest({ method: 'POST', path, body: EVENTS_BODY, timestamp: NOW + offset });
      assertHttpError(() => verify(req, 'app-id'), 401, 'auth_failed', 'Timestamp expired or too far in the future');
    }
  });

  test('the window moves with the injected clock, not the wall clock', () => {
    const req = signedRequest({ method: 'POST', path, body: EVENTS_BODY, timestamp: NOW });
    assert.equal(verify(req, 'app-id', NOW + 600).id, 'app-id');
    assertHttpError(() => verify(req, 'app-id', NOW + 601), 401, 'auth_failed');
    assertHttpError(() => verify(req, 'app-id', NOW - 601), 401, 'auth_failed');
  });

  test('non-numeric auth_timestamp (correctly signed)', () => {
    for (const ts of ['abc', '12.5', '-5', '1e9', ' 1700000000', '0x10']) {
      const req = signedRequest({ method: 'POST', path, body: EVENTS_BODY, timestamp: ts });
      assertHttpError(() => verify(req, 'app-id'), 401, 'auth_failed', 'Invalid auth_timestamp format');
    }
  });

  test('missing auth_timestamp', () => {
    assertHttpError(() => verify(withParam(good(), 'auth_timestamp', null), 'app-id'), 401, 'auth_failed', 'auth_timestamp is missing');
    assertHttpError(() => verify(withParam(good(), 'auth_timestamp', ''), 'app-id'), 401, 'auth_failed', 'auth_timestamp is missing');
  });

  test("route app id different from the key's app (correctly signed for that path)", () => {
    const req = signedRequest({ method: 'POST', path: '/apps/other-app/events', body: EVENTS_BODY });
    assertHttpError(() => verify(req, 'other-app'), 401, 'auth_failed', 'Authenticated app does not match route app_id');
    const unknownRoute = signedRequest({ method: 'POST', path: '/apps/nope/events', body: EVENTS_BODY });
    assertHttpError(() => verify(unknownRoute, 'nope'), 401, 'auth_failed', 'Authenticated app does not match route app_id');
  });

  test('unknown or missing auth_key: 404 app_not_found', () => {
    const unknown = signedRequest({ method: 'POST', path, body: EVENTS_BODY, key: 'no-such-key' });
    assertHttpError(
      () => verify(unknown, 'app-id'),
      404,
      'app_not_found',
      'Application key not found or invalid: Invalid app key',
    );
    assertHttpError(() => verify(withParam(good(), 'auth_key', null), 'app-id'), 404, 'app_not_found');
    assertHttpError(() => verify(withParam(good(), 'auth_key', ''), 'app-id'), 404, 'app_not_found');
    // Keys are exact: another case is another key.
    assertHttpError(() => verify(signedRequest({ method: 'POST', path, body: EVENTS_BODY, key: 'APP-KEY' }), 'app-id'), 404, 'app_not_found');
  });

  test('an unknown key is reported before a bad timestamp or signature', () => {
    const req = withParam(signedRequest({ method: 'POST', path, body: EVENTS_BODY, key: 'no-such-key', timestamp: 'x' }), 'auth_signature', 'bad');
    assertHttpError(() => verify(req, 'app-id'), 404, 'app_not_found');
  });

  test('tampering with anything signed breaks the signature', () => {
    const req = good();
    // an added parameter
    assertHttpError(() => verify({ ...req, query: `${req.query}&info=subscription_count` }, 'app-id'), 401, 'auth_failed', 'Invalid API signature');
    // another path (same app)
    assertHttpError(() => verify({ ...req, path: '/apps/app-id/batch_events' }, 'app-id'), 401, 'auth_failed', 'Invalid API signature');
    // another method with a body (POST → PUT)
    assertHttpError(() => verify({ ...req, method: 'PUT' }, 'app-id'), 401, 'auth_failed', 'Invalid API signature');
    // auth_version is signed if sent
    assertHttpError(() => verify(withParam(req, 'auth_version', '2.0'), 'app-id'), 401, 'auth_failed', 'Invalid API signature');
    // a changed timestamp inside the window
    assertHttpError(() => verify(withParam(req, 'auth_timestamp', String(NOW + 1)), 'app-id'), 401, 'auth_failed', 'Invalid API signature');
  });
});

describe('the real `pusher` server SDK', () => {
  // The SDK's requests.send signs with createSignedQueryString and then fetches; we keep its signing and
  // capture the request instead of sending it (no network).
  type Captured = SignedRequest & { url: string };
  type SdkConfig = { prefixPath(p: string): string; token: unknown; getBaseURL(): string };
  type SdkOptions = { method: string; path: string; params?: Record<string, string>; body?: unknown };
  const requests = require('pusher/lib/requests.js') as {
    send: (config: SdkConfig, options: SdkOptions) => Promise<unknown>;
    createSignedQueryString: (token: unknown, r: { method: string; path: string; params?: Record<string, string>; body?: string }) => string;
  };
  const Pusher = require('pusher') as new (opts: Record<string, unknown>) => {
    trigger(channels: string | string[], event: string, data: unknown, params?: Record<string, string>): Promise<unknown>;
    triggerBatch(batch: Array<Record<string, unknown>>): Promise<unknown>;
    get(o: { path: string; params?: Record<string, string> }): Promise<unknown>;
    post(o: { path: string; body: unknown }): Promise<unknown>;
    authorizeChannel(socketId: string, channel: string, data?: unknown): { auth: string; channel_data?: string };
  };
  const captured: Captured[] = [];
  const originalSend = requests.send;

  before(() => {
    requests.send = (sdkConfig, options) => {
      // These three lines mirror requests.send before it calls fetch.
      const path = sdkConfig.prefixPath(options.path);
      const body = options.body ? JSON.stringify(options.body) : undefined;
      const query = requests.createSignedQueryString(sdkConfig.token, { method: options.method, path, params: options.params, body });
      captured.push({ method: options.method, path, query, body: body ?? '', url: `${sdkConfig.getBaseURL()}${path}?${query}` });
      return Promise.resolve({ status: 200, json: async () => ({}) });
    };
  });
  after(() => {
    requests.send = originalSend;
  });

  const sdk = (appId: string, key: string, secret: string) => new Pusher({ appId, key, secret, host: '127.0.0.1', port: '6001' });

  async function capture(call: () => Promise<unknown>): Promise<Captured> {
    captured.length = 0;
    await call();
    assert.equal(captured.length, 1, 'the SDK made exactly one request');
    return captured[0];
  }
  const sentAt = (req: SignedRequest) => Number(parseQuery(req.query).get('auth_timestamp'));

  test('trigger (one channel, object data) is accepted', async () => {
    const req = await capture(() => sdk('app-id', 'app-key', 'app-secret').trigger('my-channel', 'my-event', { hello: 'world' }));
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/apps/app-id/events');
    assert.ok(req.url.startsWith('http://127.0.0.1:6001/apps/app-id/events?'));
    assert.equal(verify(req, 'app-id', sentAt(req)).id, 'app-id');
  });

  test('trigger with several channels and socket_id / info params is accepted', async () => {
    const req = await capture(() =>
      sdk('app-id', 'app-key', 'app-secret').trigger(['a', 'b', 'presence-c'], 'ev', 'plain string', { socket_id: '123.456', info: 'subscription_count' }),
    );
    assert.deepEqual(JSON.parse(req.body).channels, ['a', 'b', 'presence-c']);
    assert.equal(verify(req, 'app-id', sentAt(req)).id, 'app-id');
  });

  test('triggerBatch is accepted', async () => {
    const req = await capture(() =>
      sdk('app-id', 'app-key', 'app-secret').triggerBatch([
        { channel: 'a', name: 'e1', data: { n: 1 } },
        { channel: 'b', name: 'e2', data: 'two' },
      ]),
    );
    assert.equal(req.path, '/apps/app-id/batch_events');
    assert.equal(verify(req, 'app-id', sentAt(req)).id, 'app-id');
  });

  test('GET with query params (unencoded comma) is accepted', async () => {
    const req = await capture(() =>
      sdk('app-id', 'app-key', 'app-secret').get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count,subscription_count' } }),
    );
    assert.equal(req.method, 'GET');
    assert.ok(!parseQuery(req.query).has('body_md5'));
    assert.equal(verify(req, 'app-id', sentAt(req)).id, 'app-id');
  });

  test('the other app with its own credentials is accepted', async () => {
    const req = await capture(() => sdk('other-app', 'other-key', 'other-secret').trigger('c', 'e', {}));
    assert.equal(verify(req, 'other-app', sentAt(req)).id, 'other-app');
  });

  test('SDK request at its timestamp ±600 accepted, ±601 refused', async () => {
    const req = await capture(() => sdk('app-id', 'app-key', 'app-secret').trigger('c', 'e', { x: 1 }));
    const ts = sentAt(req);
    assert.equal(verify(req, 'app-id', ts + 600).id, 'app-id');
    assert.equal(verify(req, 'app-id', ts - 600).id, 'app-id');
    assertHttpError(() => verify(req, 'app-id', ts + 601), 401, 'auth_failed', 'Timestamp expired or too far in the future');
    assertHttpError(() => verify(req, 'app-id', ts - 601), 401, 'auth_failed', 'Timestamp expired or too far in the future');
  });

  test('SDK with a wrong secret is refused 401', async () => {
    const req = await capture(() => sdk('app-id', 'app-key', 'not-the-secret').trigger('c', 'e', {}));
    assertHttpError(() => verify(req, 'app-id', sentAt(req)), 401, 'auth_failed', 'Invalid API signature');
  });

  test("SDK configured with another app's id is refused 401 (route app mismatch)", async () => {
    const req = await capture(() => sdk('other-app', 'app-key', 'app-secret').trigger('c', 'e', {}));
    assert.equal(req.path, '/apps/other-app/events');
    assertHttpError(() => verify(req, 'other-app', sentAt(req)), 401, 'auth_failed', 'Authenticated app does not match route app_id');
  });

  test('SDK with an unknown key is refused 404', async () => {
    const req = await capture(() => sdk('app-id', 'nobody', 'app-secret').trigger('c', 'e', {}));
    assertHttpError(() => verify(req, 'app-id', sentAt(req)), 404, 'app_not_found');
  });

  test('SDK body replaced in transit is refused', async () => {
    const req = await capture(() => sdk('app-id', 'app-key', 'app-secret').trigger('c', 'e', { amount: 1 }));
    assertHttpError(() => verify({ ...req, body: req.body.replace('1', '9') }, 'app-id', sentAt(req)), 401, 'auth_failed', 'body_md5 mismatch');
  });

  describe('authorizeChannel output and channelAuthValid', () => {
    const pusher = sdk('app-id', 'app-key', 'app-secret');

    test('private channel', () => {
      const { auth, channel_data } = pusher.authorizeChannel('123.456', 'private-orders');
      assert.equal(channel_data, undefined);
      assert.ok(auth.startsWith('app-key:'));
      assert.equal(channelAuthValid('app-key', 'app-secret', '123.456', 'private-orders', auth), true);
    });

    test('private channel refusals', () => {
      const { auth } = pusher.authorizeChannel('123.456', 'private-orders');
      assert.equal(channelAuthValid('app-key', 'app-secret', '123.457', 'private-orders', auth), false, 'other socket');
      assert.equal(channelAuthValid('app-key', 'app-secret', '123.456', 'private-order', auth), false, 'other channel');
      assert.equal(channelAuthValid('app-key', 'other-secret', '123.456', 'private-orders', auth), false, 'other secret');
      assert.equal(channelAuthValid('other-key', 'app-secret', '123.456', 'private-orders', auth), false, 'key part differs');
      assert.equal(channelAuthValid('app-key', 'app-secret', '123.456', 'private-orders', auth.slice('app-key:'.length)), false, 'no key part');
      assert.equal(channelAuthValid('app-key', 'app-secret', '123.456', 'private-orders', auth.toUpperCase()), false, 'case changed');
      assert.equal(channelAuthValid('app-key', 'app-secret', '123.456', 'private-orders', ''), false, 'empty');
      assert.equal(channelAuthValid('app-key', 'app-secret', '123.456', 'private-orders', `${auth}0`), false, 'extra char');
    });

    test('presence channel with channel_data', () => {
      const member = { user_id: 'u1', user_info: { name: 'Ann' } };
      const { auth, channel_data } = pusher.authorizeChannel('1.2', 'presence-room', member);
      assert.equal(typeof channel_data, 'string');
      assert.equal(channelAuthValid('app-key', 'app-secret', '1.2', 'presence-room', auth, channel_data), true);
      // channel_data is part of the signed message, byte for byte
      assert.equal(channelAuthValid('app-key', 'app-secret', '1.2', 'presence-room', auth), false, 'without channel_data');
      assert.equal(
        channelAuthValid('app-key', 'app-secret', '1.2', 'presence-room', auth, JSON.stringify({ ...member, user_id: 'u2' })),
        false,
        'other user',
      );
      assert.equal(
        channelAuthValid('app-key', 'app-secret', '1.2', 'presence-room', auth, JSON.stringify(member, null, 1)),
        false,
        'same JSON value, other text',
      );
    });

    test('private channel auth with channel_data (signed over socket:channel:data)', () => {
      const { auth, channel_data } = pusher.authorizeChannel('1.2', 'private-x', { user_id: 'u1' });
      assert.equal(channelAuthValid('app-key', 'app-secret', '1.2', 'private-x', auth, channel_data), true);
      assert.equal(channelAuthValid('app-key', 'app-secret', '1.2', 'private-x', auth), false);
    });

    test('an empty channel_data falls back to the private formula', () => {
      const { auth } = pusher.authorizeChannel('1.2', 'presence-room');
      assert.equal(channelAuthValid('app-key', 'app-secret', '1.2', 'presence-room', auth, ''), true);
    });
  });
});
