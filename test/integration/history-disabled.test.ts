// Sockudo's durable history, versioned (mutable) messages, annotations and presence history, which this server does
// not keep, answered as Sockudo answers them with those features off (its default): HTTP 422 `feature_disabled`
// after the signature check, and an error frame for a V2 `channel_history` request (SOCKUDO-REFERENCE §1.5, §3.10,
// §4.2, §4.6, §4.7; the texts are Sockudo's http_handler/{history,versioned_messages,annotations,presence_history}
// and sockudo-adapter handler/history_frames.rs, see /tmp/history-research.md).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient, V2_QUERY, serverSdk } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

// Not the development app: that one takes unsigned calls in development mode, and these must be refused.
const app = { id: 'hist', key: 'hist-key', secret: 'hist-secret' };

describe('history, mutable messages, annotations, presence history: disabled as in Sockudo', () => {
  let server: TestServer;
  let base: string;
  let sdk: ReturnType<typeof serverSdk>;

  before(async () => {
    server = await startTestServer({ apps: [app] });
    base = `http://127.0.0.1:${server.port}`;
    sdk = serverSdk(server.port, app);
  });
  after(() => server.shutdown());

  /** The pusher SDK's answer (it throws a RequestError with status and body for anything but 2xx). */
  async function answer(p: Promise<{ status: number; text(): Promise<string> }>) {
    let status: number;
    let body: string;
    try {
      const res = await p;
      status = res.status;
      body = await res.text();
    } catch (err) {
      const e = err as { status?: number; body?: string };
      if (e.status === undefined) throw err;
      status = e.status;
      body = e.body ?? '';
    }
    return { status, body, json: JSON.parse(body) as Record<string, unknown> };
  }

  const get = (path: string, params: Record<string, string> = {}) => answer(sdk.get({ path, params }));
  // The SDK JSON-encodes `body`; its typings say string.
  const post = (path: string, body: unknown) => answer(sdk.post({ path, body: body as string }));

  /** A request signed by hand (DELETE, forged signatures, other content types). */
  async function raw(method: string, path: string, body?: string, opts: { contentType?: string; override?: Record<string, string>; unsigned?: boolean } = {}) {
    const url = opts.unsigned ? `${base}/apps/${app.id}${path}` : signedUrl(base, { method, path: `/apps/${app.id}${path}`, body, key: app.key, secret: app.secret, override: opts.override });
    const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': opts.contentType ?? 'application/json' };
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    return { status: res.status, body: text, json: JSON.parse(text) as Record<string, unknown> };
  }

  const disabled = (error: string) => ({ error, code: 'feature_disabled', status: 422 });

  test('durable history routes: 422 feature_disabled, "Durable history is disabled by policy for channel \'…\'"', async () => {
    // Ref §4.6 l.521 "History disabled ⇒ 422 feature_disabled"; the text is history/mod.rs (all four handlers).
    const expected = disabled("Durable history is disabled by policy for channel 'orders'");
    for (const res of [
      await get('/channels/orders/history', { limit: '10', direction: 'newest_first' }),
      await get('/channels/orders/history/state'),
      await post('/channels/orders/history/reset', { confirm_channel: 'orders', confirm_operation: 'reset', reason: 'test' }),
      await post('/channels/orders/history/purge', { confirm_channel: 'orders', confirm_operation: 'purge', mode: 'all', reason: 'test' }),
    ]) {
      assert.equal(res.status, 422, res.body);
      assert.deepEqual(res.json, expected);
    }
  });

  test('mutable-message and annotation routes: 422, "Versioned messages are disabled for channel \'…\'"', async () => {
    // Ref §4.7; every messages/* handler (annotations included) calls require_versioned_messages_enabled first
    // (versioned_messages/mod.rs, mutations.rs, annotations/mod.rs).
    const expected = disabled("Versioned messages are disabled for channel 'orders'");
    const m = '/channels/orders/messages/msg-1';
    for (const res of [
      await get(m),
      await get(`${m}/versions`),
      await post(`${m}/update`, { data: 'new', description: 'edit' }),
      await post(`${m}/delete`, {}),
      await post(`${m}/append`, { data: ' more' }),
      await get(`${m}/annotations`, { type: 'reaction:distinct.v1' }),
      await post(`${m}/annotations`, { type: 'reaction:distinct.v1', name: '👍' }),
      await raw('DELETE', `${m}/annotations/ann-1`),
    ]) {
      assert.equal(res.status, 422, res.body);
      assert.deepEqual(res.json, expected);
    }
  });

  test('presence history routes: 422 on a presence channel, 400 "Only presence channels support this endpoint" on others', async () => {
    // presence_history/mod.rs: the presence- prefix is checked before the policy.
    const expected = disabled("Presence history is disabled by policy for channel 'presence-room'");
    const reset = { confirm_channel: 'presence-room', confirm_operation: 'reset', reason: 'test' };
    for (const res of [
      await get('/channels/presence-room/presence/history'),
      await get('/channels/presence-room/presence/history/state'),
      await get('/channels/presence-room/presence/history/snapshot', { at_serial: '3' }),
      await post('/channels/presence-room/presence/history/reset', reset),
    ]) {
      assert.equal(res.status, 422, res.body);
      assert.deepEqual(res.json, expected);
    }
    const other = await get('/channels/orders/presence/history');
    assert.equal(other.status, 400, other.body);
    assert.deepEqual(other.json, { error: 'Only presence channels support this endpoint', code: 'invalid_input', status: 400 });
  });

  test('an invalid channel name is refused first, as on the other channel routes (400 invalid_input)', async () => {
    // Every handler starts with validate_channel_name.
    for (const path of ['/channels/bad!name/history', '/channels/bad!name/messages/1', '/channels/bad!name/presence/history']) {
      const res = await get(path);
      assert.equal(res.status, 400, res.body);
      assert.equal(res.json.code, 'invalid_input');
      assert.match(res.json.error as string, /^Invalid channel name: Channel name contains invalid characters: 'bad!name'/);
    }
  });

  test('the signature is checked first: a bad signature is 401, no query at all is 400', async () => {
    // Ref §4.1: every /apps/{appId}/… route, these included (router.rs), is behind pusher_api_auth_middleware.
    const forged = { auth_signature: '0'.repeat(64) };
    for (const [method, path, body] of [
      ['GET', '/channels/orders/history', undefined],
      ['POST', '/channels/orders/history/reset', '{}'],
      ['GET', '/channels/orders/messages/1', undefined],
      ['DELETE', '/channels/orders/messages/1/annotations/2', undefined],
      ['GET', '/channels/presence-room/presence/history', undefined],
    ] as const) {
      const bad = await raw(method, path, body, { override: forged });
      assert.equal(bad.status, 401, `${method} ${path}: ${bad.body}`);
      assert.deepEqual(bad.json, { error: 'Invalid API signature', code: 'auth_failed', status: 401 });
      const unsigned = await raw(method, path, body, { unsigned: true });
      assert.equal(unsigned.status, 400, `${method} ${path}: ${unsigned.body}`);
      assert.deepEqual(unsigned.json, { error: 'Missing authentication query parameters', code: 'invalid_input', status: 400 });
    }
  });

  test('the POST routes read a JSON body before answering (415, 400), and a wrong method is 405', async () => {
    // Their handlers take axum's Json extractor, which refuses before the handler runs.
    const text = await raw('POST', '/channels/orders/history/reset', 'reset please', { contentType: 'text/plain' });
    assert.equal(text.status, 415, text.body);
    const broken = await raw('POST', '/channels/orders/messages/1/update', '{"data":');
    assert.equal(broken.status, 400, broken.body);
    assert.equal(broken.json.code, 'invalid_input');
    const wrong = await get('/channels/orders/messages/1/update');
    assert.equal(wrong.status, 405, wrong.body);
  });

  describe('a channel_history request over the WebSocket', () => {
    const isError = (f: Frame) => f.event.endsWith(':error');
    const errorOf = (f: Frame) => f.data as { code: number; message: string };

    async function v2Subscribed(channel: string): Promise<RawClient> {
      const c = await RawClient.open(server.port, app.key, V2_QUERY);
      await c.request({ event: 'sockudo:subscribe', data: { channel } }, (f) => f.event === 'sockudo_internal:subscription_succeeded' || isError(f));
      return c;
    }

    test('on a subscribed V2 channel: sockudo:error 4300 "Channel error: Durable history is disabled…"; the socket stays open', async () => {
      // history_frames.rs: Error::Channel (close code 4300, "Channel error: {0}"), sent as a non-fatal error frame.
      const c = await v2Subscribed('orders');
      const message = "Channel error: Durable history is disabled by policy for channel 'orders'";
      // The JSON-string form and the `params` form; the prefixed and the bare event name.
      for (const frame of [
        { event: 'sockudo:channel_history', data: JSON.stringify({ channel: 'orders', limit: 10, direction: 'backwards', until_attach: true }) },
        { event: 'channel_history', data: { params: { channel: 'orders', limit: 10 } } },
      ]) {
        const err = await c.request(frame, isError);
        assert.equal(err.event, 'sockudo:error');
        assert.deepEqual(err.data, { code: 4300, message });
        assert.equal(typeof err.message_id, 'string', 'a frame sent to one V2 socket carries a message_id');
      }
      const pong = await c.request({ event: 'sockudo:ping', data: {} }, (f) => f.event === 'sockudo:pong');
      assert.equal(pong.event, 'sockudo:pong');
      assert.equal(c.closeCode, null);
      c.close();
    });

    test('on a channel the socket has not subscribed: 4301 "Client event error: Socket … is not subscribed to channel …"', async () => {
      // verify_channel_subscription comes before the policy check.
      const c = await v2Subscribed('orders');
      const err = await c.request({ event: 'sockudo:channel_history', data: JSON.stringify({ channel: 'elsewhere' }) }, isError);
      assert.deepEqual(err.data, { code: 4301, message: `Client event error: Socket ${c.socketId} is not subscribed to channel elsewhere` });
      c.close();
    });

    test('malformed requests: 4000 "Invalid message format: …", checked before anything else', async () => {
      const c = await v2Subscribed('orders');
      const cases: [unknown, string][] = [
        [undefined, 'Missing data in channel_history message'],
        // Sockudo reads an object `data` with a string `channel` as its "structured" data (as a subscribe's),
        // which its channel_history parser does not take: the request form the reference shows is refused so.
        [{ channel: 'orders', limit: 10 }, 'Missing data in channel_history message'],
        [JSON.stringify({ limit: 10 }), 'Missing channel in channel_history message'],
        [JSON.stringify({ channel: 'orders', direction: 'sideways' }), 'Unsupported history direction: sideways'],
      ];
      for (const [data, text] of cases) {
        const err = await c.request(data === undefined ? { event: 'sockudo:channel_history' } : { event: 'sockudo:channel_history', data }, isError);
        assert.deepEqual(errorOf(err), { code: 4000, message: `Invalid message format: ${text}` }, JSON.stringify(data));
      }
      c.close();
    });

    test('on a V1 connection: pusher:error 4000 "Protocol error: channel_history is only supported on protocol V2"', async () => {
      const c = await RawClient.open(server.port, app.key);
      await c.request({ event: 'pusher:subscribe', data: { channel: 'orders' } }, (f) => f.event === 'pusher_internal:subscription_succeeded');
      const err = await c.request({ event: 'pusher:channel_history', data: JSON.stringify({ channel: 'orders' }) }, isError);
      assert.equal(err.event, 'pusher:error');
      assert.deepEqual(err.data, { code: 4000, message: 'Protocol error: channel_history is only supported on protocol V2' });
      c.close();
    });
  });
});
