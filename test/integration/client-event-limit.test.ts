// Client-event and message rate limits: max_client_events_per_second = 0 means no limiter (Sockudo's meaning), and
// Sockudo's decay_seconds, terminate_on_limit and message_rate_limit (every frame a socket sends).
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

/** A server with one app of these limits, and a socket of it joined to `private-limits`. */
async function limitedSocket(t: { after: (fn: () => unknown) => void }, limits: Record<string, unknown>): Promise<RawClient> {
  const app = { id: 'limits', key: 'limits-key', secret: 'limits-secret', features: { enable_client_messages: true }, limits };
  const server = await startTestServer({ apps: [app] });
  t.after(() => server.shutdown());
  const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
  const c = await RawClient.open(server.port, app.key);
  t.after(() => c.close());
  const { auth } = sdk.authorizeChannel(c.socketId, 'private-limits');
  await c.request({ event: 'pusher:subscribe', data: { channel: 'private-limits', auth } }, (f) => f.event.endsWith('subscription_succeeded'));
  return c;
}

const errorOrPong = (f: { event: string }) => f.event === 'pusher:error' || f.event === 'pusher:pong';

test('terminate_on_limit: a socket over its client-event rate gets 4301 and is closed with 4301 (Sockudo)', async (t) => {
  const c = await limitedSocket(t, { max_client_events_per_second: 2, terminate_on_limit: true });
  for (let i = 0; i < 3; i++) c.send({ event: 'client-x', channel: 'private-limits', data: { i } });
  assert.equal(await c.closed(5000), 4301);
  assert.deepEqual(c.frames.at(-1), { event: 'pusher:error', data: { code: 4301, message: 'Client event rejected due to rate limit' } });
});

test('decay_seconds: max_client_events_per_second counts over that window, not over one second', async (t) => {
  const c = await limitedSocket(t, { max_client_events_per_second: 2, decay_seconds: 60 });
  const started = Date.now();
  for (let i = 0; i < 2; i++) c.send({ event: 'client-x', channel: 'private-limits', data: { i } });
  await c.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
  // Past a one-second window, the third event would be allowed again; within the 60 s window it is not.
  await eventually(() => Date.now() - started > 1100, 'one second has passed', 5000);
  const from = c.frames.length;
  c.send({ event: 'client-x', channel: 'private-limits', data: { i: 2 } });
  c.send({ event: 'pusher:ping' });
  assert.deepEqual(await c.next(errorOrPong, 5000, from), { event: 'pusher:error', data: { code: 4301, message: 'Client event rejected due to rate limit' } });
});

test('message_rate_limit: every frame counts; past max_attempts 4301 (socket kept), and with terminate_on_limit a close', async (t) => {
  const kept = await limitedSocket(t, { message_rate_limit: { enabled: true, max_attempts: 4, decay_seconds: 60, terminate_on_limit: false } });
  // The subscribe was frame 1: three pings are answered, the fourth is over the limit.
  const from = kept.frames.length;
  for (let i = 0; i < 4; i++) kept.send({ event: 'pusher:ping' });
  await kept.next((f) => f.event === 'pusher:error', 5000, from);
  assert.deepEqual(
    kept.frames.slice(from).map((f) => f.event),
    ['pusher:pong', 'pusher:pong', 'pusher:pong', 'pusher:error'],
  );
  assert.deepEqual(kept.frames.at(-1)?.data, { code: 4301, message: 'Message rate limit exceeded' });
  assert.equal(kept.closeCode, null);

  const closing = await limitedSocket(t, { message_rate_limit: { enabled: true, max_attempts: 2, decay_seconds: 60, terminate_on_limit: true } });
  for (let i = 0; i < 2; i++) closing.send({ event: 'pusher:ping' });
  assert.equal(await closing.closed(5000), 4301);
});
