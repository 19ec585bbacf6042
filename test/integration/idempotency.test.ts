// Idempotent publishing, the guide's "use idempotency for retries": a retried publish with one key is
// delivered once to V1 and V2 subscribers and answered with the same body; conflicts, limits, batches.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

describe('idempotent publishing', () => {
  let server: TestServer;
  let v1: RawClient;
  let v2: RawClient;
  before(async () => {
    server = await startTestServer();
    v1 = await RawClient.open(server.workerPorts[0]);
    v2 = await openV2(server.workerPorts[1]);
    await v1.request({ event: 'pusher:subscribe', data: { channel: 'orders' } }, (f) => f.event.endsWith('subscription_succeeded'));
    await v2.request({ event: 'sockudo:subscribe', data: { channel: 'orders' } }, (f) => f.event.endsWith('subscription_succeeded'));
  });
  after(async () => {
    v1.close();
    v2.close();
    await server.shutdown();
  });

  async function signedPost(path: string, body: unknown, headers: Record<string, string> = {}) {
    const text = JSON.stringify(body);
    const res = await fetch(signedUrl(`http://127.0.0.1:${server.port}`, { path: `/apps/app-id/${path}`, body: text }), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: text,
    });
    return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') };
  }

  /** A fence publish proves earlier deliveries have arrived (per-channel order). */
  async function fence(label: string): Promise<void> {
    await serverSdk(server.port).trigger('orders', 'fence', label);
    for (const c of [v1, v2]) await c.next((f) => f.event === 'fence' && f.data === label);
  }
  const count = (c: RawClient, event: string) => c.frames.filter((f: Frame) => f.event === event).length;

  test('the SDK retried with one key delivers once and answers the same body', async () => {
    const sdk = serverSdk(server.port);
    const body = { name: 'order.created', channels: ['orders'], data: JSON.stringify({ id: 'ord_124' }), idempotency_key: 'order-created-ord_124' };
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const res = await sdk.post({ path: '/events', body: body as unknown as string }); // the SDK JSON-encodes it; its typings say string
      answers.push([res.status, await res.text()]);
    }
    assert.deepEqual(answers, [[200, '{"ok":true}'], [200, '{"ok":true}'], [200, '{"ok":true}']]);
    await fence('after-retries');
    assert.equal(count(v1, 'order.created'), 1);
    assert.equal(count(v2, 'order.created'), 1);
    const metrics = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    assert.match(metrics, /sockudo_idempotency_publish_total\{app_id="app-id",port="\d+"\} 1/);
    assert.match(metrics, /sockudo_idempotency_duplicates_total\{app_id="app-id",port="\d+"\} 2/);
  });

  test('the header key works too; the body key wins over it', async () => {
    const body = { name: 'hdr', channel: 'orders', data: '1' };
    assert.equal((await signedPost('events', body, { 'X-Idempotency-Key': 'hdr-1' })).status, 200);
    assert.equal((await signedPost('events', body, { 'X-Idempotency-Key': 'hdr-1' })).status, 200);
    // Same header key but a body key: the body key is the one that counts, so this is a new publish.
    assert.equal((await signedPost('events', { ...body, idempotency_key: 'body-1' }, { 'X-Idempotency-Key': 'hdr-1' })).status, 200);
    await fence('after-header');
    assert.equal(count(v1, 'hdr'), 2);
    assert.equal(count(v2, 'hdr'), 2);
  });

  test('the same key with another payload is a 409; keys are 1 to 128 bytes', async () => {
    assert.equal((await signedPost('events', { name: 'c', channel: 'orders', data: 'a', idempotency_key: 'conflict' })).status, 200);
    const conflict = await signedPost('events', { name: 'c', channel: 'orders', data: 'b', idempotency_key: 'conflict' });
    assert.equal(conflict.status, 409);
    assert.equal(JSON.parse(conflict.body).code, 'idempotency_conflict');
    assert.equal((await signedPost('events', { name: 'c', channel: 'orders', data: 'a', idempotency_key: '' })).status, 400);
    assert.equal((await signedPost('events', { name: 'c', channel: 'orders', data: 'a', idempotency_key: 'k'.repeat(129) })).status, 400);
    assert.equal((await signedPost('events', { name: 'c', channel: 'orders', data: 'a', idempotency_key: 'k'.repeat(128) })).status, 200);
    assert.equal((await signedPost('events', { name: 'c', channel: 'orders', data: 'a' }, { 'X-Idempotency-Key': 'h'.repeat(129) })).status, 400, 'header key of 129 bytes');
    assert.equal((await signedPost('events', { name: 'c', channel: 'orders', data: 'a', idempotency_key: 'é'.repeat(65) })).status, 400, 'body key of 130 UTF-8 bytes');
  });

  test('a refused publish does not use up its key', async () => {
    const bad = await signedPost('events', { name: 'fix', channel: 'bad channel!', data: 'x', idempotency_key: 'fix-me' });
    assert.equal(bad.status, 400);
    const good = await signedPost('events', { name: 'fix', channel: 'orders', data: 'x', idempotency_key: 'fix-me' });
    assert.equal(good.status, 200);
    await fence('after-fix');
    assert.equal(count(v1, 'fix'), 1);
  });

  test('batches: a header key covers the batch, item keys skip items already published', async () => {
    const batch = [
      { name: 'b1', channel: 'orders', data: '1', idempotency_key: 'item-1' },
      { name: 'b2', channel: 'orders', data: '2' },
    ];
    assert.equal((await signedPost('batch_events', { batch }, { 'X-Idempotency-Key': 'batch-1' })).status, 200);
    assert.equal((await signedPost('batch_events', { batch }, { 'X-Idempotency-Key': 'batch-1' })).status, 200);
    // Without the batch key: item-1 was published already and is skipped, b2 goes out again.
    assert.equal((await signedPost('batch_events', { batch })).status, 200);
    await fence('after-batches');
    assert.equal(count(v1, 'b1'), 1);
    assert.equal(count(v1, 'b2'), 2);
    assert.equal(count(v2, 'b1'), 1);
  });
});
