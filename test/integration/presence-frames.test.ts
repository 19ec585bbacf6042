// Presence and sign-in behaviour that matches SOCKUDO-REFERENCE.md, pinned down exactly: member frames
// byte for byte on V1 and V2, several members in subscription_succeeded, terminate_connections of a signed-in V2 member,
// and what does not count against the sign-in deadline.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient, openV2 } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';
import { WebhookReceiver } from '../helpers/webhookReceiver.ts';

const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' };

function sign(s: string): string {
  return createHmac('sha256', APP.secret).update(s).digest('hex');
}

/** Subscribes (in the socket's own prefix) with a correctly signed presence auth over the exact `channelData` text. */
function joinRaw(c: RawClient, channel: string, channelData: string): Promise<Frame> {
  const auth = `${APP.key}:${sign(`${c.socketId}:${channel}:${channelData}`)}`;
  const prefix = c.frames[0].event.split(':')[0];
  return c.request({ event: `${prefix}:subscribe`, data: { channel, auth, channel_data: channelData } }, (f) => (f.channel === channel && f.event.endsWith('subscription_succeeded')) || f.event.endsWith(':error'));
}

function signinRaw(c: RawClient, user: Record<string, unknown>): Promise<Frame> {
  const userData = JSON.stringify(user);
  const prefix = c.frames[0].event.split(':')[0];
  return c.request({ event: `${prefix}:signin`, data: { user_data: userData, auth: `${APP.key}:${sign(`${c.socketId}::user::${userData}`)}` } }, (f) => /:(signin_success|error)$/.test(f.event));
}

