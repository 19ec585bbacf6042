// Presence subscribes and unsubscribes that arrive while a join is still on its way to the primary (which owns
// membership): a burst of subscribe / unsubscribe / subscribe, two subscribes in a row, and a burst over the
// per-socket subscription limit. Whatever the order, a socket that holds the channel is a member of it, every
// subscribe gets its answer, and the channel never hears of a member the socket was refused as.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { type Frame, RawClient, openV2, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1' });

function subscribeFrame(c: RawClient, channel: string, userId: string, prefix = 'pusher') {
  const channelData = { user_id: userId };
  const { auth } = sdk.authorizeChannel(c.socketId, channel, channelData);
  return { event: `${prefix}:subscribe`, data: { channel, auth, channel_data: JSON.stringify(channelData) } };
}

async function join(c: RawClient, channel: string, userId: string, prefix = 'pusher'): Promise<Frame> {
  return c.request(subscribeFrame(c, channel, userId, prefix), (f) => f.channel === channel || f.event.endsWith(':error'));
}

/** "member_added:u1"-style lines of the member frames a socket got for `channel`. */
function memberEvents(c: RawClient, channel: string): string[] {
  return c.frames
    .filter((f) => f.channel === channel && /internal:member_(added|removed)$/.test(f.event))
    .map((f) => `${f.event.split(':')[1]}:${(JSON.parse(f.data as string) as { user_id: string }).user_id}`);
}

describe('presence subscribes while a join is on its way', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  const users = async (channel: string) => {
    const res = await serverSdk(server.port).get({ path: `/channels/${channel}/users` });
    return ((await res.json()) as { users: { id: string }[] }).users.map((u) => u.id).sort();
  };

  for (const protocol of [1, 2] as const) {
    test(`V${protocol}: a member's subscribe, unsubscribe, subscribe in one burst leaves it a member, and the channel sees it leave and come back`, async () => {
      const prefix = protocol === 1 ? 'pusher' : 'sockudo';
      const channel = `presence-burst-v${protocol}`;
      const watcher = await RawClient.open(server.workerPorts[1]);
      await join(watcher, channel, 'watcher');
      const c = protocol === 1 ? await RawClient.open(server.workerPorts[0]) : await openV2(server.workerPorts[0]);
      assert.equal((await join(c, channel, 'u1', prefix)).event, `${prefix}_internal:subscription_succeeded`);
      await eventually(() => memberEvents(watcher, channel).includes('member_added:u1'), 'the watcher hears of u1');

      // Read by the worker in one go, before the primary answers the second join (a no-op: u1 is a member).
      const subscribe = subscribeFrame(c, channel, 'u1', prefix);
      const from = c.frames.length;
      c.send(subscribe);
      c.send({ event: `${prefix}:unsubscribe`, data: { channel } }); // u1 leaves, after that join
      c.send(subscribe); // and comes back: a join of its own, not the earlier one taken back
      await c.next((f) => f.event === `${prefix}_internal:subscription_succeeded`, 5000, from);

      assert.deepEqual(await users(channel), ['u1', 'watcher'], 'the socket holds the channel, so u1 is a member');
      await eventually(() => memberEvents(watcher, channel).length === 3, 'three member frames at the watcher');
      assert.deepEqual(memberEvents(watcher, channel), ['member_added:u1', 'member_removed:u1', 'member_added:u1']);
      // Its close takes the membership with it.
      c.close();
      await eventually(() => memberEvents(watcher, channel).length === 4, 'u1 leaves on close');
      assert.deepEqual(await users(channel), ['watcher']);
      watcher.close();
    });
  }

  test('two subscribes before the answer: each is answered; another user on the same socket is refused', async () => {
    const channel = 'presence-twice';
    const c = await RawClient.open(server.workerPorts[0]);
    const from = c.frames.length;
    c.send(subscribeFrame(c, channel, 'd1'));
    c.send(subscribeFrame(c, channel, 'd1'));
    c.send(subscribeFrame(c, channel, 'd2'));
    const answers = () => c.frames.slice(from).filter((f) => f.channel === channel || f.event === 'pusher:error');
    await eventually(() => answers().length === 3, 'an answer to every subscribe');
    assert.deepEqual(
      answers().map((f) => f.event),
      ['pusher:error', 'pusher_internal:subscription_succeeded', 'pusher_internal:subscription_succeeded'],
    );
    assert.match((answers()[0].data as { message: string }).message, /another user/);
    assert.deepEqual(await users(channel), ['d1']);
    c.close();
  });
});

describe('presence joins over max_subscriptions_per_socket', () => {
  test('a burst of joins over the limit: the one over it is refused before the channel hears of the member', async () => {
    const server = await startTestServer({ apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret', limits: { max_subscriptions_per_socket: 2 } }] });
    try {
      const channel = 'presence-limit-2';
      const watcher = await RawClient.open(server.workerPorts[1]);
      await join(watcher, channel, 'w');
      const c = await RawClient.open(server.workerPorts[0]);
      // In one burst: none is subscribed yet when the third arrives, but two joins are on their way.
      for (let i = 0; i < 3; i++) c.send(subscribeFrame(c, `presence-limit-${i}`, 'burst'));
      const refusal = await c.next((f) => f.event === 'pusher:error');
      assert.equal((refusal.data as { code: number }).code, 4300);
      await eventually(() => c.frames.filter((f) => f.event === 'pusher_internal:subscription_succeeded').length === 2, 'the two within the limit');
      // A fence through the primary to the watcher's thread: a member joining after the burst.
      const late = await RawClient.open(server.workerPorts[1]);
      await join(late, channel, 'late');
      await eventually(() => memberEvents(watcher, channel).includes('member_added:late'), 'the fence');
      assert.deepEqual(memberEvents(watcher, channel), ['member_added:late'], 'the refused socket was never a member');
      c.close();
      late.close();
      watcher.close();
    } finally {
      await server.shutdown();
    }
  });
});
