// Presence and client events across worker threads, through the real pusher-js client and raw sockets:
// one member_added / member_removed per user however many tabs and threads, limits, relay rules.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { type Frame, type PusherClient, RawClient, connectPusherJs, openV2, serverSdk, subscribed } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });

/** A pusher-js client that authorizes channels locally with the SDK, as an app's auth endpoint would. */
async function member(port: number, userId: string, userInfo: Record<string, unknown> = {}): Promise<PusherClient> {
  const client = await connectPusherJs(port, 'app-key', {
    channelAuthorization: {
      customHandler: ({ socketId, channelName }: { socketId: string; channelName: string }, cb: (e: Error | null, a: unknown) => void) =>
        cb(null, sdk.authorizeChannel(socketId, channelName, channelName.startsWith('presence-') ? { user_id: userId, user_info: userInfo } : undefined)),
    },
  });
  return client;
}

async function rawPresence(port: number, channel: string, channelData: unknown): Promise<{ c: RawClient; reply: Frame }> {
  const c = await RawClient.open(port);
  const data = JSON.stringify(channelData);
  const { auth } = sdk.authorizeChannel(c.socketId, channel, channelData as { user_id: string });
  const reply = await c.request({ event: 'pusher:subscribe', data: { channel, auth, channel_data: data } }, (f) => f.event.startsWith('pusher'));
  return { c, reply };
}

