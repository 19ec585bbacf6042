// The presence lease (config.presence, Sockudo's `*ungraceful_timeout_seconds`): a member whose socket dropped
// without a clean close stays in its channels for the lease (V2: 15 s by default, V1: none), so a client that
// reconnects and joins again in time causes no member_removed / member_added; an unsubscribe or a clean close
// leaves at once. Each watcher below learns of other members through the primary, in the order the primary
// handles the workers' changes, so a member joining after an event is a fence for it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { type Frame, RawClient, openV2 } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });
const LEASE_SECONDS = 1;

async function join(c: RawClient, channel: string, userId: string): Promise<Frame> {
  const prefix = c.frames[0].event.startsWith('sockudo') ? 'sockudo' : 'pusher';
  const channelData = { user_id: userId };
  const { auth } = sdk.authorizeChannel(c.socketId, channel, channelData);
  const reply = await c.request({ event: `${prefix}:subscribe`, data: { channel, auth, channel_data: JSON.stringify(channelData) } }, (f) => f.channel === channel || f.event.endsWith(':error'));
  assert.match(reply.event, /internal:subscription_succeeded$/, JSON.stringify(reply));
  return reply;
}

/** "added:u1"-style lines of the member frames `c` got for `channel`. */
function members(c: RawClient, channel: string): string[] {
  return c.frames
    .filter((f) => f.channel === channel && /internal:member_(added|removed)$/.test(f.event))
    .map((f) => `${f.event.endsWith('added') ? 'added' : 'removed'}:${(JSON.parse(f.data as string) as { user_id: string }).user_id}`);
}

describe('presence lease for sockets that drop', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ presence: { ungraceful_timeout_seconds: 0, v2_ungraceful_timeout_seconds: LEASE_SECONDS } });
  });
  after(() => server.shutdown());

  /** A member joining through `port` after what came before it on that worker; waits until `watcher` hears of it. */
  async function fence(watcher: RawClient, channel: string, port: number, name: string): Promise<RawClient> {
    const c = await RawClient.open(port);
    await join(c, channel, name);
    await eventually(() => members(watcher, channel).includes(`added:${name}`), `the watcher hears of ${name}`);
    return c;
  }

  /** A watcher on the second thread, and a V2 member on the first that the watcher has heard join. */
  async function watchedV2Member(channel: string, name: string): Promise<{ watcher: RawClient; member: RawClient }> {
    const watcher = await RawClient.open(server.workerPorts[1]);
    await join(watcher, channel, 'watcher');
    const member = await openV2(server.workerPorts[0]);
    await join(member, channel, name);
    await eventually(() => members(watcher, channel).includes(`added:${name}`), `${name} joins`);
    return { watcher, member };
  }

  test('a V2 member whose connection drops leaves after the lease, not before', async () => {
    const channel = 'presence-lease-drop';
    const { watcher, member: m } = await watchedV2Member(channel, 'm');
    const dropped = Date.now();
    m.terminate(); // no close frame: 1006 on the server
    const f = await fence(watcher, channel, server.workerPorts[0], 'fence-drop');
    assert.deepEqual(members(watcher, channel), ['added:m', 'added:fence-drop'], 'still a member during the lease');
    await eventually(() => members(watcher, channel).includes('removed:m'), 'm leaves once the lease ends', 5000);
    assert.ok(Date.now() - dropped >= LEASE_SECONDS * 1000 - 50, `left after ${Date.now() - dropped} ms`);
    f.close();
    watcher.close();
  });

  test('a V2 member that reconnects and joins again within the lease: the channel sees neither a leave nor a second join', async () => {
    const channel = 'presence-lease-back';
    const { watcher, member: first } = await watchedV2Member(channel, 'back');
    const dropped = Date.now();
    first.terminate();
    const again = await openV2(server.workerPorts[1]); // the reconnect may land on another thread
    await join(again, channel, 'back');
    // The lease is a timer: wait it out, then fence, so the dropped socket's leave has been handled.
    await eventually(() => Date.now() - dropped > LEASE_SECONDS * 1000 + 200, 'the lease has passed', 5000);
    const f = await fence(watcher, channel, server.workerPorts[0], 'fence-back');
    assert.deepEqual(members(watcher, channel), ['added:back', 'added:fence-back']);
    again.close(); // a clean close: the member's last socket leaves at once
    const g = await fence(watcher, channel, server.workerPorts[1], 'fence-closed');
    assert.deepEqual(members(watcher, channel), ['added:back', 'added:fence-back', 'removed:back', 'added:fence-closed']);
    for (const c of [f, g, watcher]) c.close();
  });

  test('a clean close, an unsubscribe and a V1 drop (no V1 lease configured) leave at once', async () => {
    const channel = 'presence-lease-none';
    const watcher = await RawClient.open(server.workerPorts[1]);
    await join(watcher, channel, 'watcher');
    const clean = await openV2(server.workerPorts[0]);
    const unsub = await openV2(server.workerPorts[0]);
    const v1 = await RawClient.open(server.workerPorts[0]);
    await join(clean, channel, 'clean');
    await join(unsub, channel, 'unsub');
    await join(v1, channel, 'v1');
    await eventually(() => members(watcher, channel).length === 3, 'three joins');
    clean.close();
    unsub.send({ event: 'sockudo:unsubscribe', data: { channel } });
    v1.terminate();
    const f = await fence(watcher, channel, server.workerPorts[0], 'fence-none');
    assert.deepEqual(members(watcher, channel).slice(3).sort(), ['added:fence-none', 'removed:clean', 'removed:unsub', 'removed:v1']);
    for (const c of [unsub, f, watcher]) c.close();
  });
});

