// Users: pusher:signin, server-to-user events on every thread, watchlist online/offline,
// terminate_connections and the sign-in deadline, through pusher-js, raw sockets and the pusher SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { type PusherClient, RawClient, connectPusherJs, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });

/**
 * pusher-js that signs in as `user` through a local handler (what an app's /pusher/user-auth does); `beforeSignin`
 * runs once connected, before the sign-in (to bind handlers for what the sign-in itself brings).
 */
async function signedInClient(port: number, user: Record<string, unknown>, beforeSignin?: (client: PusherClient) => void): Promise<PusherClient> {
  const client = await connectPusherJs(port, 'app-key', {
    userAuthentication: {
      customHandler: ({ socketId }: { socketId: string }, cb: (e: Error | null, a: unknown) => void) =>
        cb(null, sdk.authenticateUser(socketId, user as { id: string })),
    },
  });
  beforeSignin?.(client);
  client.signin();
  await client.user.signinDonePromise;
  return client;
}

async function rawSignin(port: number, user: Record<string, unknown>, key = 'app-key', signer = sdk): Promise<RawClient> {
  const c = await RawClient.open(port, key);
  const auth = signer.authenticateUser(c.socketId, user as { id: string });
  const ok = await c.request({ event: 'pusher:signin', data: auth }, (f) => f.event === 'pusher:signin_success' || f.event === 'pusher:error');
  assert.equal(ok.event, 'pusher:signin_success');
  return c;
}

