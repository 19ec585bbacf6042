// Protocol V1 on the wire, with a raw WebSocket client: handshake, admission codes, heartbeats,
// subscriptions, channel-name rules, malformed frames. Exact frames, exact codes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { RawClient, serverSdk } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const isError = (code: number) => (f: { event: string; data?: unknown }) =>
  f.event === 'pusher:error' && (f.data as { code: number }).code === code;
const succeeded = (channel: string) => (f: { event: string; channel?: string }) =>
  f.event === 'pusher_internal:subscription_succeeded' && f.channel === channel;

describe('protocol V1', () => {
  let server: TestServer;
  const apps = [
    { ...DEVELOPMENT_APP, limits: { max_connections: 50 } },
    { id: 'off', key: 'off-key', secret: 'off-secret', enabled: false },
    { id: 'tiny', key: 'tiny-key', secret: 'tiny-secret', limits: { max_connections: 1, max_subscriptions_per_socket: 3 } },
  ];
  before(async () => {
    server = await startTestServer({ apps });
  });
  after(() => server.shutdown());

  test('connection_established carries a Pusher socket_id and activity_timeout 120 as a JSON string', async () => {
    const c = await RawClient.open(server.port);
    const f = c.frames[0];
    assert.equal(f.event, 'pusher:connection_established');
    assert.equal(typeof f.data, 'string');
    const data = JSON.parse(f.data as string);
    assert.match(data.socket_id, /^\d+\.\d+$/);
    assert.equal(data.activity_timeout, 120);
    c.close();
  });

  // Reference §1.1: a trailing `/` on any path is stripped before routing.
  test('GET /app/{key}/ (trailing slash) is the same endpoint as /app/{key}', async () => {
    const c = await RawClient.open(server.port, `${DEVELOPMENT_APP.key}/`);
    assert.equal(c.frames[0].event, 'pusher:connection_established');
    await c.request({ event: 'pusher:subscribe', data: { channel: 'slash' } }, succeeded('slash'));
    c.close();
    const unknown = await RawClient.open(server.port, 'nope-key/');
    assert.equal((unknown.frames[0].data as { code: number }).code, 4001, 'the key is still the path segment');
    assert.equal(await unknown.closed(), 4001);
  });

  test('socket ids are unique across worker threads', async () => {
    const clients = await Promise.all([0, 1, 0, 1].map((i) => RawClient.open(server.workerPorts[i])));
    assert.equal(new Set(clients.map((c) => c.socketId)).size, 4);
    for (const c of clients) c.close();
  });

  test('an unknown app key gets pusher:error 4001 and close 4001', async () => {
    const c = await RawClient.open(server.port, 'no-such-key');
    assert.deepEqual(c.frames[0], { event: 'pusher:error', data: { code: 4001, message: 'Application does not exist' } });
    assert.equal(await c.closed(), 4001);
  });

  test('a disabled app gets 4003', async () => {
    const c = await RawClient.open(server.port, 'off-key');
    assert.equal((c.frames[0].data as { code: number }).code, 4003);
    assert.equal(await c.closed(), 4003);
  });

  test('an app over its connection limit gets 4004, counted across worker threads', async () => {
    const first = await RawClient.open(server.workerPorts[0], 'tiny-key');
    assert.equal(first.frames[0].event, 'pusher:connection_established');
    const second = await RawClient.open(server.workerPorts[1], 'tiny-key');
    assert.equal((second.frames[0].data as { code: number }).code, 4004);
    assert.equal(await second.closed(), 4004);
    first.close();
    await first.closed();
    // The place is released: a new connection is admitted again.
    const third = await RawClient.open(server.workerPorts[1], 'tiny-key');
    assert.equal(third.frames[0].event, 'pusher:connection_established');
    third.close();
  });

  test('pusher:ping is answered with pusher:pong, exactly', async () => {
    const c = await RawClient.open(server.port);
    const pong = await c.request({ event: 'pusher:ping', data: {} }, (f) => f.event === 'pusher:pong');
    assert.deepEqual(pong, { event: 'pusher:pong' });
    c.close();
  });

  test('public subscribe and unsubscribe', async () => {
    const c = await RawClient.open(server.port);
    const ok = await c.request({ event: 'pusher:subscribe', data: { channel: 'news' } }, succeeded('news'));
    assert.deepEqual(ok, { event: 'pusher_internal:subscription_succeeded', channel: 'news', data: '{}' });
    // subscribe data may also come as a JSON string
    await c.request({ event: 'pusher:subscribe', data: JSON.stringify({ channel: 'news-2' }) }, succeeded('news-2'));
    const sdk = serverSdk(server.port);
    await sdk.trigger('news', 'one', 'x');
    await c.next((f) => f.event === 'one');
    c.send({ event: 'pusher:unsubscribe', data: { channel: 'news' } });
    // After the unsubscribe is processed (a ping round trip proves it), nothing more arrives on "news".
    await c.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
    await sdk.trigger(['news', 'news-2'], 'two', 'y');
    await c.next((f) => f.event === 'two' && f.channel === 'news-2');
    assert.equal(c.frames.filter((f) => f.event === 'two' && f.channel === 'news').length, 0);
    c.close();
  });

  test('channel names: allowed characters, 200-byte limit, 4300 otherwise (connection stays up)', async () => {
    const c = await RawClient.open(server.port);
    // `#` only leads: after a base it is Sockudo's user-limited syntax, which needs a namespace (refused here).
    const okName = '#a-Z_0=9@,;.:'.padEnd(200, 'x');
    await c.request({ event: 'pusher:subscribe', data: { channel: okName } }, succeeded(okName));
    for (const bad of [okName + 'y', 'has space', 'bad/slash', 'ümlaut', '', 'room#alice']) {
      const err = await c.request({ event: 'pusher:subscribe', data: { channel: bad } }, (f) => f.event === 'pusher:error');
      assert.equal((err.data as { code: number }).code, 4300, `channel ${JSON.stringify(bad)}`);
    }
    await c.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
    assert.equal(c.closeCode, null);
    c.close();
  });

  test('private channels need a valid signature (4009 otherwise, socket stays open)', async () => {
    const c = await RawClient.open(server.port);
    const missing = await c.request({ event: 'pusher:subscribe', data: { channel: 'private-a' } }, isError(4009));
    assert.match((missing.data as { message: string }).message, /signature required/);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'private-a', auth: 'app-key:deadbeef' } }, isError(4009));
    // A signature for another socket is refused too.
    const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });
    const other = sdk.authorizeChannel('1234.5678', 'private-a');
    await c.request({ event: 'pusher:subscribe', data: { channel: 'private-a', auth: other.auth } }, isError(4009));
    const good = sdk.authorizeChannel(c.socketId, 'private-a');
    await c.request({ event: 'pusher:subscribe', data: { channel: 'private-a', auth: good.auth } }, succeeded('private-a'));
    assert.equal(c.closeCode, null);
    c.close();
  });

  test('a re-join with the remembered signature succeeds; anything else presented after it is still checked', async () => {
    const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });
    const c = await RawClient.open(server.port);
    const good = sdk.authorizeChannel(c.socketId, 'private-r');
    await c.request({ event: 'pusher:subscribe', data: { channel: 'private-r', auth: good.auth } }, succeeded('private-r'));
    c.send({ event: 'pusher:unsubscribe', data: { channel: 'private-r' } });
    await c.request({ event: 'pusher:subscribe', data: { channel: 'private-r', auth: good.auth } }, succeeded('private-r'));
    // The same auth for another channel, and a tampered one for the same channel, are refused.
    await c.request({ event: 'pusher:subscribe', data: { channel: 'private-s', auth: good.auth } }, isError(4009));
    const tampered = `${good.auth.slice(0, -1)}${good.auth.endsWith('0') ? '1' : '0'}`;
    await c.request({ event: 'pusher:subscribe', data: { channel: 'private-r', auth: tampered } }, isError(4009));
    // Presence: the signature covers channel_data, so a changed member with the remembered auth is refused.
    const member = JSON.stringify({ user_id: 'u1' });
    const presence = sdk.authorizeChannel(c.socketId, 'presence-r', { user_id: 'u1' });
    assert.equal(presence.channel_data, member);
    const joined = (f: { event: string; channel?: string }) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === 'presence-r';
    await c.request({ event: 'pusher:subscribe', data: { channel: 'presence-r', auth: presence.auth, channel_data: member } }, joined);
    c.send({ event: 'pusher:unsubscribe', data: { channel: 'presence-r' } });
    const forged = JSON.stringify({ user_id: 'admin' });
    await c.request({ event: 'pusher:subscribe', data: { channel: 'presence-r', auth: presence.auth, channel_data: forged } }, isError(4009));
    await c.request({ event: 'pusher:subscribe', data: { channel: 'presence-r', auth: presence.auth, channel_data: member } }, joined);
    // Member data too long to be remembered is checked on every join, and still accepted when valid.
    const bigInfo = { user_id: 'u2', user_info: { bio: 'b'.repeat(400) } };
    const big = sdk.authorizeChannel(c.socketId, 'presence-big', bigInfo);
    const bigJoined = (f: { event: string; channel?: string }) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === 'presence-big';
    for (let i = 0; i < 2; i++) {
      await c.request({ event: 'pusher:subscribe', data: { channel: 'presence-big', auth: big.auth, channel_data: big.channel_data } }, bigJoined);
      c.send({ event: 'pusher:unsubscribe', data: { channel: 'presence-big' } });
    }
    const bigForged = JSON.stringify({ ...bigInfo, user_id: 'admin' });
    await c.request({ event: 'pusher:subscribe', data: { channel: 'presence-big', auth: big.auth, channel_data: bigForged } }, isError(4009));
    assert.equal(c.closeCode, null);
    c.close();
  });

  test('subscriptions per socket are limited (4300)', async () => {
    const c = await RawClient.open(server.port, 'tiny-key');
    for (const ch of ['a', 'b', 'c']) await c.request({ event: 'pusher:subscribe', data: { channel: ch } }, succeeded(ch));
    // Re-subscribing to a held channel is fine; a fourth channel is not.
    await c.request({ event: 'pusher:subscribe', data: { channel: 'a' } }, succeeded('a'));
    const err = await c.request({ event: 'pusher:subscribe', data: { channel: 'd' } }, (f) => f.event === 'pusher:error');
    assert.equal((err.data as { code: number }).code, 4300);
    c.close();
  });

  test('malformed frames get coded errors and the connection stays up', async () => {
    const c = await RawClient.open(server.port);
    const cases: [string, number][] = [
      ['not json', 4000],
      ['[1,2,3]', 4000],
      ['"just a string"', 4000],
      ['null', 4000],
      ['{}', 4000],
      ['{"event":42}', 4000],
      ['{"event":{"a":1}}', 4000],
      ['{"event":"pusher:subscribe"}', 4000],
      ['{"event":"pusher:subscribe","data":"not json"}', 4000],
      ['{"event":"pusher:subscribe","data":{"channel":7}}', 4000],
      ['{"event":"client-hello","channel":"news","data":{}}', 4301],
    ];
    for (const [text, code] of cases) {
      const err = await c.request(text, (f) => f.event === 'pusher:error');
      assert.equal((err.data as { code: number }).code, code, text);
    }
    // Unknown events (an empty name is one) are ignored: the next frame after them is the pong.
    const from = c.frames.length;
    c.send('{"event":""}');
    c.send({ event: 'something:unknown', data: {} });
    c.send({ event: 'pusher:ping' });
    await c.next((f) => f.event === 'pusher:pong', 5000, from);
    assert.equal(c.frames.length, from + 1);
    assert.equal(c.closeCode, null);
    c.close();
  });

  test('a frame over the size limit closes only that socket (1009)', async () => {
    const bystander = await RawClient.open(server.port);
    const c = await RawClient.open(server.port);
    c.send(JSON.stringify({ event: 'pusher:ping', data: 'x'.repeat(70 * 1024) }));
    assert.equal(await c.closed(), 1009);
    await bystander.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
    bystander.close();
  });

  test('protocol=2 selects V2 prefixes on the same port; both prefixes are accepted', async () => {
    const c = await RawClient.open(server.port, 'app-key', 'protocol=2&client=js&version=2.2.0&flash=false');
    assert.equal(c.frames[0].event, 'sockudo:connection_established');
    const ok = await c.request({ event: 'sockudo:subscribe', data: { channel: 'v2' } }, (f) => f.event.endsWith('subscription_succeeded'));
    assert.equal(ok.event, 'sockudo_internal:subscription_succeeded');
    await c.request({ event: 'pusher:subscribe', data: { channel: 'v2b' } }, (f) => f.event === 'sockudo_internal:subscription_succeeded' && f.channel === 'v2b');
    assert.deepEqual(await c.request({ event: 'sockudo:ping' }, (f) => f.event.endsWith('pong')), { event: 'sockudo:pong' });
    await serverSdk(server.port).trigger('v2', 'hello', { a: 1 });
    const { message_id, stream_id, ...rest } = await c.next((f) => f.event === 'hello');
    assert.deepEqual(rest, { event: 'hello', channel: 'v2', data: '{"a":1}', serial: 1 });
    assert.match(String(message_id), /^[0-9a-f-]{36}$/);
    assert.match(String(stream_id), /^[0-9a-f-]{36}$/);
    c.close();
  });
});

