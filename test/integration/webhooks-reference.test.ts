// Webhooks as Sockudo sends them (SOCKUDO-REFERENCE.md §8), through the real two-worker server and a receiver
// that checks every request with the official `pusher` SDK: subscription_count for non-presence channels only,
// channel_vacated 3 s after a channel's last subscriber left, and channel_occupied before the first member's
// member_added.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { RawClient } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { WebhookReceiver } from '../helpers/webhookReceiver.ts';

const app = { id: 'hooks-ref', key: 'hooks-ref-key', secret: 'hooks-ref-secret' };
const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });

describe('webhooks as Sockudo sends them', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  before(async () => {
    receiver = await new WebhookReceiver(app).start();
    server = await startTestServer({ apps: [{ ...app, webhooks: [{ url: receiver.url }] }] });
  });
  after(async () => {
    await server.shutdown();
    await receiver.stop();
  });

  test('subscription_count webhooks are for non-presence channels only', async () => {
    const c = await RawClient.open(server.port, app.key);
    const data = { user_id: 'u1' };
    const { auth } = sdk.authorizeChannel(c.socketId, 'presence-counted', data);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'presence-counted', auth, channel_data: JSON.stringify(data) } }, (f) => f.event.endsWith('subscription_succeeded'));
    await c.request({ event: 'pusher:subscribe', data: { channel: 'public-counted' } }, (f) => f.event.endsWith('subscription_succeeded'));
    await eventually(() => receiver.named('subscription_count', 'public-counted').length === 1, 'the public channel counted', 4000);
    // A fence: the public channel's count going to 0 is seen by a later once-a-second check than both subscribes.
    c.send({ event: 'pusher:unsubscribe', data: { channel: 'public-counted' } });
    await eventually(() => receiver.named('subscription_count', 'public-counted').length === 2, 'the public channel counted again', 4000);
    c.close();
    assert.deepEqual(receiver.named('subscription_count', 'presence-counted'), [], 'no subscription_count for a presence- channel');
  });

  test('a presence channel\'s first member: channel_occupied once, before member_added', async () => {
    const channel = 'presence-order';
    const joinAs = async (port: number, userId: string) => {
      const c = await RawClient.open(port, app.key);
      const data = { user_id: userId };
      const { auth } = sdk.authorizeChannel(c.socketId, channel, data);
      await c.request({ event: 'pusher:subscribe', data: { channel, auth, channel_data: JSON.stringify(data) } }, (f) => f.event.endsWith('subscription_succeeded'));
      return c;
    };
    const first = await joinAs(server.workerPorts[0], 'first');
    const second = await joinAs(server.workerPorts[1], 'second'); // the other thread: already occupied
    await eventually(() => receiver.named('member_added', channel).length === 2, 'both members');
    const order = receiver.events.filter((e) => e.channel === channel).map((e) => e.name);
    assert.deepEqual(order, ['channel_occupied', 'member_added', 'member_added']);
    first.close();
    second.close();
    await eventually(() => receiver.named('channel_vacated', channel).length === 1, 'vacated', 8000);
    assert.deepEqual(
      receiver.events.filter((e) => e.channel === channel).map((e) => e.name),
      ['channel_occupied', 'member_added', 'member_added', 'member_removed', 'member_removed', 'channel_vacated'],
    );
  });

  test('channel_vacated is sent 3 s after the count reaches 0', async () => {
    const c = await RawClient.open(server.port, app.key);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'vacate-timing' } }, (f) => f.event.endsWith('subscription_succeeded'));
    await eventually(() => receiver.named('channel_occupied', 'vacate-timing').length === 1, 'occupied');
    const left = Date.now();
    c.send({ event: 'pusher:unsubscribe', data: { channel: 'vacate-timing' } });
    await eventually(() => receiver.named('channel_vacated', 'vacate-timing').length === 1, 'vacated', 8000);
    const delay = Date.now() - left;
    assert.ok(delay >= 2900 && delay < 5000, `channel_vacated arrived ${delay} ms after the last subscriber left`);
    c.close();
  });
});
