// Webhooks from a two-thread host, checked with the official pusher SDK's webhook validation:
// channel_occupied / channel_vacated once per channel whichever threads hold it, member_added /
// member_removed once per user, client_event, cache_miss, subscription_count.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { RawClient } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { WebhookReceiver } from '../helpers/webhookReceiver.ts';

const app = { id: 'hooked', key: 'hooked-key', secret: 'hooked-secret' };
const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });

describe('webhooks', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  before(async () => {
    receiver = await new WebhookReceiver(app).start();
    server = await startTestServer({ apps: [{ ...app, features: { enable_client_messages: true }, webhooks: [{ url: receiver.url }] }] });
  });
  after(async () => {
    await server.shutdown();
    await receiver.stop();
  });

  test('occupied and vacated once per channel across threads; members once per user; client events', async () => {
    const a = await RawClient.open(server.workerPorts[0], app.key);
    const b = await RawClient.open(server.workerPorts[1], app.key);
    const join = async (c: RawClient, user: string) => {
      const data = { user_id: user };
      const { auth } = sdk.authorizeChannel(c.socketId, 'presence-room', data);
      await c.request({ event: 'pusher:subscribe', data: { channel: 'presence-room', auth, channel_data: JSON.stringify(data) } }, (f) => f.event.endsWith('subscription_succeeded'));
    };
    await join(a, 'u1');
    await join(b, 'u1'); // a second tab of the same user, on the other thread
    await eventually(() => receiver.named('member_added').length === 1 && receiver.named('channel_occupied').length === 1, 'occupied + member_added');
    a.send({ event: 'client-wave', channel: 'presence-room', data: { hi: 1 } });
    await eventually(() => receiver.named('client_event').length === 1, 'client_event');
    assert.deepEqual(receiver.named('client_event')[0], { name: 'client_event', channel: 'presence-room', event: 'client-wave', data: '{"hi":1}', socket_id: a.socketId, user_id: 'u1' });
    a.close();
    await a.closed();
    b.close();
    await eventually(() => receiver.named('channel_vacated').length === 1 && receiver.named('member_removed').length === 1, 'vacated + member_removed');
    assert.deepEqual(receiver.named('member_removed')[0], { name: 'member_removed', channel: 'presence-room', user_id: 'u1' });
    assert.equal(receiver.named('channel_occupied', 'presence-room').length, 1);
    assert.equal(receiver.named('member_added').length, 1);
    assert.equal(receiver.invalid, 0, 'every request passed the SDK signature check');
  });

  test('cache_miss and subscription_count', async () => {
    const c = await RawClient.open(server.port, app.key);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'cache-empty' } }, (f) => f.event === 'pusher:cache_miss');
    await eventually(() => receiver.named('cache_miss', 'cache-empty').length === 1, 'cache_miss');
    const d = await RawClient.open(server.port, app.key);
    await d.request({ event: 'pusher:subscribe', data: { channel: 'cache-empty' } }, (f) => f.event === 'pusher:cache_miss');
    await eventually(() => receiver.named('subscription_count', 'cache-empty').some((e) => e.subscription_count === 2), 'subscription_count 2', 4000);
    c.close();
    d.close();
    await eventually(() => receiver.named('subscription_count', 'cache-empty').some((e) => e.subscription_count === 0), 'subscription_count 0', 4000);
  });
});
