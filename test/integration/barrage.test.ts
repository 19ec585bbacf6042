// A barrage of malformed and hostile WebSocket input, each case with its documented reaction, while a
// control connection on the same server receives all 100 of 100 publishes in order. No worker thread may
// die (that would end this process) and no promise may be left rejected.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { type Frame, RawClient, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });
const errorCode = (f: Frame) => (f.data as { code: number }).code;

describe('hostile input barrage', () => {
  let server: TestServer;
  let control: RawClient;
  let published = 0;
  const rejections: unknown[] = [];
  const onRejection = (r: unknown) => rejections.push(r);

  before(async () => {
    process.on('unhandledRejection', onRejection);
    server = await startTestServer({ apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret', features: { enable_client_messages: true } }] });
    control = await RawClient.open(server.workerPorts[0]);
    await control.request({ event: 'pusher:subscribe', data: { channel: 'control' } }, (f) => f.event.endsWith('subscription_succeeded'));
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    control.close();
    await server.shutdown();
  });

  /** One control publish between cases: the control connection must receive every one. */
  async function tick(): Promise<void> {
    await serverSdk(server.port).trigger('control', 'tick', String(published++));
  }

  /** Non-fatal cases on one attacker socket: each must answer a coded pusher:error and keep the socket. */
  const nonFatal: [string, string | object, number][] = [
    ['not JSON', 'definitely not json', 4000],
    ['JSON array', '[1,2,3]', 4000],
    ['JSON number', '42', 4000],
    ['JSON null', 'null', 4000],
    ['JSON string', '"pusher:ping"', 4000],
    ['missing event', '{"data":{}}', 4000],
    ['event is a number', '{"event":7}', 4000],
    ['event is an object', '{"event":{"x":1}}', 4000],
    ['channel is a number', '{"event":"pusher:ping","channel":7}', 4000],
    ['deeply nested data', `{"event":"pusher:subscribe","data":${'['.repeat(20000)}${']'.repeat(20000)}}`, 4000],
    ['truncated JSON', '{"event":"pusher:subscribe","data":{"chan', 4000],
    ['subscribe without data', { event: 'pusher:subscribe' }, 4000],
    ['subscribe with non-JSON string data', { event: 'pusher:subscribe', data: 'nope' }, 4000],
    ['subscribe with numeric channel', { event: 'pusher:subscribe', data: { channel: 12 } }, 4000],
    ['user-limited channel syntax without a namespace', { event: 'pusher:subscribe', data: { channel: 'room#alice' } }, 4300],
    ['subscribe with empty channel', { event: 'pusher:subscribe', data: { channel: '' } }, 4300],
    ['illegal channel characters', { event: 'pusher:subscribe', data: { channel: 'a b/c' } }, 4300],
    ['channel name of 201 bytes', { event: 'pusher:subscribe', data: { channel: 'c'.repeat(201) } }, 4300],
    ['private without auth', { event: 'pusher:subscribe', data: { channel: 'private-x' } }, 4009],
    ['private with garbage auth', { event: 'pusher:subscribe', data: { channel: 'private-x', auth: '%%%' } }, 4009],
    ['private with another socket auth', { event: 'pusher:subscribe', data: { channel: 'private-x', auth: sdk.authorizeChannel('1.1', 'private-x').auth } }, 4009],
    ['presence with garbage channel_data and auth', { event: 'pusher:subscribe', data: { channel: 'presence-x', auth: 'k:s', channel_data: '{{{' } }, 4009],
    ['client event on a public channel', { event: 'client-x', channel: 'public', data: {} }, 4301],
    ['client event on an unsubscribed private channel', { event: 'client-x', channel: 'private-y', data: {} }, 4301],
    ['client event without a channel', { event: 'client-x', data: {} }, 4301],
    ['signin with garbage', { event: 'pusher:signin', data: { user_data: '{', auth: 'x' } }, 4009],
    ['signin with non-object data', { event: 'pusher:signin', data: 5 }, 4009],
    ['resume on V1', { event: 'pusher:resume', data: { channel_positions: { a: 1 } } }, 4301],
    ['wildcard on V1', { event: 'pusher:subscribe', data: { channel: 'f*' } }, 4300],
  ];

  test(`${nonFatal.length} non-fatal cases: coded errors, the socket stays up`, async () => {
    const attacker = await RawClient.open(server.workerPorts[1]);
    for (const [what, frame, code] of nonFatal) {
      const reply = await attacker.request(frame, (f) => f.event === 'pusher:error');
      assert.equal(errorCode(reply), code, what);
      await tick();
    }
    // Signature checks that need this socket's id.
    const noData = sdk.authorizeChannel(attacker.socketId, 'presence-x');
    const r1 = await attacker.request({ event: 'pusher:subscribe', data: { channel: 'presence-x', auth: noData.auth } }, (f) => f.event === 'pusher:error');
    assert.equal(errorCode(r1), 4000, 'presence without channel_data (Sockudo: "Missing channel_data for presence channel")');
    const noUser = JSON.stringify({ user_info: {} });
    const r2 = await attacker.request({ event: 'pusher:subscribe', data: { channel: 'presence-x', auth: sdk.authorizeChannel(attacker.socketId, 'presence-x', JSON.parse(noUser)).auth, channel_data: noUser } }, (f) => f.event === 'pusher:error');
    assert.equal(errorCode(r2), 4300, 'presence channel_data without user_id');
    const priv = sdk.authorizeChannel(attacker.socketId, 'private-ok');
    await attacker.request({ event: 'pusher:subscribe', data: { channel: 'private-ok', auth: priv.auth } }, (f) => f.event.endsWith('subscription_succeeded'));
    const r3 = await attacker.request({ event: `client-${'n'.repeat(300)}`, channel: 'private-ok', data: {} }, (f) => f.event === 'pusher:error');
    assert.equal(errorCode(r3), 4301, 'client event name too long');
    // Ignored without an answer: unknown events, unsubscribing what was never subscribed.
    const from = attacker.frames.length;
    attacker.send({ event: 'totally:unknown', data: {} });
    attacker.send({ event: 'pusher:unsubscribe', data: { channel: 'never' } });
    attacker.send({ event: 'pusher:ping' });
    await attacker.next((f) => f.event === 'pusher:pong', 5000, from);
    assert.equal(attacker.frames.length, from + 1);
    // A binary frame is read as the same JSON (Sockudo decodes either kind); binary garbage is a coded 4000.
    const bin = attacker.frames.length;
    attacker.sendRaw(Buffer.from('{"event":"pusher:ping"}'), true);
    assert.equal((await attacker.next((f) => f.event === 'pusher:pong' || f.event === 'pusher:error', 5000, bin)).event, 'pusher:pong');
    const garbage = attacker.frames.length;
    attacker.sendRaw(Buffer.from([0xff, 0x00, 0x7b]), true);
    assert.equal(errorCode(await attacker.next((f) => f.event === 'pusher:error', 5000, garbage)), 4000);
    assert.equal(attacker.closeCode, null);
    attacker.close();
    await tick();
  });

  test('thousands of subscribes on one socket: 1000 accepted, the rest refused with 4300, socket up', async () => {
    const c = await RawClient.open(server.port);
    for (let i = 0; i < 1200; i++) c.send({ event: 'pusher:subscribe', data: { channel: `many-${i}` } });
    await c.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
    assert.equal(c.frames.filter((f) => f.event === 'pusher_internal:subscription_succeeded').length, 1000);
    assert.equal(c.frames.filter((f) => f.event === 'pusher:error' && errorCode(f) === 4300).length, 200);
    c.close();
    await tick();
  });

  test('fatal cases: oversize frame (1009), invalid UTF-8 text (dropped), resets mid-frame, garbage HTTP', async () => {
    const big = await RawClient.open(server.port);
    big.send(JSON.stringify({ event: 'pusher:ping', data: 'x'.repeat(70 * 1024) }));
    assert.equal(await big.closed(), 1009);
    await tick();

    const utf = await RawClient.open(server.port);
    utf.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false);
    // uWS validates text frames itself and drops the connection without a close frame.
    assert.equal(await utf.closed(), 1006);
    await tick();

    // A WebSocket that sends half a frame header and resets, and a client that sends garbage HTTP.
    await new Promise<void>((resolve, reject) => {
      const sock = connect(server.port, '127.0.0.1', () => {
        sock.write(
          'GET /app/app-key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
      });
      sock.once('data', () => {
        sock.write(Buffer.from([0x81, 0xfe, 0x01])); // masked text frame, length header cut short
        sock.resetAndDestroy();
        resolve();
      });
      sock.on('error', reject);
    });
    await tick();
    await new Promise<void>((resolve) => {
      const sock = connect(server.port, '127.0.0.1', () => sock.end('NOT HTTP AT ALL\r\n\r\n\0\0\0'));
      sock.on('close', () => resolve());
      sock.on('error', () => resolve());
      sock.resume();
    });
    await tick();
    for (const path of ['/app/', '/app/app-key/extra', '/app/no-such-key']) {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
      assert.ok(res.status >= 400 && res.status < 500, `${path} → ${res.status}`);
    }
    await tick();
  });

  test('the control connection received 100 of 100 publishes, in order; nothing crashed or leaked', async () => {
    while (published < 100) await tick();
    await control.next((f) => f.event === 'tick' && f.data === '99', 10000);
    const ticks = control.frames.filter((f) => f.event === 'tick').map((f) => f.data);
    assert.deepEqual(ticks, Array.from({ length: 100 }, (_, i) => String(i)));
    assert.equal(control.closeCode, null);
    assert.deepEqual(rejections, []);
    // Every hostile socket is gone: only the control connection remains.
    const connected = async () => {
      const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
      return text.includes('sockudo_connected{app_id="app-id",port="') && /sockudo_connected\{[^}]*\} 1\n/.test(text);
    };
    await eventually(connected, 'only the control connection left');
  });
});
