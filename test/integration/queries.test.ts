// HTTP channel queries against the real two-thread server: GET /channels, GET /channels/{name},
// GET /channels/{presence}/users and POST /events with `info`. Subscribers sit on both worker threads, so
// every count asserted here is host-wide. Exact shapes, exact error bodies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { type Frame, RawClient, V2_QUERY, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

// A configured app (not the development app), so every call below must be correctly signed.
const app = { id: 'q-app', key: 'q-key', secret: 'q-secret' };

const succeeded = (channel: string) => (f: Frame) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === channel;

/** A publish answer with acknowledgement ids (`info` or `message_id` given). */
type Acknowledged = { channels: Record<string, { acknowledgement_id: string }> };

interface Answer {
  status: number;
  body: unknown;
}

describe('HTTP channel queries', () => {
  let server: TestServer;
  let base: string;
  let sdk: Pusher;
  const clients: RawClient[] = [];

  async function get(path: string, extra: Record<string, string> = {}): Promise<Answer> {
    const url = signedUrl(base, { method: 'GET', path: `/apps/${app.id}${path}`, key: app.key, secret: app.secret, extra });
    const res = await fetch(url);
    assert.equal(res.headers.get('content-type'), 'application/json');
    return { status: res.status, body: await res.json() };
  }

  async function open(worker: number): Promise<RawClient> {
    const c = await RawClient.open(server.workerPorts[worker], app.key);
    clients.push(c);
    return c;
  }

  async function subscribe(c: RawClient, channel: string): Promise<void> {
    await c.request({ event: 'pusher:subscribe', data: { channel } }, succeeded(channel));
  }

  async function joinPresence(c: RawClient, channel: string, userId: string, userInfo: Record<string, unknown>): Promise<Frame> {
    const a = sdk.authorizeChannel(c.socketId, channel, { user_id: userId, user_info: userInfo });
    return c.request({ event: 'pusher:subscribe', data: { channel, auth: a.auth, channel_data: a.channel_data } }, succeeded(channel));
  }

  before(async () => {
    server = await startTestServer({ apps: [app] });
    base = `http://127.0.0.1:${server.port}`;
    sdk = serverSdk(server.port, app);

    // "news": two subscribers on worker 0, one on worker 1. "other": one subscriber on worker 1.
    const [a, b, c] = [await open(0), await open(0), await open(1)];
    for (const x of [a, b, c]) await subscribe(x, 'news');
    await subscribe(c, 'other');
    // "presence-room": u1 with one socket on each thread, u2 on worker 1 → 3 subscriptions, 2 users.
    const [p1, p1b, p2] = [await open(0), await open(1), await open(1)];
    await joinPresence(p1, 'presence-room', 'u1', { name: 'Ann' });
    await joinPresence(p1b, 'presence-room', 'u1', { name: 'Ann' });
    const last = await joinPresence(p2, 'presence-room', 'u2', { name: 'Bob' });
    assert.deepEqual(JSON.parse(last.data as string), {
      presence: { ids: ['u1', 'u2'], hash: { u1: { name: 'Ann' }, u2: { name: 'Bob' } }, count: 2 },
    });
    // "presence-lobby": u2 only.
    await joinPresence(p2, 'presence-lobby', 'u2', { name: 'Bob' });
  });

  after(async () => {
    for (const c of clients) c.close();
    await server.shutdown();
  });

  test('GET /channels lists every occupied channel, {} per channel without info', async () => {
    assert.deepEqual(await get('/channels'), {
      status: 200,
      body: { channels: { news: {}, other: {}, 'presence-room': {}, 'presence-lobby': {} } },
    });
  });

  test('GET /channels?info=subscription_count counts subscribers on both threads', async () => {
    assert.deepEqual(await get('/channels', { info: 'subscription_count' }), {
      status: 200,
      body: {
        channels: {
          news: { subscription_count: 3 },
          other: { subscription_count: 1 },
          'presence-room': { subscription_count: 3 },
          'presence-lobby': { subscription_count: 1 },
        },
      },
    });
  });

  test('filter_by_prefix narrows the list; presence- allows user_count', async () => {
    assert.deepEqual(await get('/channels', { filter_by_prefix: 'ne' }), { status: 200, body: { channels: { news: {} } } });
    assert.deepEqual(await get('/channels', { filter_by_prefix: 'nothing-' }), { status: 200, body: { channels: {} } });
    assert.deepEqual(await get('/channels', { filter_by_prefix: 'presence-', info: 'user_count,subscription_count' }), {
      status: 200,
      body: {
        channels: {
          'presence-room': { user_count: 2, subscription_count: 3 },
          'presence-lobby': { user_count: 1, subscription_count: 1 },
        },
      },
    });
    assert.deepEqual(await get('/channels', { filter_by_prefix: 'presence-r', info: 'user_count' }), {
      status: 200,
      body: { channels: { 'presence-room': { user_count: 2 } } },
    });
  });

  test('user_count without the presence- prefix filter is a 400', async () => {
    const error = {
      error: 'user_count is only available for presence channels. Use filter_by_prefix=presence-',
      code: 'invalid_input',
      status: 400,
    };
    assert.deepEqual(await get('/channels', { info: 'user_count' }), { status: 400, body: error });
    assert.deepEqual(await get('/channels', { filter_by_prefix: 'news', info: 'user_count,subscription_count' }), { status: 400, body: error });
  });

  test('GET /channels/{name}: occupied, subscription_count, user_count', async () => {
    assert.deepEqual(await get('/channels/news'), { status: 200, body: { occupied: true } });
    assert.deepEqual(await get('/channels/news', { info: 'subscription_count' }), { status: 200, body: { occupied: true, subscription_count: 3 } });
    assert.deepEqual(await get('/channels/presence-room', { info: 'subscription_count,user_count' }), {
      status: 200,
      body: { occupied: true, subscription_count: 3, user_count: 2 },
    });
    assert.deepEqual(await get('/channels/presence-lobby', { info: 'user_count' }), { status: 200, body: { occupied: true, user_count: 1 } });
    assert.deepEqual(await get('/channels/nobody-here', { info: 'subscription_count' }), {
      status: 200,
      body: { occupied: false, subscription_count: 0 },
    });
  });

  test('GET /channels/{name} refuses user_count on a non-presence channel and bad names', async () => {
    const res = await get('/channels/news', { info: 'user_count' });
    assert.equal(res.status, 400);
    assert.equal((res.body as { code: string }).code, 'invalid_input');
    assert.equal((res.body as { status: number }).status, 400);
    assert.match((res.body as { error: string }).error, /user_count is only available for presence channels/);

    const bad = await get('/channels/bad%20name');
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { code: string }).code, 'invalid_input');
  });

  test('GET /channels/{presence}/users lists each user once, whichever threads their sockets are on', async () => {
    const res = await get('/channels/presence-room/users');
    assert.equal(res.status, 200);
    const users = (res.body as { users: { id: string }[] }).users;
    assert.deepEqual(
      [...users].sort((x, y) => x.id.localeCompare(y.id)),
      [{ id: 'u1' }, { id: 'u2' }],
    );
    assert.deepEqual(Object.keys(res.body as object), ['users']);
    assert.deepEqual(await get('/channels/presence-lobby/users'), { status: 200, body: { users: [{ id: 'u2' }] } });
    assert.deepEqual(await get('/channels/presence-empty/users'), { status: 200, body: { users: [] } });
  });

  test('GET /channels/{non-presence}/users is a 400', async () => {
    assert.deepEqual(await get('/channels/news/users'), {
      status: 400,
      body: { error: 'Only presence channels support this endpoint', code: 'invalid_input', status: 400 },
    });
    assert.equal((await get('/channels/private-x/users')).status, 400);
  });

  test('queries need a valid signature for a configured app', async () => {
    const unsigned = await fetch(`${base}/apps/${app.id}/channels`);
    assert.equal(unsigned.status, 400);
    assert.deepEqual(await unsigned.json(), { error: 'Missing authentication query parameters', code: 'invalid_input', status: 400 });
    // A query without auth_key names no app, as Sockudo answers it.
    const keyless = await fetch(`${base}/apps/${app.id}/channels?filter_by_prefix=presence-`);
    assert.equal(keyless.status, 404);
    assert.deepEqual(await keyless.json(), { error: 'Application key not found or invalid: Invalid app key', code: 'app_not_found', status: 404 });
    const forged = signedUrl(base, { method: 'GET', path: `/apps/${app.id}/channels`, key: app.key, secret: 'wrong' });
    assert.equal((await fetch(forged)).status, 401);
    // The signature covers the query: changing info after signing is refused.
    const tampered = signedUrl(base, {
      method: 'GET',
      path: `/apps/${app.id}/channels`,
      key: app.key,
      secret: app.secret,
      extra: { info: 'subscription_count' },
      override: { filter_by_prefix: 'presence-' },
    });
    assert.equal((await fetch(tampered)).status, 401);
  });

  test("the pusher SDK's own get() calls work", async () => {
    const list = await sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    assert.equal(list.status, 200);
    assert.deepEqual(await list.json(), { channels: { 'presence-room': { user_count: 2 }, 'presence-lobby': { user_count: 1 } } });

    const all = await sdk.get({ path: '/channels', params: { info: 'subscription_count' } });
    assert.deepEqual(((await all.json()) as { channels: Record<string, unknown> }).channels.news, { subscription_count: 3 });

    const one = await sdk.get({ path: '/channels/presence-room', params: { info: 'user_count,subscription_count' } });
    assert.deepEqual(await one.json(), { occupied: true, user_count: 2, subscription_count: 3 });

    const users = await sdk.get({ path: '/channels/presence-lobby/users' });
    assert.deepEqual(await users.json(), { users: [{ id: 'u2' }] });

    // A 400 surfaces as the SDK's RequestError with the status and the JSON body.
    await assert.rejects(sdk.get({ path: '/channels', params: { info: 'user_count' } }), (err: { status?: number; body?: string }) => {
      assert.equal(err.status, 400);
      assert.equal(JSON.parse(err.body as string).code, 'invalid_input');
      return true;
    });
  });

  test('POST /events with info answers the counts per channel and still delivers', async () => {
    const watcher = await open(0);
    await subscribe(watcher, 'other');
    const res = await sdk.trigger(['news', 'other', 'presence-room', 'nobody-here'], 'counted', { n: 1 }, { info: 'subscription_count,user_count' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Acknowledged;
    // One acknowledgement id for the publish, on every channel (the message id V2 subscribers get).
    const ack = body.channels.news.acknowledgement_id;
    assert.match(ack, /^[0-9a-f-]{36}$/);
    assert.deepEqual(body, {
      channels: {
        news: { acknowledgement_id: ack, subscription_count: 3 },
        other: { acknowledgement_id: ack, subscription_count: 2 },
        'presence-room': { acknowledgement_id: ack, subscription_count: 3, user_count: 2 },
        'nobody-here': { acknowledgement_id: ack, subscription_count: 0 },
      },
    });
    assert.deepEqual(await watcher.next((f) => f.event === 'counted'), { event: 'counted', channel: 'other', data: '{"n":1}' });

    const only = (await (await sdk.trigger('presence-lobby', 'counted', {}, { info: 'user_count' })).json()) as Acknowledged;
    assert.deepEqual(only, { channels: { 'presence-lobby': { acknowledgement_id: only.channels['presence-lobby'].acknowledgement_id, user_count: 1 } } });
    assert.notEqual(only.channels['presence-lobby'].acknowledgement_id, ack, 'each publish gets its own id');

    // Without info the answer stays {"ok":true}.
    const plain = await sdk.trigger('news', 'plain', {});
    assert.deepEqual(await plain.json(), { ok: true });

    watcher.send({ event: 'pusher:unsubscribe', data: { channel: 'other' } });
    await eventually(async () => {
      const r = await get('/channels/other', { info: 'subscription_count' });
      return (r.body as { subscription_count: number }).subscription_count === 1;
    }, 'the unsubscribe counted');
  });

  test('a publish with message_id is answered with it as the acknowledgement id, and V2 subscribers get that id', async () => {
    const v2 = await RawClient.open(server.workerPorts[1], app.key, V2_QUERY);
    clients.push(v2);
    await v2.request({ event: 'sockudo:subscribe', data: { channel: 'acked' } }, (f) => f.event === 'sockudo_internal:subscription_succeeded');
    const res = await sdk.post({ path: '/events', body: { name: 'a1', channels: ['acked', 'nobody-here'], data: 'x', message_id: 'my-id-1' } as unknown as string });
    assert.deepEqual(await res.json(), { channels: { acked: { acknowledgement_id: 'my-id-1' }, 'nobody-here': { acknowledgement_id: 'my-id-1' } } });
    assert.equal((await v2.next((f) => f.event === 'a1')).message_id, 'my-id-1');

    // info without message_id: the id answered is the id delivered.
    const counted = (await (await sdk.trigger('acked', 'a2', 'y', { info: 'subscription_count' })).json()) as Acknowledged;
    assert.equal((await v2.next((f) => f.event === 'a2')).message_id, counted.channels.acked.acknowledgement_id);

    // A batch: items with message_id or info are acknowledged (their first channel), the others get {}.
    const batch = await sdk.triggerBatch([
      { channel: 'acked', name: 'b1', data: '1', message_id: 'batch-id-1' } as Pusher.BatchEvent,
      { channel: 'acked', name: 'b2', data: '2' },
      { channel: 'news', name: 'b3', data: '3', info: 'subscription_count' },
    ]);
    const answer = (await batch.json()) as { batch: Record<string, unknown>[] };
    assert.deepEqual(answer.batch[0], { acknowledgement_id: 'batch-id-1' });
    assert.deepEqual(answer.batch[1], {});
    assert.deepEqual(answer.batch[2], { acknowledgement_id: answer.batch[2].acknowledgement_id, subscription_count: 3 });
    assert.match(String(answer.batch[2].acknowledgement_id), /^[0-9a-f-]{36}$/);
    assert.equal((await v2.next((f) => f.event === 'b1')).message_id, 'batch-id-1');

    // Without either, the answers stay {"ok":true} and {}.
    assert.deepEqual(await (await sdk.trigger('acked', 'plain', 'z')).json(), { ok: true });
    assert.deepEqual(await (await sdk.triggerBatch([{ channel: 'acked', name: 'plain', data: 'z' }])).json(), {});
  });

  test('counts fall as sockets leave; occupied is false once everyone has gone', async () => {
    const [x0, y1, z1] = [await open(0), await open(1), await open(1)];
    for (const c of [x0, y1]) await subscribe(c, 'leaving');
    await joinPresence(x0, 'presence-leaving', 'u7', {});
    await joinPresence(y1, 'presence-leaving', 'u8', {});
    await joinPresence(z1, 'presence-leaving', 'u8', {});
    assert.deepEqual((await get('/channels/presence-leaving', { info: 'subscription_count,user_count' })).body, {
      occupied: true,
      subscription_count: 3,
      user_count: 2,
    });

    // One of u8's two sockets leaves: a subscription fewer, still two users.
    z1.close();
    await eventually(async () => {
      const r = await get('/channels/presence-leaving', { info: 'subscription_count,user_count' });
      return (r.body as { subscription_count: number }).subscription_count === 2 ? r : null;
    }, 'z1 gone').then((r) => assert.deepEqual(r.body, { occupied: true, subscription_count: 2, user_count: 2 }));

    // An explicit unsubscribe on worker 1 and a close on worker 0.
    y1.send({ event: 'pusher:unsubscribe', data: { channel: 'presence-leaving' } });
    y1.send({ event: 'pusher:unsubscribe', data: { channel: 'leaving' } });
    await eventually(async () => {
      const r = await get('/channels/presence-leaving/users');
      return JSON.stringify(r.body) === JSON.stringify({ users: [{ id: 'u7' }] });
    }, 'u8 gone from the member list');
    // The second unsubscribe is a frame of its own, which the worker may not have read yet.
    await eventually(async () => {
      const r = await get('/channels/leaving', { info: 'subscription_count' });
      return (r.body as { subscription_count: number }).subscription_count === 1 ? r : null;
    }, 'y1 gone from leaving').then((r) => assert.deepEqual(r.body, { occupied: true, subscription_count: 1 }));

    x0.close();
    await eventually(async () => {
      const r = await get('/channels/leaving', { info: 'subscription_count' });
      return (r.body as { occupied: boolean }).occupied === false ? r : null;
    }, 'leaving unoccupied').then((r) => assert.deepEqual(r.body, { occupied: false, subscription_count: 0 }));
    await eventually(async () => {
      const r = await get('/channels/presence-leaving', { info: 'subscription_count,user_count' });
      return JSON.stringify(r.body) === JSON.stringify({ occupied: false, subscription_count: 0, user_count: 0 });
    }, 'presence-leaving unoccupied');
    assert.deepEqual(await get('/channels/presence-leaving/users'), { status: 200, body: { users: [] } });
    const list = (await get('/channels')).body as { channels: Record<string, unknown> };
    assert.equal('leaving' in list.channels, false);
    assert.equal('presence-leaving' in list.channels, false);
  });
});

