// Presence channel_data as Sockudo reads it (SOCKUDO-REFERENCE §2.3, §2.5): JSON that is not an object has no
// user_id, any string user_id is a member, and the member-size refusal and measure (a string user_info without its
// quotes) are Sockudo's.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' };

function sign(s: string): string {
  return createHmac('sha256', APP.secret).update(s).digest('hex');
}

/** Subscribes with a correctly signed presence auth over the exact `channelData` text. */
function joinRaw(c: RawClient, channel: string, channelData: string): Promise<Frame> {
  const auth = `${APP.key}:${sign(`${c.socketId}:${channel}:${channelData}`)}`;
  return c.request({ event: 'pusher:subscribe', data: { channel, auth, channel_data: channelData } }, (f) => (f.channel === channel && f.event.endsWith('subscription_succeeded')) || f.event.endsWith(':error'));
}

describe('presence channel_data as Sockudo reads it', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ apps: [{ ...APP, features: { require_user_authentication: true } }] });
  });
  after(() => server.shutdown());

  test('§2.3 L217 / §2.5 L232: channel_data that is JSON but not an object is "Missing user_id in channel_data" (4300)', async () => {
    const c = await RawClient.open(server.port);
    const got: unknown[] = [];
    for (const data of ['[1,2]', '"text"', '42']) got.push((await joinRaw(c, 'presence-shapes', data)).data);
    assert.deepEqual(got, Array(3).fill({ code: 4300, message: 'Channel error: Missing user_id in channel_data' }));
    c.close();
  });

  test('§2.5 L232: any string user_id is a member (an empty one, a 200-character one)', async () => {
    const got: Record<string, string> = {};
    for (const id of ['', 'x'.repeat(200)]) {
      const c = await RawClient.open(server.port);
      const reply = await joinRaw(c, 'presence-ids', JSON.stringify({ user_id: id }));
      got[`length ${id.length}`] = reply.event === 'pusher:error' ? JSON.stringify(reply.data) : reply.event;
      c.close();
    }
    assert.deepEqual(got, { 'length 0': 'pusher_internal:subscription_succeeded', 'length 200': 'pusher_internal:subscription_succeeded' });
  });

  test("§2.5 L234: a member over max_presence_member_size_in_kb (2) is refused with Sockudo's text", async () => {
    const c = await RawClient.open(server.port);
    const reply = await joinRaw(c, 'presence-big', JSON.stringify({ user_id: 'big', user_info: { blob: 'x'.repeat(3072) } }));
    assert.deepEqual(reply.data, { code: 4300, message: 'Channel error: Presence member data size (3KB) exceeds limit (2KB)' });
    c.close();
  });

  test('§2.5 L234: a string user_info is measured without its JSON quotes (3071 characters = 2 KiB, fits a limit of 2)', async () => {
    // Sockudo's utils::data_to_bytes_flexible takes a string value's own bytes; other values their JSON text.
    const c = await RawClient.open(server.port);
    const reply = await joinRaw(c, 'presence-string-info', JSON.stringify({ user_id: 's', user_info: 'x'.repeat(3071) }));
    assert.equal(reply.event, 'pusher_internal:subscription_succeeded', JSON.stringify(reply.data));
    c.close();
  });
});
