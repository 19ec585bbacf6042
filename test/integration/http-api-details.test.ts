// HTTP API details an SDK or a curl user sees (SOCKUDO-REFERENCE §4.1, §5.1): the signed path has no trailing '/',
// the idempotency key messages, and keys ignored unchecked when idempotency is disabled.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type TestServer, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

const app = { id: 'details', key: 'details-key', secret: 'details-secret' };

/** Raw HTTP so hop-by-hop headers such as Connection are visible. */
function raw(url: string, method: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

describe('HTTP API details', () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    server = await startTestServer({ apps: [app] });
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.shutdown());

  test('a path with a trailing slash is signed without it', async () => {
    // Reference line 428: path "as routed (e.g. /apps/app-id/events, trailing slash removed)".
    const body = JSON.stringify({ name: 'e', channel: 'c', data: 'd' });
    const url = signedUrl(base, { path: `/apps/${app.id}/events`, body, key: app.key, secret: app.secret }).replace('/events?', '/events/?');
    const res = await raw(url, 'POST', body);
    assert.equal(res.status, 200, res.body);
  });

  test('a key over 128 bytes is refused with the reference message', async () => {
    // Reference line 540: longer than max ⇒ 400 "Idempotency key exceeds maximum length of 128 characters".
    const body = JSON.stringify({ name: 'e', channel: 'c', data: 'd', idempotency_key: 'k'.repeat(129) });
    const res = await raw(signedUrl(base, { path: `/apps/${app.id}/events`, body, key: app.key, secret: app.secret }), 'POST', body);
    assert.equal(res.status, 400, res.body);
    assert.equal(JSON.parse(res.body).error, 'Idempotency key exceeds maximum length of 128 characters');
  });
});

const off = { id: 'idem-off', key: 'idem-off-key', secret: 'idem-off-secret' };

describe('HTTP idempotency disabled', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ apps: [off], idempotency: { enabled: false } });
  });
  after(() => server.shutdown());

  async function post(body: unknown) {
    const text = JSON.stringify(body);
    const res = await fetch(signedUrl(`http://127.0.0.1:${server.port}`, { path: `/apps/${off.id}/events`, body: text, key: off.key, secret: off.secret }), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: text,
    });
    return { status: res.status, body: await res.text() };
  }

  test('with idempotency disabled a body idempotency_key is ignored, not validated', async () => {
    // Reference line 538: "When disabled, keys are ignored." (events/mod.rs resolve_idempotency_key returns
    // Ok(None) before any validation when !config.enabled.) An SDK that always sends a key must keep working.
    assert.deepEqual(await post({ name: 'e', channel: 'c', data: 'd', idempotency_key: '' }), { status: 200, body: '{"ok":true}' });
    assert.deepEqual(await post({ name: 'e', channel: 'c', data: 'd', idempotency_key: 'k'.repeat(200) }), { status: 200, body: '{"ok":true}' });
  });
});
