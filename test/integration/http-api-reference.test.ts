// The HTTP API as Sockudo answers it (SOCKUDO-REFERENCE.md §4), through the official `pusher` SDK and
// hand-signed requests: user routes (terminate_connections, force_reconnect), the `info` rules of the channel
// queries, batch items with `channels`, and the answers, counts and signature checks an SDK relies on.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { RawClient, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

const app = { id: 'rev', key: 'rev-key', secret: 'rev-secret' };

describe('user routes, info rules and batch items', () => {
  let server: TestServer;
  let sdk: Pusher;
  const signer = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });

  before(async () => {
    server = await startTestServer({ apps: [app] });
    sdk = serverSdk(server.port, app);
  });
  after(() => server.shutdown());

  async function status(p: Promise<{ status: number; text(): Promise<string> }>): Promise<{ status: number; body: string }> {
    try {
      const res = await p;
      return { status: res.status, body: await res.text() };
    } catch (err) {
      const e = err as { status?: number; body?: string };
      return { status: e.status ?? -1, body: e.body ?? String(err) };
    }
  }

  test('terminate_connections answers {"ok":true}', async () => {
    const res = await status(sdk.terminateUserConnections('u-nobody'));
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { ok: true });
  });

  test('POST /users/{id}/force_reconnect exists and answers {"ok":true}', async () => {
    const res = await status(sdk.post({ path: '/users/u-nobody/force_reconnect', body: {} as never }));
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), { ok: true });
  });

  test('force_reconnect closes the user\'s signed-in sockets with 4200, which clients answer by reconnecting', async () => {
    const c = await RawClient.open(server.workerPorts[1], app.key);
    const auth = signer.authenticateUser(c.socketId, { id: 'reconnecting' });
    await c.request({ event: 'pusher:signin', data: auth }, (f) => f.event === 'pusher:signin_success');
    const res = await status(sdk.post({ path: '/users/reconnecting/force_reconnect', body: {} as never }));
    assert.deepEqual(JSON.parse(res.body), { ok: true });
    assert.equal(await c.closed(), 4200);
    assert.equal((c.frames.find((f) => f.event === 'pusher:error')?.data as { code: number }).code, 4200);
  });

  test('GET /channels?info=user_count without prefix is only refused when a non-presence channel is present', async () => {
    const c = await RawClient.open(server.port, app.key);
    const data = { user_id: 'u1' };
    const { auth } = signer.authorizeChannel(c.socketId, 'presence-only', data);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'presence-only', auth, channel_data: JSON.stringify(data) } }, (f) => f.event.endsWith('subscription_succeeded'));
    try {
      // Only a presence channel is occupied: Sockudo answers the user counts (channels.rs: the 400 is raised
      // inside the loop, for a non-presence channel only).
      const res = await status(sdk.get({ path: '/channels', params: { info: 'user_count' } }));
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(JSON.parse(res.body), { channels: { 'presence-only': { user_count: 1 } } });
    } finally {
      c.close();
    }
  });

  test('unknown info attributes are ignored (InfoQueryParser only looks for known names)', async () => {
    const c = await RawClient.open(server.port, app.key);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'plain' } }, (f) => f.event.endsWith('subscription_succeeded'));
    try {
      const one = await status(sdk.get({ path: '/channels/plain', params: { info: 'subscription_count,nonsense' } }));
      assert.equal(one.status, 200, one.body);
      assert.deepEqual(JSON.parse(one.body), { occupied: true, subscription_count: 1 });
      // `cache` on the listing is not an attribute there: ignored, not a 400.
      const list = await status(sdk.get({ path: '/channels', params: { info: 'subscription_count,cache' } }));
      assert.equal(list.status, 200, list.body);
    } finally {
      c.close();
    }
  });

  test('batch items take "channels" like /events (item = "event as in 4.3")', async () => {
    const a = await RawClient.open(server.port, app.key);
    await a.request({ event: 'pusher:subscribe', data: { channel: 'batch-a' } }, (f) => f.event.endsWith('subscription_succeeded'));
    await a.request({ event: 'pusher:subscribe', data: { channel: 'batch-b' } }, (f) => f.event.endsWith('subscription_succeeded'));
    try {
      const res = await status(sdk.post({ path: '/batch_events', body: { batch: [{ name: 'multi', channels: ['batch-a', 'batch-b'], data: 'x' }] } as never }));
      assert.equal(res.status, 200, res.body);
      await eventually(() => a.frames.filter((f) => f.event === 'multi').length === 2, 'delivered to both channels');
    } finally {
      a.close();
    }
  });
});

const checkedApp = { id: 'ver', key: 'ver-key', secret: 'ver-secret' };

