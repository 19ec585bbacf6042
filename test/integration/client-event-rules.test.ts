// Client events as Sockudo checks them (SOCKUDO-REFERENCE §2.6, §3.8): the rate limit counts every client-* frame
// before any other check; the data alone is measured against max_event_payload_in_kb, before the subscription
// check, whose message names the socket and the channel; V2 extras.echo overrides echo_messages either way.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { type Frame, RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });
const isEvent = (e: string) => (f: Frame) => f.event === e;

async function joinPrivate(c: RawClient, channel: string, signer: Pusher = sdk): Promise<void> {
  const { auth } = signer.authorizeChannel(c.socketId, channel);
  const prefix = c.frames[0].event.startsWith('sockudo') ? 'sockudo' : 'pusher';
  await c.request({ event: `${prefix}:subscribe`, data: { channel, auth } }, (f) => f.event.endsWith('subscription_succeeded'));
}

describe('client event checks', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  test('V2 extras.echo:true overrides ?echo_messages=false: the sender gets its own client event', async () => {
    // Reference line 395 (§3.8): "`extras.echo: bool` — overrides the connection's `echo_messages` for client/AI
    // events from V2 sockets." (line 258: echo is per connection, extras.echo overrides it either way.)
    const ch = 'private-echo-override';
    const quiet = await openV2(server.workerPorts[0], '&echo_messages=false');
    const other = await openV2(server.workerPorts[1]);
    await joinPrivate(quiet, ch);
    await joinPrivate(other, ch);
    quiet.send({ event: 'client-loud', channel: ch, data: { n: 1 }, extras: { echo: true } });
    await other.next(isEvent('client-loud'));
    // A publish after the client event reached the other socket is a fence for the sender's copy too.
    await serverSdk(server.port).trigger(ch, 'fence', {});
    await quiet.next(isEvent('fence'));
    assert.equal(quiet.frames.filter(isEvent('client-loud')).length, 1, 'extras.echo:true must echo to a V2 sender with echo_messages=false');
    quiet.close();
    other.close();
  });

  test('a client event to a channel the socket is not in names the socket and the channel', async () => {
    // Reference line 252 (§2.6): "sender must be subscribed (else 4301 \"Socket … is not subscribed to channel …\")".
    const c = await RawClient.open(server.port);
    const err = await c.request({ event: 'client-x', channel: 'private-elsewhere', data: {} }, isEvent('pusher:error'));
    const { code, message } = err.data as { code: number; message: string };
    assert.equal(code, 4301);
    assert.match(message, new RegExp(`Socket ${c.socketId.replace('.', '\\.')} is not subscribed to channel private-elsewhere`));
    c.close();
  });

  test('the client-event rate limit counts every client-* frame, before the other checks', async () => {
    // Reference line 254 (§2.6): "Rate limit (checked before dispatch for any `client-*` event): per socket,
    // max_client_events_per_second (10) …" — so the 11th and 12th events in a second are refused for the rate,
    // even when they would also be refused for another reason (here: not subscribed).
    const c = await RawClient.open(server.port);
    const from = c.frames.length;
    for (let i = 0; i < 12; i++) c.send({ event: 'client-burst', channel: 'private-not-joined', data: { i } });
    await c.request({ event: 'pusher:ping' }, isEvent('pusher:pong'));
    const messages = c.frames.slice(from).filter(isEvent('pusher:error')).map((f) => (f.data as { message: string }).message);
    assert.equal(messages.length, 12);
    // At most 10 in one window (11 if the burst straddles a window edge).
    const limited = messages.filter((m) => m === 'Client event rejected due to rate limit').length;
    assert.ok(limited === 1 || limited === 2, `expected the events past 10 refused for the rate limit, got ${JSON.stringify(messages)}`);
    c.close();
  });
});

describe('review: client event payload limit', () => {
  const app = { id: 'small', key: 'small-key', secret: 'small-secret', features: { enable_client_messages: true }, limits: { max_event_payload_in_kb: 1 } };
  const signer = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ apps: [app] });
  });
  after(() => server.shutdown());

  test('max_event_payload_in_kb measures the data, not the whole frame: 1000 bytes of data pass a 1 KiB limit', async () => {
    // Reference line 252 (§2.6): "payload ≤ `max_event_payload_in_kb` if set" — the payload is the event's
    // `data` (validate_client_event sizes request.data), not the event name + channel + envelope around it.
    const ch = 'private-payload';
    const sender = await RawClient.open(server.workerPorts[0], app.key);
    const receiver = await RawClient.open(server.workerPorts[1], app.key);
    await joinPrivate(sender, ch, signer);
    await joinPrivate(receiver, ch, signer);
    const data = 'x'.repeat(1000);
    const from = sender.frames.length;
    sender.send({ event: 'client-big', channel: ch, data });
    await sender.request({ event: 'pusher:ping' }, isEvent('pusher:pong'));
    assert.deepEqual(sender.frames.slice(from).filter(isEvent('pusher:error')), [], 'no refusal for 1000 bytes of data');
    const got = await receiver.next(isEvent('client-big'));
    assert.equal(got.data, data);
    sender.close();
    receiver.close();
  });

  test('the payload size is checked before the subscription', async () => {
    // Reference line 252 (§2.6) order: "… payload ≤ max_event_payload_in_kb if set; sender must be subscribed".
    const c = await RawClient.open(server.port, app.key);
    const err = await c.request({ event: 'client-big', channel: 'private-not-joined', data: 'x'.repeat(2048) }, isEvent('pusher:error'));
    const { code, message } = err.data as { code: number; message: string };
    assert.equal(code, 4301);
    assert.doesNotMatch(message, /not subscribed/, `refused for its size first, got: ${message}`);
    c.close();
  });
});
