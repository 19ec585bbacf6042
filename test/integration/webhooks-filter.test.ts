// A webhook target's channel `filter` and its own `headers`, from a Sockudo-shaped config (SOCKUDO-REFERENCE §8).
import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RawClient } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const app = { id: 'hooks', key: 'hooks-key', secret: 'hooks-secret' };

describe('webhook filter and headers (Sockudo config shape)', () => {
  let server: TestServer;
  let receiver: Server;
  const got: { headers: IncomingHttpHeaders; events: { name: string; channel: string }[] }[] = [];
  before(async () => {
    receiver = createServer((req, res) => {
      let raw = '';
      req.on('data', (d: Buffer) => (raw += d.toString()));
      req.on('end', () => {
        got.push({ headers: req.headers, events: JSON.parse(raw).events });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    server = await startTestServer({
      app_manager: {
        driver: 'memory',
        array: {
          apps: [
            {
              ...app,
              enabled: true,
              webhooks: [{ url, event_types: ['channel_occupied'], filter: { channel_prefix: 'keep-' }, headers: { 'X-Team': 'billing' } }],
            },
          ],
        },
      },
    });
  });
  after(async () => {
    await server.shutdown();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  const occupied = () => got.flatMap((g) => g.events.filter((e) => e.name === 'channel_occupied').map((e) => e.channel));

  test('filter.channel_prefix: only matching channels produce webhooks', async () => {
    // Reference line 717: policy.webhooks = [{url, event_types, filter?:{channel_prefix, ...}, headers?, ...}].
    const c = await RawClient.open(server.port, app.key);
    try {
      await c.request({ event: 'pusher:subscribe', data: { channel: 'drop-1' } }, (f) => f.event.endsWith('subscription_succeeded'));
      await c.request({ event: 'pusher:subscribe', data: { channel: 'keep-1' } }, (f) => f.event.endsWith('subscription_succeeded'));
      await eventually(() => occupied().includes('keep-1'), 'keep-1 occupied');
      assert.deepEqual(occupied(), ['keep-1'], 'drop-1 does not match the filter');
    } finally {
      c.close();
    }
  });

  test('headers: the webhook request carries the configured custom headers', async () => {
    // Reference line 718: headers Content-Type, X-Pusher-Key, X-Pusher-Signature "plus custom headers".
    const c = await RawClient.open(server.port, app.key);
    try {
      await c.request({ event: 'pusher:subscribe', data: { channel: 'keep-2' } }, (f) => f.event.endsWith('subscription_succeeded'));
      await eventually(() => got.find((g) => g.events.some((e) => e.channel === 'keep-2')), 'keep-2 occupied');
      const req = got.find((g) => g.events.some((e) => e.channel === 'keep-2'));
      assert.equal(req?.headers['x-pusher-key'], app.key);
      assert.equal(req?.headers['x-team'], 'billing');
    } finally {
      c.close();
    }
  });
});