describe('presence lease taken over by a rejoin', () => {
  const LONG_LEASE_SECONDS = 30;
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ presence: { ungraceful_timeout_seconds: 0, v2_ungraceful_timeout_seconds: LONG_LEASE_SECONDS } });
  });
  after(() => server.shutdown());

  test('a V2 member that drops, joins again on another thread and then closes cleanly leaves at that close, not when the old lease ends', async () => {
    const channel = 'presence-lease-takeover';
    const watcher = await RawClient.open(server.workerPorts[1]);
    await join(watcher, channel, 'watcher');
    const first = await openV2(server.workerPorts[0]);
    await join(first, channel, 'u');
    await eventually(() => members(watcher, channel).includes('added:u'), 'u joins');
    first.terminate(); // 1006: its leave is held for the 30 s lease
    // Only once the worker has taken the drop: the channel counts the watcher alone.
    await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${server.port}/apps/app-id/channels/${channel}?info=subscription_count`);
      return ((await res.json()) as { subscription_count?: number }).subscription_count === 1;
    }, 'the drop taken');
    const again = await openV2(server.workerPorts[1]);
    await join(again, channel, 'u');
    const closed = Date.now();
    again.close();
    await eventually(() => members(watcher, channel).includes('removed:u'), 'u leaves at its clean close', 10_000);
    assert.ok(Date.now() - closed < LONG_LEASE_SECONDS * 1000 / 3, `left ${Date.now() - closed} ms after the close`);
    assert.deepEqual(members(watcher, channel), ['added:u', 'removed:u'], 'no second join, one leave');
    const users = (await (await fetch(`http://127.0.0.1:${server.port}/apps/app-id/channels/${channel}/users`)).json()) as { users: { id: string }[] };
    assert.deepEqual(users.users.map((u) => u.id), ['watcher']);
    watcher.close();
  });
});

describe('presence lease at shutdown', () => {
  test('leases still running do not hold a stopping server back (the default V2 lease is 15 s)', async () => {
    const server = await startTestServer();
    const m = await openV2(server.workerPorts[0]);
    await join(m, 'presence-lease-stop', 'm');
    m.terminate();
    // Only once the worker has taken the close: its socket count drops to 0.
    await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${server.port}/apps/app-id/channels/presence-lease-stop?info=subscription_count`);
      return res.status === 404 || ((await res.json()) as { subscription_count?: number }).subscription_count === 0;
    }, 'the close taken');
    const started = Date.now();
    await server.shutdown();
    assert.ok(Date.now() - started < 10_000, `shutdown took ${Date.now() - started} ms`);
  });
});
