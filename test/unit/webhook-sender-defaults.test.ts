// WebhookSender with the defaults src/primary/server.ts builds it with, as Sockudo delivers webhooks: batches of
// up to 100 events, retries on 408, 409 and 425 as on 5xx and 429, attempts limited only by a 300 s budget, and
// backoff from 1 s doubling to 60 s. Retries below use a 5 ms first backoff so the test does not wait for them.
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { WebhookSender, backoffDelay } from '../../src/webhooks/webhookSender.ts';

const app = { id: 'a', key: 'k', secret: 's' };
const metrics = { sent() {}, failed() {}, dropped() {} };

async function endpoint(answer: (n: number) => number): Promise<{ url: string; bodies: { events: unknown[] }[]; server: Server }> {
  const bodies: { events: unknown[] }[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(raw) as { events: unknown[] });
      res.writeHead(answer(bodies.length)).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, bodies, server };
}

describe('webhook sender defaults', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  test('100 events emitted together go out in one request (reference batching.size = 100)', async () => {
    const ep = await endpoint(() => 200);
    servers.push(ep.server);
    const sender = new WebhookSender({ apps: [{ ...app, webhooks: [{ url: ep.url }] }], log: pino({ level: 'silent' }), metrics });
    for (let i = 0; i < 100; i++) sender.emit('a', { name: 'channel_occupied', channel: `c${i}` });
    await sender.flush();
    await sender.stop();
    assert.deepEqual(ep.bodies.map((b) => b.events.length), [100]);
  });

  for (const code of [408, 409, 425]) {
    test(`HTTP ${code} is retried (reference: transport errors, 5xx, 408, 409, 425, 429)`, async () => {
      const ep = await endpoint((n) => (n === 1 ? code : 200));
      servers.push(ep.server);
      const sender = new WebhookSender({ apps: [{ ...app, webhooks: [{ url: ep.url }] }], log: pino({ level: 'silent' }), metrics, baseBackoffMs: 5 });
      sender.emit('a', { name: 'channel_occupied', channel: 'c' });
      await sender.flush();
      await sender.stop();
      assert.equal(ep.bodies.length, 2, `attempts made after a ${code}`);
    });
  }

  test('an endpoint down for 6 attempts still gets the event (no attempt limit, only the time budget)', async () => {
    const ep = await endpoint((n) => (n <= 6 ? 503 : 200));
    servers.push(ep.server);
    const sender = new WebhookSender({ apps: [{ ...app, webhooks: [{ url: ep.url }] }], log: pino({ level: 'silent' }), metrics, baseBackoffMs: 5 });
    sender.emit('a', { name: 'channel_occupied', channel: 'c' });
    await sender.flush();
    await sender.stop();
    assert.equal(ep.bodies.length, 7, 'delivered on the 7th attempt');
  });

  test('retries stop once the next one would pass the time budget', async () => {
    const ep = await endpoint(() => 503);
    servers.push(ep.server);
    const sender = new WebhookSender({ apps: [{ ...app, webhooks: [{ url: ep.url }] }], log: pino({ level: 'silent' }), metrics, baseBackoffMs: 20, maxElapsedMs: 100 });
    sender.emit('a', { name: 'channel_occupied', channel: 'c' });
    await sender.flush();
    await sender.stop();
    // Delays of about 20, 40, 80 ms (±50 %): the budget of 100 ms allows two or three attempts after the first.
    assert.ok(ep.bodies.length >= 2 && ep.bodies.length <= 4, `attempts: ${ep.bodies.length}`);
  });

  test('backoff doubles from the first delay and stops growing at the cap, with ±50 % jitter', () => {
    const mid = () => 0.5;
    assert.deepEqual([0, 1, 2, 3, 6, 7, 20].map((r) => backoffDelay(r, 1_000, mid, 60_000)), [1_000, 2_000, 4_000, 8_000, 60_000, 60_000, 60_000]);
    assert.equal(backoffDelay(0, 1_000, () => 0, 60_000), 500);
    assert.equal(backoffDelay(10, 1_000, () => 1, 60_000), 90_000);
  });
});