describe('batch_events with info', () => {
  test('answers each item with its acknowledgement id and channel counts, {} for items without info', async () => {
    const server = await startTestServer();
    try {
      const c = await RawClient.open(server.workerPorts[1]);
      await c.request({ event: 'pusher:subscribe', data: { channel: 'counted' } }, (f) => f.event.endsWith('subscription_succeeded'));
      const sdk = serverSdk(server.workerPorts[0]);
      const res = await sdk.triggerBatch([
        { channel: 'counted', name: 'a', data: '1', info: 'subscription_count' } as never,
        { channel: 'empty', name: 'b', data: '2' },
        { channel: 'empty', name: 'c', data: '3', info: 'subscription_count' } as never,
      ]);
      assert.equal(res.status, 200);
      const { batch } = (await res.json()) as { batch: { acknowledgement_id?: string }[] };
      // Acknowledged items carry the id their message was delivered with, one per item.
      const [first, , third] = batch.map((b) => b.acknowledgement_id);
      assert.deepEqual(batch, [{ acknowledgement_id: first, subscription_count: 1 }, {}, { acknowledgement_id: third, subscription_count: 0 }]);
      assert.match(String(first), /^[0-9a-f-]{36}$/);
      assert.notEqual(first, third);
      await c.next((f) => f.event === 'a');
      c.close();
    } finally {
      await server.shutdown();
    }
  });
});
