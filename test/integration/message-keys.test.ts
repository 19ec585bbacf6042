// A message's own key, its `message_id` (else `extras.idempotencyKey`), makes it reach each channel once within the
// idempotency window, as Sockudo's publish service does (SOCKUDO-REFERENCE §5.2, §3.8): a retry with the same payload
// answers like the first and delivers nothing; the key reused for another payload on a channel is a 400.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const isEvent = (name: string, channel?: string) => (f: Frame) => f.event === name && (channel === undefined || f.channel === channel);
const userEvents = (c: RawClient, channel: string) => c.frames.filter((f) => f.channel === channel && !f.event.includes(':')).map((f) => f.event);

async function subscribe(c: RawClient, channel: string): Promise<void> {
  await c.request({ event: 'sockudo:subscribe', data: { channel } }, (f) => f.event.endsWith('subscription_succeeded') && f.channel === channel);
}

interface Answer {
  status: number;
  text(): Promise<string>;
}

describe('message keys (message_id, extras.idempotencyKey)', () => {
  let server: TestServer;
  let post: (path: string, body: Record<string, unknown>) => Promise<Answer>;
  before(async () => {
    server = await startTestServer({ workers: 2 });
    const http = serverSdk(server.port);
    // The SDK throws on a refusal: its error carries the status and the body.
    post = (path, body) =>
      (http.post({ path, body: body as unknown as string }) as unknown as Promise<Answer>).catch((err: { status: number; body: string }) => ({
        status: err.status,
        text: async () => err.body,
      }));
  });
  after(() => server.shutdown());

  /** Publishes a fence and waits for it, so every earlier publish has reached `c`. */
  async function fenced(c: RawClient, channel: string): Promise<string[]> {
    await post('/events', { name: 'fence', channels: [channel], data: '{}' });
    await c.next(isEvent('fence', channel));
    return userEvents(c, channel);
  }

  test('a retried publish with the same message_id is delivered once, and answered the same', async () => {
    const ch = 'keys-retry';
    const c = await openV2(server.port);
    await subscribe(c, ch);
    const body = { name: 'order.created', channels: [ch], data: '{"id":1}', message_id: 'order-1-created' };
    const first = await post('/events', body);
    const second = await post('/events', body);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(await second.text(), await first.text());
    assert.deepEqual(await fenced(c, ch), ['order.created', 'fence']);
    c.close();
  });

  test('the same message_id with another payload on the same channel is a 400; on another channel it is a new message', async () => {
    const ch = 'keys-conflict';
    const c = await openV2(server.port);
    await subscribe(c, ch);
    assert.equal((await post('/events', { name: 'e', channels: [ch], data: 'one', message_id: 'reused-id' })).status, 200);
    const refused = await post('/events', { name: 'e', channels: [ch], data: 'two', message_id: 'reused-id' });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /already used with a different payload/);
    assert.equal((await post('/events', { name: 'e', channels: ['keys-elsewhere'], data: 'two', message_id: 'reused-id' })).status, 200);
    assert.deepEqual(await fenced(c, ch), ['e', 'fence']);
    c.close();
  });

  test('extras.idempotencyKey keys a message without a message_id, per channel: a channel that had it is left out', async () => {
    const [a, b] = ['keys-extras-a', 'keys-extras-b'];
    const c = await openV2(server.port);
    await subscribe(c, a);
    await subscribe(c, b);
    const extras = { idempotencyKey: 'tick-7' };
    assert.equal((await post('/events', { name: 'tick', channels: [a], data: '7', extras })).status, 200);
    assert.equal((await post('/events', { name: 'tick', channels: [a, b], data: '7', extras })).status, 200);
    assert.deepEqual(await fenced(c, a), ['tick', 'fence']);
    assert.deepEqual(await fenced(c, b), ['tick', 'fence']);
    const got = c.frames.find(isEvent('tick', b));
    assert.equal((got?.extras as Record<string, unknown> | undefined)?.idempotencyKey, undefined, 'the key is never delivered');
    c.close();
  });

  test('batch items with message ids already delivered are left out of a retried batch', async () => {
    const ch = 'keys-batch';
    const c = await openV2(server.port);
    await subscribe(c, ch);
    const batch = [
      { name: 'b1', channel: ch, data: '1', message_id: 'batch-1' },
      { name: 'b2', channel: ch, data: '2', message_id: 'batch-2' },
    ];
    assert.equal((await post('/batch_events', { batch: [batch[0]] })).status, 200);
    assert.equal((await post('/batch_events', { batch })).status, 200);
    assert.deepEqual(await fenced(c, ch), ['b1', 'b2', 'fence']);
    c.close();
  });

  test('an empty extras.idempotencyKey is a 400', async () => {
    const res = await post('/events', { name: 'e', channels: ['keys-empty'], data: '{}', extras: { idempotencyKey: '' } });
    assert.equal(res.status, 400);
  });
});
