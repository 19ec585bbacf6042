// pusher-js (the real client) through the server's connection life cycle (SOCKUDO-REFERENCE §1.6, §1.7): the
// activity_timeout it is given and the ping/pong it keeps, and what it does on each close code the server sends:
// 4200 (force_reconnect, drain) reconnects at once and re-subscribes everything, 4100 (over capacity) backs off and
// comes back, 4201 (no pong) reconnects; presence survives a user's reconnect.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import PusherJsModule from 'pusher-js';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { type PusherClient, RawClient, connectPusherJs, serverSdk, subscribed } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const PusherJs = PusherJsModule as unknown as typeof import('pusher-js').default;
const sdkFor = (port: number) => serverSdk(port);

describe('pusher-js: activity timeout and force_reconnect', () => {
  let server: TestServer;
  const clients: PusherClient[] = [];
  before(async () => {
    server = await startTestServer({ activity_timeout: 1, pong_timeout: 1 });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await server.shutdown();
  });

  async function signedIn(port: number, id: string): Promise<PusherClient> {
    const sdk = sdkFor(server.port);
    const client = await connectPusherJs(port, DEVELOPMENT_APP.key, {
      userAuthentication: { customHandler: ({ socketId }: { socketId: string }, cb: (e: Error | null, a: unknown) => void) => cb(null, sdk.authenticateUser(socketId, { id })) },
      channelAuthorization: {
        customHandler: ({ socketId, channelName }: { socketId: string; channelName: string }, cb: (e: Error | null, a: unknown) => void) =>
          cb(null, sdk.authorizeChannel(socketId, channelName, channelName.startsWith('presence-') ? { user_id: id, user_info: {} } : undefined)),
      },
    });
    clients.push(client);
    client.signin();
    await client.user.signinDonePromise;
    return client;
  }

  // Reference §1.6 line 113/116: server pings after activity_timeout; pusher-js answers; connection survives.
  test('pusher-js with activity_timeout 1 stays connected across several server ping cycles', async () => {
    const c = await connectPusherJs(server.port);
    clients.push(c);
    const states: string[] = [];
    c.connection.bind('state_change', (s: { current: string }) => states.push(s.current));
    let pings = 0;
    c.connection.bind('message', (m: { event: string }) => {
      if (m.event === 'pusher:ping' || m.event === 'pusher:pong') pings++;
    });
    await eventually(() => pings >= 4, 'four ping/pong cycles', 10000);
    assert.deepEqual(states, []);
    assert.equal(c.connection.state, 'connected');
  });

  // Reference §1.7 line 136/144: 4200 => pusher-js reconnects at once; §2.7 force_reconnect.
  test('force_reconnect (4200): pusher-js reconnects, resubscribes all channels and signs in again; nothing published after is lost', async () => {
    const c = await signedIn(server.workerPorts[0], 'fr-user');
    const got: string[] = [];
    for (const name of ['fr-public', 'private-fr', 'presence-fr']) {
      const ch = await subscribed(c, name);
      ch.bind('ev', (d: { n: string }) => got.push(`${name}:${d.n}`));
    }
    c.user.bind('to-user', (d: { n: string }) => got.push(`user:${d.n}`));
    const oldId = c.connection.socket_id;
    const states: string[] = [];
    c.connection.bind('state_change', (s: { current: string }) => states.push(s.current));
    const sdk = sdkFor(server.port);
    const res = await sdk.post({ path: '/users/fr-user/force_reconnect', body: {} as never });
    assert.equal(res.status, 200);
    await eventually(() => states.includes('connected') && c.connection.socket_id !== oldId, 'reconnect', 8000);
    assert.deepEqual(states.slice(0, 2), ['connecting', 'connected']);
    // Wait until the server knows the new subscriptions (channels API), then publish.
    await eventually(async () => {
      const r = await sdk.get({ path: '/channels/presence-fr/users' });
      const body = (await r.json()) as { users: { id: string }[] };
      return body.users.some((u) => u.id === 'fr-user');
    }, 'presence re-join');
    await eventually(async () => {
      const r = await sdk.get({ path: '/channels', params: { filter_by_prefix: 'private-fr' } });
      const body = (await r.json()) as { channels: Record<string, unknown> };
      return 'private-fr' in body.channels;
    }, 'private re-join');
    await c.user.signinDonePromise;
    for (const name of ['fr-public', 'private-fr', 'presence-fr']) await sdk.trigger(name, 'ev', { n: '1' });
    await eventually(() => got.length >= 3, 'channel events after reconnect');
    // re-signin must be done before sendToUser reaches it
    await eventually(async () => {
      await sdk.sendToUser('fr-user', 'to-user', { n: '1' });
      return got.some((g) => g.startsWith('user:'));
    }, 'server-to-user after reconnect');
    assert.deepEqual(got.slice(0, 3).sort(), ['fr-public:1', 'presence-fr:1', 'private-fr:1']);
  });
});