describe('presence', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  test('two tabs of one user on two threads: one member_added, one member_removed', async () => {
    const watcher = await member(server.workerPorts[0], 'u2', { name: 'Bea' });
    const room = await subscribed(watcher, 'presence-room');
    const added: unknown[] = [];
    const removed: unknown[] = [];
    room.bind('pusher:member_added', (m: { id: string; info: unknown }) => added.push([m.id, m.info]));
    room.bind('pusher:member_removed', (m: { id: string }) => removed.push(m.id));
    const seen: string[] = [];
    room.bind('mark', (d: string) => seen.push(d));
    const sdkHttp = serverSdk(server.port);
    // A publish after each step is a barrier: member frames are published before it, in order.
    const barrier = async (label: string) => {
      await sdkHttp.trigger('presence-room', 'mark', label);
      const deadline = Date.now() + 5000;
      while (!seen.includes(label)) {
        if (Date.now() > deadline) throw new Error(`barrier ${label} not reached`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };

    const tabA = await member(server.workerPorts[0], 'u1', { name: 'Al' });
    const roomA = await subscribed(tabA, 'presence-room');
    await barrier('a-joined');
    assert.deepEqual(added, [['u1', { name: 'Al' }]]);
    assert.equal((roomA as unknown as { members: { count: number } }).members.count, 2);

    const tabB = await member(server.workerPorts[1], 'u1', { name: 'Al' });
    const roomB = (await subscribed(tabB, 'presence-room')) as unknown as { members: { count: number; get(id: string): { info: unknown } | null } };
    assert.equal(roomB.members.count, 2);
    assert.deepEqual(roomB.members.get('u2')?.info, { name: 'Bea' });
    await barrier('b-joined');
    assert.equal(added.length, 1, 'the second tab adds no member');

    // A tab's close and an HTTP publish travel on different connections: wait until the server has taken the
    // close (the channel's count drops) before a barrier says what it did or did not publish.
    const subscriptions = async () =>
      ((await (await sdkHttp.get({ path: '/channels/presence-room', params: { info: 'subscription_count' } })).json()) as { subscription_count: number }).subscription_count;
    tabA.disconnect();
    await eventually(async () => (await subscriptions()) === 2, 'tab A closed on the server');
    await barrier('a-left');
    assert.deepEqual(removed, [], 'the user still has a tab');
    tabB.disconnect();
    await eventually(() => removed.length > 0, 'member_removed for u1');
    await barrier('b-left');
    assert.deepEqual(removed, ['u1']);
    watcher.disconnect();
  });

  test('subscription_succeeded carries ids, hash and count for the whole host', async () => {
    const one = await rawPresence(server.workerPorts[0], 'presence-count', { user_id: 'x1', user_info: { n: 1 } });
    const two = await rawPresence(server.workerPorts[1], 'presence-count', { user_id: 'x2' });
    assert.equal(two.reply.event, 'pusher_internal:subscription_succeeded');
    const data = JSON.parse(two.reply.data as string);
    assert.deepEqual(data, { presence: { ids: ['x1', 'x2'], hash: { x1: { n: 1 }, x2: {} }, count: 2 } });
    // The first member hears about the second exactly as Pusher sends it.
    const addedFrame = await one.c.next((f) => f.event === 'pusher_internal:member_added');
    assert.deepEqual(addedFrame, { event: 'pusher_internal:member_added', channel: 'presence-count', data: JSON.stringify({ user_id: 'x2', user_info: {} }) });
    two.c.close();
    const removedFrame = await one.c.next((f) => f.event === 'pusher_internal:member_removed');
    assert.deepEqual(JSON.parse(removedFrame.data as string), { user_id: 'x2' });
    one.c.close();
  });

  test('V1 and V2 members on both threads each hear member events in their own protocol, as members come and go', async () => {
    // The primary builds a channel's member frames only for the protocol versions of the sockets in it: this
    // follows those versions as V2 members leave and come back.
    const ch = 'presence-mixed';
    const join = async (c: RawClient, userId: string, v: 1 | 2, filter?: unknown) => {
      const data = { user_id: userId };
      const { auth } = sdk.authorizeChannel(c.socketId, ch, data);
      const prefix = v === 1 ? 'pusher' : 'sockudo';
      const reply = await c.request({ event: `${prefix}:subscribe`, data: { channel: ch, auth, channel_data: JSON.stringify(data), filter } }, (f) => f.event.endsWith('subscription_succeeded'));
      assert.equal(reply.event, `${prefix}_internal:subscription_succeeded`);
    };
    const memberEvent = (v: 1 | 2, change: 'added' | 'removed', userId: string) => (f: Frame) =>
      f.event === `${v === 1 ? 'pusher' : 'sockudo'}_internal:member_${change}` && f.channel === ch && JSON.parse(f.data as string).user_id === userId;
    const subscriptions = async () =>
      ((await (await serverSdk(server.port).get({ path: `/channels/${ch}`, params: { info: 'subscription_count' } })).json()) as { subscription_count: number }).subscription_count;

    const v1Watcher = await RawClient.open(server.workerPorts[0]);
    await join(v1Watcher, 'w1', 1);
    let v2Watcher = await openV2(server.workerPorts[1]);
    await join(v2Watcher, 'w2', 2);
    await v1Watcher.next(memberEvent(1, 'added', 'w2'));
    // A filter chooses among the channel's messages; member events still reach a filtered subscription.
    const filtered = await openV2(server.workerPorts[1]);
    await join(filtered, 'f', 2, { events: ['chat'] });
    await v2Watcher.next(memberEvent(2, 'added', 'f'));
    const guest = await RawClient.open(server.workerPorts[1]);
    await join(guest, 'g', 1);
    await v1Watcher.next(memberEvent(1, 'added', 'g'));
    await v2Watcher.next(memberEvent(2, 'added', 'g'));
    await filtered.next(memberEvent(2, 'added', 'g'));
    assert.equal(v2Watcher.frames.filter((f) => f.event.startsWith('pusher')).length, 0, 'no V1 frame reaches the V2 socket');
    filtered.close();
    await v1Watcher.next(memberEvent(1, 'removed', 'f'));

    // The only V2 member leaves: the V1 members still hear everything.
    v2Watcher.close();
    await v1Watcher.next(memberEvent(1, 'removed', 'w2'));
    guest.close();
    await v1Watcher.next(memberEvent(1, 'removed', 'g'));
    await eventually(async () => (await subscriptions()) === 1, 'only the V1 watcher left');

    // A V2 member comes back: it hears the next member, and so does the V1 watcher.
    v2Watcher = await openV2(server.workerPorts[0]);
    await join(v2Watcher, 'w2', 2);
    const late = await RawClient.open(server.workerPorts[1]);
    await join(late, 'late', 1);
    await v2Watcher.next(memberEvent(2, 'added', 'late'));
    await v1Watcher.next(memberEvent(1, 'added', 'late'));
    for (const c of [v1Watcher, v2Watcher, late]) c.close();
  });

  test('leave and join again as another user before the first join is answered: only the last user is a member', async () => {
    const ch = 'presence-switch';
    const users = async () => ((await (await serverSdk(server.port).get({ path: `/channels/${ch}/users` })).json()) as { users: { id: string }[] }).users.map((u) => u.id);
    const c = await RawClient.open(server.workerPorts[0]);
    const subscribeAs = (userId: string) => {
      const data = { user_id: userId };
      const { auth } = sdk.authorizeChannel(c.socketId, ch, data);
      c.send({ event: 'pusher:subscribe', data: { channel: ch, auth, channel_data: JSON.stringify(data) } });
    };
    // Three frames in a row: the worker reads them before the primary answers the first join.
    subscribeAs('first');
    c.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
    subscribeAs('second');
    const ok = await c.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    assert.deepEqual(JSON.parse(ok.data as string).presence.ids, ['second']);
    assert.deepEqual(await users(), ['second'], 'the first join was undone, not left behind');
    c.close();
    await eventually(async () => (await users()).length === 0, 'nobody left in the channel');
  });

  test('a burst of joins larger than a cross-thread chunk: every join answered, in order, with the whole host', async () => {
    // 100 joins sent at once cross to the primary and back in chunks (ipc/outbox.ts AWAITED_CHUNK).
    const JOINS = 100;
    const burst = async (port: number, userId: string): Promise<{ c: RawClient; answers: Frame[] }> => {
      const c = await RawClient.open(port);
      const channelData = JSON.stringify({ user_id: userId });
      for (let i = 0; i < JOINS; i++) {
        const channel = `presence-burst-${i}`;
        const { auth } = sdk.authorizeChannel(c.socketId, channel, { user_id: userId });
        c.send({ event: 'pusher:subscribe', data: { channel, auth, channel_data: channelData } });
      }
      await c.next((f) => f.channel === `presence-burst-${JOINS - 1}`, 10_000);
      return { c, answers: c.frames.filter((f) => f.event.startsWith('pusher') && !f.event.endsWith('connection_established')) };
    };
    const first = await burst(server.workerPorts[0], 'b1');
    assert.deepEqual(
      first.answers.map((f) => [f.event, f.channel]),
      Array.from({ length: JOINS }, (_, i) => ['pusher_internal:subscription_succeeded', `presence-burst-${i}`]),
    );
    for (const f of first.answers) assert.deepEqual(JSON.parse(f.data as string).presence.ids, ['b1']);
    const second = await burst(server.workerPorts[1], 'b2');
    assert.deepEqual(
      second.answers.map((f) => f.channel),
      Array.from({ length: JOINS }, (_, i) => `presence-burst-${i}`),
    );
    for (const f of second.answers) assert.deepEqual(JSON.parse(f.data as string).presence, { ids: ['b1', 'b2'], hash: { b1: {}, b2: {} }, count: 2 });
    first.c.close();
    second.c.close();
  });

  test('numeric user ids are accepted as Pusher does', async () => {
    const { c, reply } = await rawPresence(server.port, 'presence-num', { user_id: 42 });
    assert.deepEqual(JSON.parse(reply.data as string).presence.ids, ['42']);
    c.close();
  });

  test('bad channel_data and bad signatures are refused with codes; the socket stays open', async () => {
    const c = await RawClient.open(server.port);
    const channel = 'presence-bad';
    const noData = sdk.authorizeChannel(c.socketId, channel);
    const missing = await c.request({ event: 'pusher:subscribe', data: { channel, auth: noData.auth } }, (f) => f.event === 'pusher:error');
    assert.deepEqual(missing.data, { code: 4000, message: 'Invalid message format: Missing channel_data for presence channel' });
    const badJson = 'not json';
    const signedBad = `app-key:${sdk.authorizeChannel(c.socketId, channel, undefined).auth.split(':')[1]}`;
    const wrong = await c.request({ event: 'pusher:subscribe', data: { channel, auth: signedBad, channel_data: badJson } }, (f) => f.event === 'pusher:error');
    assert.equal((wrong.data as { code: number }).code, 4009, 'signature over other channel_data');
    // max_presence_member_size_in_kb (2) counts whole KiB, as Sockudo does: 3 KiB is over, 2.9 KiB is not.
    const bigInfo = { user_id: 'big', user_info: { blob: 'x'.repeat(3072) } };
    const big = sdk.authorizeChannel(c.socketId, channel, bigInfo);
    const tooBig = await c.request({ event: 'pusher:subscribe', data: { channel, auth: big.auth, channel_data: JSON.stringify(bigInfo) } }, (f) => f.event === 'pusher:error');
    assert.equal((tooBig.data as { code: number }).code, 4300);
    const nearInfo = { user_id: 'near', user_info: { blob: 'x'.repeat(3000) } };
    const near = sdk.authorizeChannel(c.socketId, channel, nearInfo);
    const fits = await c.request({ event: 'pusher:subscribe', data: { channel, auth: near.auth, channel_data: JSON.stringify(nearInfo) } }, (f) => f.channel === channel || f.event === 'pusher:error');
    assert.equal(fits.event, 'pusher_internal:subscription_succeeded', JSON.stringify(fits));
    await c.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
    c.close();
  });
});

describe('presence member limit', () => {
  test('a new user over max_presence_members_per_channel gets 4100; another tab of a member still joins', async () => {
    const server = await startTestServer({ apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret', limits: { max_presence_members_per_channel: 2 } }] });
    try {
      const a = await rawPresence(server.workerPorts[0], 'presence-full', { user_id: 'a' });
      const b = await rawPresence(server.workerPorts[1], 'presence-full', { user_id: 'b' });
      const c = await rawPresence(server.workerPorts[0], 'presence-full', { user_id: 'c' });
      assert.deepEqual(c.reply, { event: 'pusher:error', data: { code: 4100, message: 'Over capacity' } });
      const a2 = await rawPresence(server.workerPorts[1], 'presence-full', { user_id: 'a' });
      assert.equal(a2.reply.event, 'pusher_internal:subscription_succeeded');
      for (const x of [a, b, c, a2]) x.c.close();
    } finally {
      await server.shutdown();
    }
  });
});

describe('client events', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  test('pusher-js: delivered to subscribers on the other thread, never echoed to the sender', async () => {
    const alice = await member(server.workerPorts[0], 'alice');
    const bob = await member(server.workerPorts[1], 'bob');
    const carol = await member(server.workerPorts[0], 'carol');
    const got: Record<string, unknown[]> = { alice: [], bob: [], carol: [] };
    const channels = await Promise.all([alice, bob, carol].map((c) => subscribed(c, 'private-chat')));
    channels.forEach((ch, i) => ch.bind('client-typing', (d: unknown) => got[['alice', 'bob', 'carol'][i]].push(d)));
    const received = (name: string) => new Promise<void>((resolve) => channels[1 + ['bob', 'carol'].indexOf(name)].bind('client-typing', () => resolve()));
    const delivered = Promise.all([received('bob'), received('carol')]);
    assert.equal(channels[0].trigger('client-typing', { who: 'alice' }), true);
    // The client event and an HTTP publish travel on different connections, with no order between them: wait
    // for both copies first; then a publish is a fence (it follows the client event through alice's worker).
    await delivered;
    const fenced = channels.map((ch) => new Promise<void>((resolve) => ch.bind('done', () => resolve())));
    await serverSdk(server.port).trigger('private-chat', 'done', {});
    await Promise.all(fenced);
    assert.deepEqual(got.bob, [{ who: 'alice' }]);
    assert.deepEqual(got.carol, [{ who: 'alice' }]);
    assert.deepEqual(got.alice, []);
    for (const c of [alice, bob, carol]) c.disconnect();
  });

  test('presence client events carry the sender user_id', async () => {
    const a = await rawPresence(server.workerPorts[0], 'presence-ce', { user_id: 'sender' });
    const b = await rawPresence(server.workerPorts[1], 'presence-ce', { user_id: 'receiver' });
    a.c.send({ event: 'client-wave', channel: 'presence-ce', data: { hi: 1 } });
    const f = await b.c.next((x) => x.event === 'client-wave');
    assert.deepEqual(f, { event: 'client-wave', channel: 'presence-ce', data: { hi: 1 }, user_id: 'sender' });
    a.c.close();
    b.c.close();
  });

  test('refusals: public channel, not subscribed, rate limit over 10 per second (4301); socket stays open', async () => {
    const c = await RawClient.open(server.port);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'public-x' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const pub = await c.request({ event: 'client-x', channel: 'public-x', data: {} }, (f) => f.event === 'pusher:error');
    assert.equal((pub.data as { code: number }).code, 4301);
    const notSub = await c.request({ event: 'client-x', channel: 'private-elsewhere', data: {} }, (f) => f.event === 'pusher:error');
    assert.equal((notSub.data as { code: number }).code, 4301);

    assert.equal(c.closeCode, null);
    c.close();

    // The rate limit counts every client-* frame of a socket (refused ones too): a fresh socket for the burst.
    const b = await RawClient.open(server.port);
    const { auth } = sdk.authorizeChannel(b.socketId, 'private-rate');
    await b.request({ event: 'pusher:subscribe', data: { channel: 'private-rate', auth } }, (f) => f.event.endsWith('subscription_succeeded'));
    const from = b.frames.length;
    for (let i = 0; i < 12; i++) b.send({ event: 'client-burst', channel: 'private-rate', data: { i } });
    await b.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
    const errors = b.frames.slice(from).filter((f) => f.event === 'pusher:error');
    // A burst inside one second: at most 10 pass (11 if the burst straddles a window edge).
    assert.ok(errors.length === 2 || errors.length === 1, `expected the events past the limit refused, got ${errors.length}`);
    assert.equal((errors[0].data as { message: string }).message, 'Client event rejected due to rate limit');
    assert.equal(b.closeCode, null);
    b.close();
  });

  test('apps without client events refuse them with 4301', async () => {
    const other = await startTestServer({ apps: [{ id: 'quiet', key: 'quiet-key', secret: 'quiet-secret' }] });
    try {
      const c = await RawClient.open(other.port, 'quiet-key');
      const s = new Pusher({ appId: 'quiet', key: 'quiet-key', secret: 'quiet-secret', host: '127.0.0.1' });
      const { auth } = s.authorizeChannel(c.socketId, 'private-q');
      await c.request({ event: 'pusher:subscribe', data: { channel: 'private-q', auth } }, (f) => f.event.endsWith('subscription_succeeded'));
      const err = await c.request({ event: 'client-x', channel: 'private-q', data: {} }, (f) => f.event === 'pusher:error');
      assert.deepEqual(err.data, { code: 4301, message: 'Client events are not enabled for this app' });
      c.close();
    } finally {
      await other.shutdown();
    }
  });
});
