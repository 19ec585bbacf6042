// pusher:signin against SOCKUDO-REFERENCE.md §2.7 and Sockudo's sign-in handler: only the signature after the first
// ':' of `auth` counts, user_data is read before the signature (Sockudo's texts), any string id, signing in again
// as another user replaces the first, no cap on the watchlist, #server-to-user-{id} open to any subscriber.
// (Kept different on purpose: sign-in works on every app, as Pusher's; Sockudo refuses it unless the app enables
// user authentication, which here only arms the sign-in deadline: README "Coming from Sockudo".)
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' };

function signUser(socketId: string, userData: string): string {
  return createHmac('sha256', APP.secret).update(`${socketId}::user::${userData}`).digest('hex');
}

function signin(c: RawClient, userData: string, auth = `${APP.key}:${signUser(c.socketId, userData)}`): Promise<Frame> {
  return c.request({ event: 'pusher:signin', data: { user_data: userData, auth } }, (f) => /:(signin_success|error)$/.test(f.event));
}

describe('pusher:signin as Sockudo checks it', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      apps: [{ ...APP, features: { require_user_authentication: true, enable_watchlist_events: true, enable_client_messages: true } }],
    });
  });
  after(() => server.shutdown());

  test('§2.7 L264: only the part after the first ":" of auth is compared (another key prefix, or none, still signs in)', async () => {
    const c = await RawClient.open(server.port);
    const userData = JSON.stringify({ id: 'prefix-user' });
    const sig = signUser(c.socketId, userData);
    const otherKey = await signin(c, userData, `some-other-key:${sig}`);
    assert.deepEqual(otherKey, { event: 'pusher:signin_success', data: { user_data: userData } });
    const c2 = await RawClient.open(server.port);
    const bare = await signin(c2, userData, signUser(c2.socketId, userData));
    assert.deepEqual(bare, { event: 'pusher:signin_success', data: { user_data: userData } });
    c.close();
    c2.close();
  });

  test('§2.7 L265: user_data is read before the signature, with Sockudo\'s texts (4009, socket stays open)', async () => {
    const c = await RawClient.open(server.port);
    const err = (f: Frame) => f.event === 'pusher:error';
    const got = {
      // Missing id, correctly signed.
      missingId: (await signin(c, JSON.stringify({ name: 'no id' }))).data,
      // A numeric id is not a string id.
      numericId: (await signin(c, JSON.stringify({ id: 42 }))).data,
      // Valid user_data, wrong signature.
      badSignature: (await signin(c, JSON.stringify({ id: 'x' }), `${APP.key}:00`)).data,
      // Missing fields.
      noUserData: (await c.request({ event: 'pusher:signin', data: { auth: `${APP.key}:00` } }, err)).data,
      noAuth: (await c.request({ event: 'pusher:signin', data: { user_data: '{"id":"x"}' } }, err)).data,
    };
    // Not JSON at all, with a wrong signature: the user_data error comes first ("Invalid user_data JSON: <serde error>").
    const notJson = (await signin(c, 'not json', `${APP.key}:00`)).data as { code: number; message: string };
    assert.deepEqual(got, {
      missingId: { code: 4009, message: "Authentication error: Missing 'id' field in user_data" },
      numericId: { code: 4009, message: "Authentication error: Missing 'id' field in user_data" },
      badSignature: { code: 4009, message: 'Authentication error: Connection not authorized for signin.' },
      noUserData: { code: 4009, message: "Authentication error: Missing 'user_data' field in signin data" },
      noAuth: { code: 4009, message: "Authentication error: Missing 'auth' field in signin data" },
    });
    assert.equal(notJson.code, 4009);
    assert.match(notJson.message, /^Authentication error: Invalid user_data JSON: /);
    await c.request({ event: 'pusher:ping' }, (f) => f.event === 'pusher:pong');
    c.close();
  });

  test('§2.7 L265: any string id signs in (an empty id, a 200-character id)', async () => {
    for (const id of ['', 'u'.repeat(200)]) {
      const c = await RawClient.open(server.port);
      const userData = JSON.stringify({ id });
      const reply = await signin(c, userData);
      assert.deepEqual(reply, { event: 'pusher:signin_success', data: { user_data: userData } }, `id of length ${id.length}`);
      c.close();
    }
  });

  test('§2.7: signing in again as another user succeeds (Sockudo replaces the user on the connection)', async () => {
    const c = await RawClient.open(server.port);
    const first = JSON.stringify({ id: 'first-user' });
    assert.equal((await signin(c, first)).event, 'pusher:signin_success');
    const second = JSON.stringify({ id: 'second-user' });
    const reply = await signin(c, second);
    assert.deepEqual(reply, { event: 'pusher:signin_success', data: { user_data: second } });
    c.close();
  });

  test('§2.7 L270: a watchlist is not cut to 100 users: every watched user is reported at sign-in', async () => {
    const c = await RawClient.open(server.port);
    const watchlist = Array.from({ length: 150 }, (_, i) => `w${i}`);
    const userData = JSON.stringify({ id: 'watcher-150', watchlist });
    assert.equal((await signin(c, userData)).event, 'pusher:signin_success');
    const offline = await c.next((f) => f.event === 'pusher_internal:watchlist_events');
    const ids = (offline.data as { events: { name: string; user_ids: string[] }[] }).events.flatMap((e) => e.user_ids);
    assert.equal(ids.length, 150);
    c.close();
  });

  test('§2.7 L268: anyone may subscribe to #server-to-user-{id} (accepted as a public channel)', async () => {
    const c = await RawClient.open(server.port);
    const reply = await c.request({ event: 'pusher:subscribe', data: { channel: '#server-to-user-someone' } }, (f) => f.channel === '#server-to-user-someone' || f.event === 'pusher:error');
    assert.deepEqual(reply, { event: 'pusher_internal:subscription_succeeded', channel: '#server-to-user-someone', data: '{}' });
    c.close();
  });
});
