// Publish answers, limits and authentication texts as Sockudo gives them (SOCKUDO-REFERENCE §4.1, §4.3–4.5). Where
// the reference elides a text ("…") the string is Sockudo's own (events/processor.rs, sockudo-core auth.rs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

const app = { id: 'texts', key: 'texts-key', secret: 'texts-secret' };

describe('HTTP API: publish answers, limits and authentication texts', () => {
  let server: TestServer;
  let base: string;

  before(async () => {
    server = await startTestServer({ apps: [app] });
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.shutdown());

  async function call(method: string, path: string, body?: string, opts: Record<string, unknown> = {}) {
    const url = signedUrl(base, { method, path: `/apps/${app.id}${path}`, body, key: app.key, secret: app.secret, ...opts });
    const res = await fetch(url, { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body });
    const text = await res.text();
    return { status: res.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : null };
  }

  const publish = (body: unknown) => call('POST', '/events', JSON.stringify(body));

  test('a publish with "info": null is a plain publish: 200 {"ok":true}', async () => {
    // Ref l.475 `"info": "subscription_count,user_count", // optional` (PusherApiMessage.info: Option<String>,
    // so JSON null is "not given") and l.504–505: {"ok":true} unless info / message_id is given.
    // (We answered 400 "'info' must be a comma-separated string" until session 28.)
    const res = await publish({ name: 'e', channel: 'news', data: 'd', info: null });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { ok: true });
  });

  test('an empty batch is accepted and answered {}', async () => {
    // Ref l.509–510: the only batch refusal is "Batch size (n) exceeds limit (m)"; otherwise "Response {}".
    // (Sockudo events/mod.rs batch_events has no emptiness check.)
    const res = await call('POST', '/batch_events', JSON.stringify({ batch: [] }));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, {});
  });

  test('the event name limit counts bytes: 101 × "é" (202 bytes) is over 200', async () => {
    // Ref l.485: length > max_event_name_length (200) ⇒ 400 limit_exceeded. Sockudo compares
    // `event_name_str.len()` (UTF-8 bytes, events/processor.rs), as it does for channel names (l.187 "Max length (bytes)").
    // (UTF-16 code units were counted until session 28, so this 202-byte name was published.)
    const res = await publish({ name: 'é'.repeat(101), channel: 'news', data: 'd' });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json?.code, 'limit_exceeded');
  });

  test('limit_exceeded texts: event name, channels per publish', async () => {
    // Ref l.485/487 give the status and code; the texts are Sockudo's events/processor.rs
    // (`"Event name '{name}' exceeds maximum length of {max}"`, `"Number of channels ({n}) exceeds limit ({max})"`).
    // (Our own texts until session 28: "Event name is too long (max 200 characters)", "Too many channels (max 100)".)
    const name = 'n'.repeat(201);
    const long = await publish({ name, channel: 'news', data: 'd' });
    assert.deepEqual(long.json, { error: `Event name '${name}' exceeds maximum length of 200`, code: 'limit_exceeded', status: 400 });
    const many = await publish({ name: 'e', channels: Array.from({ length: 101 }, (_, i) => `c${i}`), data: 'd' });
    assert.deepEqual(many.json, { error: 'Number of channels (101) exceeds limit (100)', code: 'limit_exceeded', status: 400 });
  });

  test('payload_too_large text names the size and the event', async () => {
    // Ref l.486: 413 payload_too_large. Text from Sockudo events/processor.rs:
    // "Event payload size ({bytes} bytes) for event '{name}' exceeds limit ({kb}KB)".
    const res = await publish({ name: 'big', channel: 'news', data: 'x'.repeat(100 * 1024 + 1) });
    assert.equal(res.status, 413, res.text);
    assert.match(String(res.json?.error), /^Event payload size \(\d+ bytes\) for event 'big' exceeds limit \(100KB\)$/);
  });

  test('body_md5 refusal texts', async () => {
    // Ref l.428 quotes them elided ("body_md5 is required and must be non-empty …" / "body_md5 must not be present …");
    // the full strings are Sockudo's crates/sockudo-core/src/auth.rs authenticate_pusher_api_request.
    const missing = await call('POST', '/events', JSON.stringify({ name: 'e', channel: 'news', data: 'd' }), { omit: ['body_md5'] });
    assert.deepEqual(missing.json, {
      error: 'body_md5 is required and must be non-empty in query parameters for POST requests with a non-empty body',
      code: 'auth_failed',
      status: 401,
    });
    const onGet = await call('GET', '/channels', undefined, { extra: { body_md5: 'd41d8cd98f00b204e9800998ecf8427e' } });
    assert.deepEqual(onGet.json, { error: 'body_md5 must not be present in query parameters for GET requests', code: 'auth_failed', status: 401 });
  });

  test('an upper-case hex auth_signature is refused (it must equal the lower-case hex HMAC)', async () => {
    // Ref l.430: `auth_signature` must equal lowercase_hex(HMAC_SHA256(secret, string_to_sign)) (constant-time) ⇒ else
    // 401 "Invalid API signature" (Sockudo secure_compare of the two strings as sent); it was lower-cased and accepted until session 28.
    const url = signedUrl(base, { method: 'GET', path: `/apps/${app.id}/channels`, key: app.key, secret: app.secret }).replace(
      /auth_signature=([0-9a-f]+)/,
      (_, sig: string) => `auth_signature=${sig.toUpperCase()}`,
    );
    const res = await fetch(url);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { error: 'Invalid API signature', code: 'auth_failed', status: 401 });
  });
});