describe('limits and heartbeats with a tight configuration', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ activity_timeout: 1, pong_timeout: 1, max_connections: 2 });
  });
  after(() => server.shutdown());

  test('the server pings after activity_timeout of silence and closes with 4201 without an answer', async () => {
    const c = await RawClient.open(server.port);
    const data = JSON.parse(c.frames[0].data as string);
    assert.equal(data.activity_timeout, 1);
    assert.deepEqual(await c.next((f) => f.event === 'pusher:ping', 3000), { event: 'pusher:ping' });
    assert.equal(await c.closed(4000), 4201);
    const err = c.frames.find((f) => f.event === 'pusher:error');
    assert.equal((err?.data as { code: number }).code, 4201);
  });

  test('a client that answers the ping stays connected', async () => {
    const c = await RawClient.open(server.port);
    await c.next((f) => f.event === 'pusher:ping', 3000);
    c.send({ event: 'pusher:pong', data: {} });
    // A second ping proves the connection outlived the first pong timeout.
    const from = c.frames.length;
    await c.next((f) => f.event === 'pusher:ping', 4000, from);
    assert.equal(c.closeCode, null);
    c.close();
  });

  test('the host-wide connection limit closes with 4100', async () => {
    const a = await RawClient.open(server.workerPorts[0]);
    const b = await RawClient.open(server.workerPorts[1]);
    const c = await RawClient.open(server.port);
    assert.equal((c.frames[0].data as { code: number }).code, 4100);
    assert.equal(await c.closed(), 4100);
    a.close();
    b.close();
  });
});
