// Laravel Echo (the real laravel-echo package, broadcaster 'pusher', on the real pusher-js) against the
// real two-thread server with the default development app: public listen(), private whispers between
// threads, presence here/joining/leaving. Channel authorization is done locally with the pusher SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Echo from 'laravel-echo';
import type Pusher from 'pusher';
import PusherJsModule from 'pusher-js';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

// pusher-js is CommonJS whose module.exports is the class. laravel-echo's typings (an ES module importing
// pusher-js) see that default import exactly as this file does, so it is passed to Echo's `Pusher` option as is.

/** Rejects if `p` has not settled within `ms`, so a missing event fails the test instead of hanging it. */
function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

type EchoClient = Echo<'pusher'>;
type Member = { user_id: string; user_info: Record<string, unknown> };

describe('Laravel Echo on pusher-js', () => {
  let server: TestServer;
  let sdk: Pusher;
  const echoes: EchoClient[] = [];

  before(async () => {
    server = await startTestServer();
    sdk = serverSdk(server.port);
  });
  after(async () => {
    for (const e of echoes) e.disconnect();
    await server.shutdown();
  });

  /** An Echo instance on worker `worker`; `member` is the presence identity its auth handler signs. */
  function makeEcho(worker: number, member?: Member): EchoClient {
    const echo = new Echo<'pusher'>({
      broadcaster: 'pusher',
      key: DEVELOPMENT_APP.key,
      wsHost: '127.0.0.1',
      wsPort: server.workerPorts[worker],
      forceTLS: false,
      enabledTransports: ['ws'],
      cluster: 'local',
      disableStats: true,
      Pusher: PusherJsModule,
      channelAuthorization: {
        customHandler: ({ socketId, channelName }, cb) =>
          cb(null, sdk.authorizeChannel(socketId, channelName, channelName.startsWith('presence-') ? member : undefined)),
      },
    });
    echoes.push(echo);
    return echo;
  }

  function whenSubscribed(channel: { subscribed(cb: CallableFunction): unknown; error(cb: CallableFunction): unknown }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Echo channel did not subscribe')), 5000);
      channel.subscribed(() => {
        clearTimeout(timer);
        resolve();
      });
      channel.error((e: unknown) => {
        clearTimeout(timer);
        reject(new Error(`subscription error ${JSON.stringify(e)}`));
      });
    });
  }

  test("Echo.channel('orders').listen('.order.created') receives the SDK trigger on both threads", async () => {
    const received: unknown[][] = [[], []];
    const namespaced: unknown[] = [];
    for (const worker of [0, 1]) {
      const echo = makeEcho(worker);
      const channel = echo.channel('orders').listen('.order.created', (e: unknown) => received[worker].push(e));
      if (worker === 0) channel.listen('OrderShipped', (e: unknown) => namespaced.push(e));
      await whenSubscribed(channel);
      assert.equal(echo.connectionStatus(), 'connected');
      assert.match(echo.socketId() ?? '', /^\d+\.\d+$/);
    }
    const ORDER = { id: 'ord_123', total: 4200 };
    assert.equal((await sdk.trigger('orders', 'order.created', ORDER)).status, 200);
    await eventually(() => received.every((r) => r.length === 1), 'order.created through Echo on both threads');
    assert.deepEqual(received, [[ORDER], [ORDER]]);

    // Without the leading dot Echo prefixes Laravel's namespace, as a Laravel broadcast event is named.
    await sdk.trigger('orders', 'App\\Events\\OrderShipped', { id: 'ord_123' });
    await eventually(() => namespaced.length === 1, 'namespaced event');
    assert.deepEqual(namespaced, [{ id: 'ord_123' }]);
  });

  test("Echo.private('chat'): whispers cross worker threads, and the sender does not hear itself", async () => {
    const alice = makeEcho(0);
    const bob = makeEcho(1);
    const heardByAlice: unknown[] = [];
    const heardByBob: unknown[] = [];
    const a = alice.private('chat').listenForWhisper('typing', (e: unknown) => heardByAlice.push(e));
    const b = bob.private('chat').listenForWhisper('typing', (e: unknown) => heardByBob.push(e));
    await Promise.all([whenSubscribed(a), whenSubscribed(b)]);

    b.whisper('typing', { name: 'Bob', typing: true });
    await eventually(() => heardByAlice.length === 1, 'Alice hears Bob');
    assert.deepEqual(heardByAlice, [{ name: 'Bob', typing: true }]);

    a.whisper('typing', { name: 'Alice', typing: false });
    await eventually(() => heardByBob.length === 1, 'Bob hears Alice');
    // Bob's own whisper would have reached him (from his own thread) before Alice's reply did.
    assert.deepEqual(heardByBob, [{ name: 'Alice', typing: false }]);
    assert.deepEqual(heardByAlice, [{ name: 'Bob', typing: true }]);

    // A bad signature: the server refuses with pusher:error 4009 (pusher-js reports it on the connection),
    // and the whisper channel keeps working for the others.
    const mallory = new Echo<'pusher'>({
      broadcaster: 'pusher',
      key: DEVELOPMENT_APP.key,
      wsHost: '127.0.0.1',
      wsPort: server.workerPorts[1],
      forceTLS: false,
      enabledTransports: ['ws'],
      cluster: 'local',
      disableStats: true,
      Pusher: PusherJsModule,
      channelAuthorization: { customHandler: (_params, cb) => cb(null, { auth: `${DEVELOPMENT_APP.key}:${'0'.repeat(64)}` }) },
    });
    echoes.push(mallory);
    const refused = new Promise<unknown>((resolve) => {
      mallory.connector.pusher.connection.bind('error', resolve);
    });
    mallory.private('chat');
    const err = (await within(refused, 'the 4009 error')) as { type: string; data: { code: number } };
    assert.equal(err.data.code, 4009);
    b.whisper('typing', { name: 'Bob', again: true });
    await eventually(() => heardByAlice.length === 2, 'Alice hears the second whisper');
  });

  test("Echo.join('room'): here, joining and leaving with users on different threads", async () => {
    const ann = makeEcho(0, { user_id: '1', user_info: { id: 1, name: 'Ann' } });
    const here: unknown[][] = [];
    const joining: unknown[] = [];
    const leaving: unknown[] = [];
    const annRoom = ann
      .join('room')
      .here((users: unknown[]) => here.push(users))
      .joining((user: unknown) => joining.push(user))
      .leaving((user: unknown) => leaving.push(user));
    await whenSubscribed(annRoom);
    assert.deepEqual(here, [[{ id: 1, name: 'Ann' }]]);

    const bob = makeEcho(1, { user_id: '2', user_info: { id: 2, name: 'Bob' } });
    const bobHere: unknown[][] = [];
    const bobRoom = bob.join('room').here((users: unknown[]) => bobHere.push(users));
    await whenSubscribed(bobRoom);
    assert.equal(bobHere.length, 1);
    assert.deepEqual(
      [...(bobHere[0] as { id: number }[])].sort((x, y) => x.id - y.id),
      [
        { id: 1, name: 'Ann' },
        { id: 2, name: 'Bob' },
      ],
    );
    await eventually(() => joining.length === 1, 'Ann sees Bob joining');
    assert.deepEqual(joining, [{ id: 2, name: 'Bob' }]);

    // Whispers work on presence channels too.
    const whispers: unknown[] = [];
    annRoom.listenForWhisper('wave', (e: unknown) => whispers.push(e));
    bobRoom.whisper('wave', { from: 'Bob' });
    await eventually(() => whispers.length === 1, 'presence whisper');
    assert.deepEqual(whispers, [{ from: 'Bob' }]);

    bob.leave('room');
    await eventually(() => leaving.length === 1, 'Ann sees Bob leaving');
    assert.deepEqual(leaving, [{ id: 2, name: 'Bob' }]);
    assert.deepEqual(joining, [{ id: 2, name: 'Bob' }]);

    // A second tab of the same user on the other thread is not a new member; closing it is not a departure.
    const annTab = makeEcho(1, { user_id: '1', user_info: { id: 1, name: 'Ann' } });
    await whenSubscribed(annTab.join('room'));
    annTab.disconnect();
    // The close travels on the tab's own connection: wait until the server has taken it before Carol joins.
    const subscriptions = async () =>
      ((await (await sdk.get({ path: '/channels/presence-room', params: { info: 'subscription_count' } })).json()) as { subscription_count: number }).subscription_count;
    await eventually(async () => (await subscriptions()) === 1, "Ann's tab closed on the server");
    const carol = makeEcho(1, { user_id: '3', user_info: { id: 3, name: 'Carol' } });
    await whenSubscribed(carol.join('room'));
    await eventually(() => joining.length === 2, 'Ann sees Carol joining');
    assert.deepEqual(joining, [
      { id: 2, name: 'Bob' },
      { id: 3, name: 'Carol' },
    ]);
    assert.deepEqual(leaving, [{ id: 2, name: 'Bob' }]);
    carol.disconnect();
    await eventually(() => leaving.length === 2, 'Ann sees Carol leaving on disconnect');
    assert.deepEqual(leaving[1], { id: 3, name: 'Carol' });
  });

  // Reference §2.5 lines 240-248: member_added only for the user's first connection, member_removed after the last.
  test('presence: two tabs of one user on different threads => one joining, leaving only after the last tab leaves', async () => {
    const events: string[] = [];
    const obs = makeEcho(0, { user_id: 'obs', user_info: {} });
    const oc = obs.join('room2').joining((m: { id?: string }) => events.push(`join:${JSON.stringify(m)}`)).leaving((m: unknown) => events.push(`leave:${JSON.stringify(m)}`));
    await whenSubscribed(oc);
    const tab1 = makeEcho(1, { user_id: 'bob', user_info: { name: 'Bob' } });
    await whenSubscribed(tab1.join('room2'));
    await eventually(() => events.length === 1, 'joining');
    const tab2 = makeEcho(0, { user_id: 'bob', user_info: { name: 'Bob' } });
    let here: unknown[] = [];
    await whenSubscribed(tab2.join('room2').here((m: unknown[]) => { here = m; }));
    assert.equal(here.length, 2);
    tab1.leave('room2');
    // A public event to the observer after the users count says tab 2 is still in: no leaving came before it.
    const marker: unknown[] = [];
    await whenSubscribed(obs.channel('mark').listen('.m', (e: unknown) => marker.push(e)));
    await eventually(async () => {
      const r = await sdk.get({ path: '/channels/presence-room2/users' });
      return ((await r.json()) as { users: unknown[] }).users.length === 2;
    }, 'users still 2');
    await sdk.trigger('mark', 'm', {});
    await eventually(() => marker.length === 1, 'marker');
    assert.deepEqual(events, ['join:{"name":"Bob"}']);
    tab2.leave('room2');
    await eventually(() => events.length === 2, 'leaving');
    assert.deepEqual(events, ['join:{"name":"Bob"}', 'leave:{"name":"Bob"}']);
  });

  test('notification channel private-App.Models.User.1 receives notifications; Echo.leave stops delivery', async () => {
    const echo = makeEcho(1);
    const got: unknown[] = [];
    const ch = echo.private('App.Models.User.1').notification((n: unknown) => got.push(n));
    await whenSubscribed(ch);
    const r = await sdk.trigger('private-App.Models.User.1', 'Illuminate\\Notifications\\Events\\BroadcastNotificationCreated', { id: 'n1', type: 'App\\Notifications\\X' });
    assert.equal(r.status, 200);
    await eventually(() => got.length === 1, 'notification');
    echo.leave('App.Models.User.1');
    await eventually(async () => {
      const res = await sdk.get({ path: '/channels/private-App.Models.User.1' });
      return ((await res.json()) as { occupied: boolean }).occupied === false;
    }, 'channel vacated');
  });

  test('whisper on presence channel reaches the other member but not the sender (V1)', async () => {
    const a = makeEcho(0, { user_id: 'wa', user_info: {} });
    const b = makeEcho(1, { user_id: 'wb', user_info: {} });
    const heardA: unknown[] = [];
    const heardB: unknown[] = [];
    // Both waits are attached at once: Echo's subscribed() never fires for a subscription that already succeeded.
    const ca = a.join('wroom').listenForWhisper('typing', (e: unknown) => heardA.push(e));
    const subscribedA = whenSubscribed(ca);
    const cb = b.join('wroom').listenForWhisper('typing', (e: unknown) => heardB.push(e));
    await Promise.all([subscribedA, whenSubscribed(cb)]);
    ca.whisper('typing', { name: 'A' });
    await eventually(() => heardB.length === 1, 'whisper');
    assert.deepEqual(heardB, [{ name: 'A' }]);
    assert.deepEqual(heardA, []);
  });
});