describe('pusher-js: over capacity and pong timeout', () => {
  let server: TestServer;
  const clients: PusherClient[] = [];
  before(async () => {
    server = await startTestServer({ activity_timeout: 1, pong_timeout: 1, max_connections: 1 });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await server.shutdown();
  });

  // Reference §1.3 line 80 / §1.7 line 135,144: node cap => 4100, pusher-js backs off and retries.
  test('over capacity (4100): pusher-js retries with backoff and connects once there is room', async () => {
    const a = await RawClient.open(server.port);
    const b = new PusherJs(DEVELOPMENT_APP.key, { wsHost: '127.0.0.1', wsPort: server.port, forceTLS: false, cluster: 'local', enabledTransports: ['ws'], disableStats: true });
    clients.push(b);
    const states: string[] = [];
    b.connection.bind('state_change', (s: { current: string }) => states.push(s.current));
    const errors: unknown[] = [];
    b.connection.bind('error', (e: unknown) => errors.push(e));
    await eventually(() => errors.length >= 1, 'a 4100 error');
    a.close();
    await eventually(() => b.connection.state === 'connected', 'connected after room', 10000);
    assert.equal(states.includes('failed'), false);
    b.disconnect();
  });

  // Reference §1.6 line 113, §1.7 line 137/144: 4201 => pusher-js reconnects at once and resubscribes.
  test('pong timeout (4201): pusher-js reconnects and its channels work again', async () => {
    const c = await connectPusherJs(server.port);
    clients.push(c);
    const ch = await subscribed(c, 'pt-chan');
    const got: unknown[] = [];
    ch.bind('ev', (d: unknown) => got.push(d));
    const states: string[] = [];
    c.connection.bind('state_change', (s: { current: string }) => states.push(s.current));
    // Silence this connection's outgoing frames (a frozen tab): the server's ping goes unanswered.
    const inner = (c.connection as unknown as { connection: { send: (d: string) => boolean; transport: { send: (d: string) => boolean } } }).connection;
    inner.transport.send = () => true;
    await eventually(() => states.filter((s) => s === 'connected').length >= 1, 'reconnected', 15000);
    await eventually(async () => {
      const r = await serverSdk(server.port).get({ path: '/channels/pt-chan' });
      return ((await r.json()) as { occupied: boolean }).occupied;
    }, 'resubscribed');
    await serverSdk(server.port).trigger('pt-chan', 'ev', { n: 1 });
    await eventually(() => got.length === 1, 'event after reconnect');
  });
});

describe('pusher-js: presence after a reconnect', () => {
  let server: TestServer;
  const clients: PusherClient[] = [];
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await server.shutdown();
  });

  async function client(port: number, id: string): Promise<PusherClient> {
    const sdk = serverSdk(server.port);
    const c = await connectPusherJs(port, DEVELOPMENT_APP.key, {
      userAuthentication: { customHandler: ({ socketId }: { socketId: string }, cb: (e: Error | null, a: unknown) => void) => cb(null, sdk.authenticateUser(socketId, { id })) },
      channelAuthorization: {
        customHandler: ({ socketId, channelName }: { socketId: string; channelName: string }, cb: (e: Error | null, a: unknown) => void) =>
          cb(null, sdk.authorizeChannel(socketId, channelName, channelName.startsWith('presence-') ? { user_id: id, user_info: { id } } : undefined)),
      },
    });
    clients.push(c);
    return c;
  }

  // Reference §2.5 line 240-248 and §2.7 line 269: after force_reconnect every tab rejoins; the observer's members end right.
  test("force_reconnect of a user with tabs on both threads: the observer's pusher-js member list still holds the user", async () => {
    const sdk = serverSdk(server.port);
    const obs = await client(server.workerPorts[0], 'observer');
    const och = (await subscribed(obs, 'presence-fr2')) as unknown as { members: { count: number; get(id: string): unknown } };
    const tabs: PusherClient[] = [];
    for (const w of [0, 1]) {
      const t = await client(server.workerPorts[w], 'tabby');
      t.signin();
      await t.user.signinDonePromise;
      await subscribed(t, 'presence-fr2');
      tabs.push(t);
    }
    await eventually(() => och.members.count === 2, 'two members');
    const ids = tabs.map((t) => t.connection.socket_id);
    const res = await sdk.post({ path: '/users/tabby/force_reconnect', body: {} as never });
    assert.equal(res.status, 200);
    await eventually(() => tabs.every((t, k) => t.connection.state === 'connected' && t.connection.socket_id !== ids[k]), 'tabs reconnected', 8000);
    await eventually(async () => {
      const r = await sdk.get({ path: '/channels/presence-fr2/users' });
      return ((await r.json()) as { users: { id: string }[] }).users.some((u) => u.id === 'tabby');
    }, 'server member list has tabby again');
    // A trigger on the channel orders us after any member frames the server sent before it.
    const seen: unknown[] = [];
    (och as unknown as { bind(e: string, f: (d: unknown) => void): void }).bind('mark', (d) => seen.push(d));
    await sdk.trigger('presence-fr2', 'mark', {});
    await eventually(() => seen.length === 1, 'marker');
    assert.equal(och.members.count, 2);
    assert.ok(och.members.get('tabby'));
  });
});

describe('pusher-js: shutdown drain', () => {
  // Reference §1.7 line 136/144: shutdown closes 4200 "Server shutting down"; pusher-js retries at once (not failed/disconnected).
  test('pusher-js on both threads gets 4200 at shutdown and keeps trying to reconnect', async () => {
    const server = await startTestServer({ shutdown_grace_period: 2 });
    const clients = await Promise.all([0, 1].map((w) => connectPusherJs(server.workerPorts[w])));
    const errs: unknown[][] = [[], []];
    const states: string[][] = [[], []];
    clients.forEach((c, i) => {
      c.connection.bind('error', (e: unknown) => errs[i].push(e));
      c.connection.bind('state_change', (s: { current: string }) => states[i].push(s.current));
    });
    try {
      await server.shutdown();
      await eventually(() => states.every((s) => s.includes('connecting')), 'connecting after 4200');
      for (let i = 0; i < 2; i++) {
        const codes = errs[i].map((e) => (e as { data?: { code?: number } }).data?.code);
        assert.ok(codes.includes(4200), JSON.stringify(errs[i]));
        assert.equal(states[i].includes('failed'), false);
        assert.equal(states[i][0], 'connecting');
      }
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});
