// max_client_events_per_second = 0 means no limiter (Sockudo's meaning): a burst well past the default 10 per
// second is relayed whole, with no 4301.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Pusher from 'pusher';
import { RawClient } from '../helpers/clients.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

test('max_client_events_per_second = 0: a burst of 40 client events is relayed whole, none refused', async (t) => {
  const app = { id: 'free', key: 'free-key', secret: 'free-secret', features: { enable_client_messages: true }, limits: { max_client_events_per_second: 0 } };
  const server = await startTestServer({ apps: [app] });
  t.after(() => server.shutdown());
  const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
  const join = async () => {
    const c = await RawClient.open(server.port, app.key);
    const { auth } = sdk.authorizeChannel(c.socketId, 'private-free');
    await c.request({ event: 'pusher:subscribe', data: { channel: 'private-free', auth } }, (f) => f.event.endsWith('subscription_succeeded'));
    return c;
  };
  const sender = await join();
  const receiver = await join();
  t.after(() => {
    sender.close();
    receiver.close();
  });
  const from = sender.frames.length;
  for (let i = 0; i < 40; i++) sender.send({ event: 'client-burst', channel: 'private-free', data: { i } });
  await sender.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
  assert.deepEqual(sender.frames.slice(from).filter((f) => f.event === 'pusher:error'), []);
  await eventually(() => receiver.frames.filter((f) => f.event === 'client-burst').length === 40 || undefined, 'all 40 client events', 10000);
});