describe('answers, counts and signatures an SDK relies on', () => {
  let server: TestServer;
  let sdk: Pusher;
  let base: string;
  const signer = new Pusher({ appId: checkedApp.id, key: checkedApp.key, secret: checkedApp.secret, host: '127.0.0.1' });
  let a: RawClient;
  let b: RawClient;

  before(async () => {
    server = await startTestServer({ apps: [checkedApp] });
    sdk = serverSdk(server.port, checkedApp);
    base = `http://127.0.0.1:${server.port}`;
    a = await RawClient.open(server.workerPorts[0], checkedApp.key);
    b = await RawClient.open(server.workerPorts[1], checkedApp.key);
    for (const [c, user] of [[a, 'u1'], [b, 'u2']] as const) {
      const data = { user_id: user };
      const { auth } = signer.authorizeChannel(c.socketId, 'presence-room', data);
      await c.request({ event: 'pusher:subscribe', data: { channel: 'presence-room', auth, channel_data: JSON.stringify(data) } }, (f) => f.event.endsWith('subscription_succeeded'));
      await c.request({ event: 'pusher:subscribe', data: { channel: 'news' } }, (f) => f.event.endsWith('subscription_succeeded'));
    }
  });
  after(async () => {
    a.close();
    b.close();
    await server.shutdown();
  });

  const body = async (p: Promise<{ json(): Promise<unknown> }>) => (await p).json();

  test('trigger with info: per-channel acknowledgement_id, subscription_count, user_count only for presence', async () => {
    const res = (await body(sdk.trigger(['presence-room', 'news'], 'e', { x: 1 }, { info: 'user_count,subscription_count' }))) as { channels: Record<string, Record<string, unknown>> };
    assert.equal(typeof res.channels['presence-room'].acknowledgement_id, 'string');
    assert.equal(res.channels['presence-room'].subscription_count, 2);
    assert.equal(res.channels['presence-room'].user_count, 2);
    assert.equal(res.channels.news.subscription_count, 2);
    assert.equal('user_count' in res.channels.news, false);
    await eventually(() => a.frames.some((f) => f.event === 'e' && f.channel === 'news' && f.data === '{"x":1}'), 'object data delivered as a JSON string');
  });

  test('trigger without info answers {"ok":true}; triggerBatch without info answers {}', async () => {
    assert.deepEqual(await body(sdk.trigger('news', 'e2', 'd')), { ok: true });
    assert.deepEqual(await body(sdk.triggerBatch([{ channel: 'news', name: 'b1', data: 'd' }])), {});
  });

  test('triggerBatch with info on one item: {"batch":[{...},{}]}', async () => {
    const res = (await body(
      sdk.triggerBatch([
        { channel: 'presence-room', name: 'b', data: 'd', info: 'user_count,subscription_count' },
        { channel: 'news', name: 'b', data: 'd' },
      ]),
    )) as { batch: Record<string, unknown>[] };
    assert.equal(res.batch.length, 2);
    assert.equal(res.batch[0].user_count, 2);
    assert.equal(res.batch[0].subscription_count, 2);
    assert.deepEqual(res.batch[1], {});
  });

  test('batch over 10 events: 400 limit_exceeded', async () => {
    const batch = Array.from({ length: 11 }, () => ({ channel: 'news', name: 'x', data: 'd' }));
    const err = (await sdk.triggerBatch(batch).catch((e: unknown) => e)) as { status: number; body: string };
    assert.equal(err.status, 400);
    assert.equal(JSON.parse(err.body).code, 'limit_exceeded');
  });

  test('channel listing, filter_by_prefix, info, channel info and users', async () => {
    assert.deepEqual(await body(sdk.get({ path: '/channels' })), { channels: { 'presence-room': {}, news: {} } });
    assert.deepEqual(await body(sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count,subscription_count' } })), {
      channels: { 'presence-room': { user_count: 2, subscription_count: 2 } },
    });
    const refused = (await sdk.get({ path: '/channels', params: { info: 'user_count' } }).catch((e: unknown) => e)) as { status: number };
    assert.equal(refused.status, 400);
    assert.deepEqual(await body(sdk.get({ path: '/channels/presence-room', params: { info: 'user_count,subscription_count' } })), { occupied: true, subscription_count: 2, user_count: 2 });
    assert.deepEqual(await body(sdk.get({ path: '/channels/empty-one' })), { occupied: false });
    const nonPresence = (await sdk.get({ path: '/channels/news', params: { info: 'user_count' } }).catch((e: unknown) => e)) as { status: number };
    assert.equal(nonPresence.status, 400);
    const users = (await body(sdk.get({ path: '/channels/presence-room/users' }))) as { users: { id: string }[] };
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['u1', 'u2']);
  });

  test('signature edge cases: GET with body_md5 401, upper-case parameter names accepted, ±600 s window', async () => {
    const withMd5 = await fetch(signedUrl(base, { method: 'GET', path: `/apps/${checkedApp.id}/channels`, key: checkedApp.key, secret: checkedApp.secret, extra: { body_md5: 'd41d8cd98f00b204e9800998ecf8427e' } }));
    assert.equal(withMd5.status, 401);
    const now = Math.floor(Date.now() / 1000);
    const edge = await fetch(signedUrl(base, { method: 'GET', path: `/apps/${checkedApp.id}/channels`, key: checkedApp.key, secret: checkedApp.secret, timestamp: now - 590 }));
    assert.equal(edge.status, 200);
    // Parameter names are lower-cased before signing and comparing.
    const url = signedUrl(base, { method: 'GET', path: `/apps/${checkedApp.id}/channels`, key: checkedApp.key, secret: checkedApp.secret, extra: { FILTER_BY_PREFIX: 'presence-' } }).replace('filter_by_prefix=', 'FILTER_BY_PREFIX=');
    assert.equal((await fetch(url)).status, 200);
  });
});