function memberTexts(texts: string[], channel: string): string[] {
  return texts.filter((t) => /_internal:member_(added|removed)"/.test(t) && (JSON.parse(t) as Frame).channel === channel);
}

describe('presence frames', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  before(async () => {
    receiver = await new WebhookReceiver(APP).start();
    server = await startTestServer({
      apps: [{ ...APP, features: { require_user_authentication: true }, webhooks: [{ url: receiver.url, event_types: ['member_added', 'member_removed'] }] }],
    });
  });
  after(async () => {
    await server.shutdown();
    await receiver.stop();
  });

  test('§2.5 L240-243: member_added / member_removed byte for byte; on V2 only the prefix changes (no message_id, stream_id, serial)', async () => {
    const channel = 'presence-frames';
    const v1 = await RawClient.open(server.workerPorts[0]);
    const v2 = await openV2(server.workerPorts[1]);
    assert.equal((await joinRaw(v1, channel, JSON.stringify({ user_id: 'w1' }))).event, 'pusher_internal:subscription_succeeded');
    assert.equal((await joinRaw(v2, channel, JSON.stringify({ user_id: 'w2' }))).event, 'sockudo_internal:subscription_succeeded');
    await v1.next((f) => f.event === 'pusher_internal:member_added');
    const v1From = v1.texts.length;
    const v2From = v2.texts.length;
    const joiner = await RawClient.open(server.port);
    await joinRaw(joiner, channel, JSON.stringify({ user_id: 'u3', user_info: { name: 'C' } }));
    joiner.close();
    const after1 = () => memberTexts(v1.texts.slice(v1From), channel);
    const after2 = () => memberTexts(v2.texts.slice(v2From), channel);
    await eventually(() => after1().length >= 2 && after2().length >= 2, 'member_added and member_removed');
    assert.deepEqual(after1(), [
      '{"event":"pusher_internal:member_added","channel":"presence-frames","data":"{\\"user_id\\":\\"u3\\",\\"user_info\\":{\\"name\\":\\"C\\"}}"}',
      '{"event":"pusher_internal:member_removed","channel":"presence-frames","data":"{\\"user_id\\":\\"u3\\"}"}',
    ]);
    assert.deepEqual(after2(), [
      '{"event":"sockudo_internal:member_added","channel":"presence-frames","data":"{\\"user_id\\":\\"u3\\",\\"user_info\\":{\\"name\\":\\"C\\"}}"}',
      '{"event":"sockudo_internal:member_removed","channel":"presence-frames","data":"{\\"user_id\\":\\"u3\\"}"}',
    ]);
    v1.close();
    v2.close();
  });

  test('§2.5 L236: subscription_succeeded with several members on two threads; absent user_info is {}, null stays null', async () => {
    const channel = 'presence-several';
    const a = await RawClient.open(server.workerPorts[0]);
    const b = await RawClient.open(server.workerPorts[1]);
    const c = await RawClient.open(server.workerPorts[0]);
    await joinRaw(a, channel, JSON.stringify({ user_id: 'a', user_info: { name: 'A' } }));
    await joinRaw(b, channel, JSON.stringify({ user_id: 'b' }));
    const reply = await joinRaw(c, channel, JSON.stringify({ user_id: 'c', user_info: null }));
    assert.equal(typeof reply.data, 'string');
    const presence = (JSON.parse(reply.data as string) as { presence: { ids: string[]; hash: Record<string, unknown>; count: number } }).presence;
    assert.deepEqual({ ids: [...presence.ids].sort(), hash: presence.hash, count: presence.count }, { ids: ['a', 'b', 'c'], hash: { a: { name: 'A' }, b: {}, c: null }, count: 3 });
    for (const x of [a, b, c]) x.close();
  });

  test('§2.7 L269 + §2.5 L244 + §8: terminate_connections of a signed-in V2 member removes it at once (no V2 lease), with its webhook', async () => {
    const channel = 'presence-terminate';
    const watcher = await RawClient.open(server.workerPorts[0]);
    await joinRaw(watcher, channel, JSON.stringify({ user_id: 'watcher' }));
    const victim = await openV2(server.workerPorts[1]);
    assert.equal((await signinRaw(victim, { id: 'victim' })).event, 'sockudo:signin_success');
    await joinRaw(victim, channel, JSON.stringify({ user_id: 'victim' }));
    await watcher.next((f) => f.event === 'pusher_internal:member_added');
    const path = `/apps/${APP.id}/users/victim/terminate_connections`;
    const res = await fetch(signedUrl(`http://127.0.0.1:${server.port}`, { path, body: '' }), { method: 'POST', body: '', headers: { 'content-type': 'application/json' } });
    assert.deepEqual(await res.json(), { ok: true });
    assert.equal(await victim.closed(), 4009);
    // The V2 lease is 15 s; a server-initiated close is clean, so the member leaves well before it.
    await watcher.next((f) => f.event === 'pusher_internal:member_removed' && JSON.parse(f.data as string).user_id === 'victim', 3000);
    await eventually(() => receiver.named('member_removed', channel).length === 1, 'member_removed webhook');
    assert.deepEqual(receiver.named('member_removed', channel)[0], { name: 'member_removed', channel, user_id: 'victim' });
    watcher.close();
  });
});

describe('sign-in deadline: what counts', () => {
  test('§2.7 L267: a refused private subscribe and a public one do not count; a sign-in does', async () => {
    const server = await startTestServer({ user_authentication_timeout: 1, apps: [{ ...APP, features: { require_user_authentication: true } }] });
    try {
      // `ok` connects first, so by the time `c` is closed its own deadline has passed too.
      const ok = await RawClient.open(server.port);
      assert.equal((await signinRaw(ok, { id: 'in-time' })).event, 'pusher:signin_success');
      const c = await RawClient.open(server.port);
      await c.request({ event: 'pusher:subscribe', data: { channel: 'private-x', auth: `${APP.key}:00` } }, (f) => f.event === 'pusher:error');
      await c.request({ event: 'pusher:subscribe', data: { channel: 'public-x' } }, (f) => f.event.endsWith('subscription_succeeded'));
      assert.equal(await c.closed(4000), 4009);
      assert.deepEqual(c.frames.at(-1), { event: 'pusher:error', data: { code: 4009, message: 'Connection not authorized within timeout.' } });
      await ok.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
      assert.equal(ok.closeCode, null);
      ok.close();
    } finally {
      await server.shutdown();
    }
  });
});