describe('users', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  test('signin_success echoes user_data; a bad signature is 4009 and the socket stays open', async () => {
    const c = await RawClient.open(server.port);
    const auth = sdk.authenticateUser(c.socketId, { id: 'u-sig' });
    const bad = await c.request({ event: 'pusher:signin', data: { ...auth, auth: 'app-key:00' } }, (f) => f.event === 'pusher:error');
    assert.equal((bad.data as { code: number }).code, 4009);
    const ok = await c.request({ event: 'pusher:signin', data: auth }, (f) => f.event === 'pusher:signin_success');
    assert.deepEqual(ok, { event: 'pusher:signin_success', data: { user_data: auth.user_data } });
    c.close();
  });

  test('sendToUser reaches every socket of the user on every thread, and nobody else', async () => {
    const tab1 = await signedInClient(server.workerPorts[0], { id: 'u1' });
    const tab2 = await signedInClient(server.workerPorts[1], { id: 'u1' });
    const other = await signedInClient(server.workerPorts[1], { id: 'u2' });
    const got: Record<string, unknown[]> = { tab1: [], tab2: [], other: [] };
    tab1.user.bind('notice', (d: unknown) => got.tab1.push(d));
    tab2.user.bind('notice', (d: unknown) => got.tab2.push(d));
    other.user.bind('notice', (d: unknown) => got.other.push(d));
    await serverSdk(server.port).sendToUser('u1', 'notice', { n: 1 });
    await serverSdk(server.port).sendToUser('u2', 'notice', { n: 2 });
    await eventually(() => got.tab1.length === 1 && got.tab2.length === 1 && got.other.length === 1, 'server-to-user events');
    assert.deepEqual(got, { tab1: [{ n: 1 }], tab2: [{ n: 1 }], other: [{ n: 2 }] });
    for (const c of [tab1, tab2, other]) c.disconnect();
  });

  test('sendToUser also reaches a socket a presence join identified as the user; signing in as another user ends that', async () => {
    const presenceJoin = async (c: RawClient, userId: string) => {
      const channelData = { user_id: userId };
      const { auth } = sdk.authorizeChannel(c.socketId, 'presence-lobby', channelData);
      const reply = await c.request(
        { event: 'pusher:subscribe', data: { channel: 'presence-lobby', auth, channel_data: JSON.stringify(channelData) } },
        (f) => f.channel === 'presence-lobby' || f.event === 'pusher:error',
      );
      assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
    };
    const c = await RawClient.open(server.workerPorts[0]);
    const other = await RawClient.open(server.workerPorts[1]);
    await presenceJoin(c, 'lobby-u');
    await presenceJoin(other, 'lobby-other');
    const sdkClient = serverSdk(server.port);
    await sdkClient.sendToUser('lobby-u', 'hello', { n: 1 });
    await sdkClient.sendToUser('lobby-other', 'fence', {});
    const hello = await c.next((f) => f.event === 'hello');
    assert.equal(hello.channel, '#server-to-user-lobby-u');
    await other.next((f) => f.event === 'fence');
    assert.equal(other.frames.filter((f) => f.event === 'hello').length, 0, 'another member does not get it');

    // Signed in as someone else, the socket is that user's: a later event for the presence user passes it by.
    const auth = sdk.authenticateUser(c.socketId, { id: 'lobby-signed' });
    await c.request({ event: 'pusher:signin', data: auth }, (f) => f.event === 'pusher:signin_success');
    await sdkClient.sendToUser('lobby-u', 'again', {});
    await sdkClient.sendToUser('lobby-signed', 'mine', {});
    await c.next((f) => f.event === 'mine');
    assert.equal(c.frames.filter((f) => f.event === 'again').length, 0);
    c.close();
    other.close();
  });

  test('terminate_connections also closes a socket a presence join identified as the user (4009), not other members', async () => {
    const presenceJoin = async (c: RawClient, userId: string) => {
      const channelData = { user_id: userId };
      const { auth } = sdk.authorizeChannel(c.socketId, 'presence-terminate', channelData);
      await c.request(
        { event: 'pusher:subscribe', data: { channel: 'presence-terminate', auth, channel_data: JSON.stringify(channelData) } },
        (f) => f.event === 'pusher_internal:subscription_succeeded',
      );
    };
    const member = await RawClient.open(server.workerPorts[0]);
    const bystander = await RawClient.open(server.workerPorts[1]);
    await presenceJoin(member, 'to-terminate');
    await presenceJoin(bystander, 'stays');
    await serverSdk(server.port).post({ path: '/users/to-terminate/terminate_connections', body: {} as unknown as string });
    assert.equal(await member.closed(), 4009);
    // The bystander is still connected: it gets the member_removed of the terminated user.
    const removed = await bystander.next((f) => f.event === 'pusher_internal:member_removed');
    assert.equal((JSON.parse(removed.data as string) as { user_id: string }).user_id, 'to-terminate');
    bystander.close();
  });

  test("subscribing to another user's server-to-user channel succeeds (a public channel to Sockudo) and brings none of their events", async () => {
    const c = await rawSignin(server.port, { id: 'me' });
    const mine = await c.request({ event: 'pusher:subscribe', data: { channel: '#server-to-user-me' } }, (f) => f.channel === '#server-to-user-me' || f.event === 'pusher:error');
    assert.equal(mine.event, 'pusher_internal:subscription_succeeded');
    const theirs = await c.request({ event: 'pusher:subscribe', data: { channel: '#server-to-user-you' } }, (f) => f.channel === '#server-to-user-you' || f.event === 'pusher:error');
    assert.equal(theirs.event, 'pusher_internal:subscription_succeeded');
    const sdk = serverSdk(server.port);
    await sdk.sendToUser('you', 'secret', { for: 'you' });
    await sdk.sendToUser('me', 'fence', {});
    await c.next((f) => f.event === 'fence');
    assert.equal(c.frames.filter((f) => f.event === 'secret').length, 0, "another user's events never reach this socket");
    c.close();
  });

  test('watchlist: offline at sign-in, online when a watched user signs in, offline when their last socket leaves', async () => {
    const events: [string, string[]][] = [];
    const watcher = await signedInClient(server.workerPorts[0], { id: 'w1', watchlist: ['friend'] }, (client) => {
      client.user.watchlist.bind('online', (e: { user_ids: string[] }) => events.push(['online', e.user_ids]));
      client.user.watchlist.bind('offline', (e: { user_ids: string[] }) => events.push(['offline', e.user_ids]));
    });
    // Reference §2.7: at sign-in the user is told the state of every watched user, offline ones included.
    await eventually(() => events.length >= 1, 'offline event at sign-in');
    const friendA = await rawSignin(server.workerPorts[1], { id: 'friend' });
    const friendB = await rawSignin(server.workerPorts[0], { id: 'friend' });
    await eventually(() => events.length >= 2, 'online event');
    friendA.close();
    friendB.close();
    await eventually(() => events.length >= 3, 'offline event');
    assert.deepEqual(events, [['offline', ['friend']], ['online', ['friend']], ['offline', ['friend']]]);
    // A user who signs in is told at once which watched users are online and which are not: one frame per state,
    // in the frame the clients expect.
    const friend = await rawSignin(server.port, { id: 'friend' });
    const late = await rawSignin(server.port, { id: 'w2', watchlist: ['friend', 'nobody', 'friend', 'ghost'] });
    const isWatchlist = (x: { event: string }) => x.event === 'pusher_internal:watchlist_events';
    const online = await late.next(isWatchlist);
    const offline = await late.next(isWatchlist, 5000, late.frames.indexOf(online) + 1);
    assert.deepEqual(online.data, { events: [{ name: 'online', user_ids: ['friend'] }] });
    assert.deepEqual(offline.data, { events: [{ name: 'offline', user_ids: ['nobody', 'ghost'] }] });
    // A watchlist of users who are all online gets no offline frame. Both frames leave in one step, so a pong asked
    // for after the first arrived comes after any second one.
    const third = await rawSignin(server.port, { id: 'w3', watchlist: ['friend'] });
    const first = await third.next(isWatchlist);
    assert.deepEqual(first.data, { events: [{ name: 'online', user_ids: ['friend'] }] });
    await third.request({ event: 'pusher:ping' }, (x) => x.event === 'pusher:pong');
    assert.equal(third.frames.filter(isWatchlist).length, 1);
    for (const c of [friend, late, third]) c.close();
    watcher.disconnect();
  });

  // Reference §1.7 (close codes, 4200): force_reconnect closes with "Force reconnect requested by the app.", sent
  // first as pusher:error like every server-initiated close.
  test('force_reconnect sends pusher:error {4200, "Force reconnect requested by the app."} and closes 4200', async () => {
    const c = await rawSignin(server.workerPorts[1], { id: 'reconnect-me' });
    const res = await serverSdk(server.port).post({ path: '/users/reconnect-me/force_reconnect', body: {} as never });
    assert.equal(res.status, 200);
    assert.equal(await c.closed(), 4200);
    assert.deepEqual(c.frames.at(-1), { event: 'pusher:error', data: { code: 4200, message: 'Force reconnect requested by the app.' } });
  });

  test('terminate_connections closes every socket of the user with 4009', async () => {
    const a = await rawSignin(server.workerPorts[0], { id: 'gone' });
    const b = await rawSignin(server.workerPorts[1], { id: 'gone' });
    const bystander = await rawSignin(server.port, { id: 'stays' });
    const res = await serverSdk(server.port).terminateUserConnections('gone');
    assert.equal(res.status, 200);
    assert.deepEqual(await Promise.all([a.closed(), b.closed()]), [4009, 4009]);
    assert.deepEqual(a.frames.at(-1), { event: 'pusher:error', data: { code: 4009, message: 'You got disconnected by the app.' } });
    await bystander.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
    bystander.close();
  });
});

describe('sign-in deadline', () => {
  test('an app that requires user authentication closes unauthorized sockets with 4009', async () => {
    const app = { id: 'strict', key: 'strict-key', secret: 'strict-secret', features: { require_user_authentication: true } };
    const server = await startTestServer({ apps: [app], user_authentication_timeout: 1 });
    const signer = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
    try {
      // `good` connects first, so by the time `lazy` is closed its own deadline has passed too.
      const good = await rawSignin(server.workerPorts[0], { id: 'ok' }, app.key, signer);
      const lazy = await RawClient.open(server.workerPorts[0], app.key);
      assert.equal(await lazy.closed(4000), 4009);
      assert.equal((lazy.frames.at(-1)?.data as { message: string }).message, 'Connection not authorized within timeout.');
      await good.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
      assert.equal(good.closeCode, null);
      good.close();
    } finally {
      await server.shutdown();
    }
  });
});
