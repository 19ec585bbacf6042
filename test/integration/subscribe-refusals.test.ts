// Every refusal of a subscribe or unsubscribe, with Sockudo's code and text (SOCKUDO-REFERENCE §1.8, §2.1–§2.4,
// §3.6), and the channel-auth forms and V2 error shape that already matched (kept so they stay that way).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient, openV2 } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const answer = (f: Frame) => f.event.endsWith(':error') || f.event.endsWith('subscription_succeeded');
const errData = (f: Frame) => f.data as { code: number; message: string };
const errorOrPong = (f: Frame) => f.event.endsWith(':error') || f.event.endsWith(':pong');
const sign = (s: string) => createHmac('sha256', 'app-secret').update(s).digest('hex');

async function refusal(c: RawClient, frame: unknown): Promise<{ code: number; message: string }> {
  const reply = await c.request(frame, answer);
  assert.ok(reply.event.endsWith(':error'), `expected an error for ${JSON.stringify(frame)}, got ${JSON.stringify(reply)}`);
  return errData(reply);
}

describe('subscribe and unsubscribe refusals', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  // §2.3 (lines 205, 207): data is an object or a JSON string holding one (types.rs SubscriptionRequest::from_message);
  // its failures are Error::InvalidMessageFormat ⇒ code 4000 (§1.7 line 126, 4000 is the default, §1.8 line 156 message =
  // Display text "Invalid message format: …"), not 4300.
  test('subscribe without a usable data/channel: 4000 "Invalid message format: …" (V1 and V2)', async () => {
    const cases: [string, string][] = [
      ['{"event":"pusher:subscribe"}', 'Invalid message format: Invalid subscription data format'],
      ['{"event":"pusher:subscribe","data":null}', 'Invalid message format: Invalid subscription data format'],
      ['{"event":"pusher:subscribe","data":"not json"}', 'Invalid message format: Failed to parse subscription data'],
      ['{"event":"pusher:subscribe","data":"{\\"auth\\":\\"x\\"}"}', 'Invalid message format: Missing channel field in string data'],
      ['{"event":"pusher:subscribe","data":{}}', 'Invalid message format: Missing channel field'],
      ['{"event":"pusher:subscribe","data":{"channel":7}}', 'Invalid message format: Missing channel field'],
      ['{"event":"pusher:subscribe","data":42}', 'Invalid message format: Missing channel field'],
    ];
    for (const c of [await RawClient.open(server.port), await openV2(server.port)]) {
      for (const [text, message] of cases) {
        assert.deepEqual(await refusal(c, text), { code: 4000, message }, text);
      }
      c.close();
    }
  });

  // §2.3 (lines 207, 217) + §2.4 (lines 224-227): only a *missing* auth is "Authentication signature required for this
  // channel" (validation.rs: request.auth.is_none()); an empty string is present and fails the HMAC comparison:
  // "Authentication error: Channel requires authentication" (channel_manager.rs subscribe_local).
  test('private subscribe with an empty auth string: 4009 "Authentication error: Channel requires authentication"', async () => {
    const c = await RawClient.open(server.port);
    assert.deepEqual(await refusal(c, { event: 'pusher:subscribe', data: { channel: 'private-empty', auth: '' } }), {
      code: 4009,
      message: 'Authentication error: Channel requires authentication',
    });
    c.close();
  });

  // §2.3 (line 218): a presence subscribe lacking channel_data must return an error (Sockudo's Structured branch
  // panics; its string-data branch reaches validation.rs validate_presence_subscription:
  // Error::InvalidMessageFormat("Missing channel_data for presence channel") ⇒ 4000). The signature over
  // socket_id:channel is valid (§2.4 line 226: empty channel_data ⇒ private formula).
  test('presence subscribe without channel_data (validly signed): 4000 "Invalid message format: Missing channel_data for presence channel"', async () => {
    const c = await RawClient.open(server.port);
    const channel = 'presence-nodata';
    const auth = `app-key:${createHmac('sha256', 'app-secret').update(`${c.socketId}:${channel}`).digest('hex')}`;
    assert.deepEqual(await refusal(c, { event: 'pusher:subscribe', data: JSON.stringify({ channel, auth }) }), {
      code: 4000,
      message: 'Invalid message format: Missing channel_data for presence channel',
    });
    c.close();
  });

  // §2.2 (line 186): Error::Channel("Channel name contains invalid characters: '<name>' (invalid chars: [...])"),
  // i.e. the whole name and the Rust Debug list of the offending characters.
  test('invalid characters: message names the whole channel and lists the invalid chars', async () => {
    const c = await RawClient.open(server.port);
    const long = `${'x'.repeat(100)} y`;
    const cases: [string, string][] = [
      ['has space', "Channel error: Channel name contains invalid characters: 'has space' (invalid chars: [' '])"],
      ['a b/c', "Channel error: Channel name contains invalid characters: 'a b/c' (invalid chars: [' ', '/'])"],
      ['ümlaut', "Channel error: Channel name contains invalid characters: 'ümlaut' (invalid chars: ['ü'])"],
      [long, `Channel error: Channel name contains invalid characters: '${long}' (invalid chars: [' '])`],
    ];
    for (const [channel, message] of cases) {
      assert.deepEqual(await refusal(c, { event: 'pusher:subscribe', data: { channel } }), { code: 4300, message }, channel);
    }
    c.close();
  });

  // §2.2 (line 187): "Max length (bytes) … 200". Length is checked before the characters (utils.rs
  // validate_channel_name), in UTF-8 bytes: 199 ASCII + 'é' is 201 bytes (200 UTF-16 units).
  test('the 200 limit counts UTF-8 bytes and is checked before the characters', async () => {
    const c = await RawClient.open(server.port);
    const channel = `${'x'.repeat(199)}é`;
    assert.deepEqual(await refusal(c, { event: 'pusher:subscribe', data: { channel } }), {
      code: 4300,
      message: 'Channel error: Channel name too long. Max length is 200',
    });
    c.close();
  });

  // §2.2 (line 189): user-limited channels `base#user1,user2` need a namespace with allow_user_limited_channels;
  // with no namespace configured (this server has none) utils.rs validate_channel_name refuses the syntax.
  // (A leading '#', as in #server-to-user-{id}, has an empty base and is not user-limited.)
  test('a `base#users` channel without a namespace that allows it: 4300 (V1 and V2)', async () => {
    for (const c of [await RawClient.open(server.port), await openV2(server.port)]) {
      assert.deepEqual(await refusal(c, { event: 'pusher:subscribe', data: { channel: 'room#alice' } }), {
        code: 4300,
        message: "Channel error: Channel 'room#alice' uses user-limited syntax but the namespace does not allow it",
      });
      c.close();
    }
  });

  // §3.6 (line 373): a rewind value that does not parse is an invalid message (4000), with Sockudo's full text. (The
  // V1 refusal keeps the reference's bare text: protocol-param.test.ts.)
  test('a V2 subscribe with an unusable rewind: 4000 "Invalid message format: Invalid rewind option in subscription data"', async () => {
    const v2 = await openV2(server.port);
    for (const rewind of [0, -1, 'soon', { count: 0 }, { minutes: 5 }]) {
      assert.deepEqual(await refusal(v2, { event: 'sockudo:subscribe', data: { channel: 'rw', rewind } }), {
        code: 4000,
        message: 'Invalid message format: Invalid rewind option in subscription data',
      }, JSON.stringify(rewind));
    }
    v2.close();
  });

  // §2.3 (line 205: core.rs extract_channel_from_unsubscribe_message): no data ⇒ InvalidMessageFormat("Missing data
  // in unsubscribe message"); an object without a string channel ⇒ InvalidMessageFormat("Missing channel in
  // unsubscribe message"). Both are {P}error 4000 and the socket stays open (§1.7 line 144, §1.8 line 156).
  test('unsubscribe without data or without a channel: 4000 "Invalid message format: …" (V1 and V2)', async () => {
    const cases: [string, string][] = [
      ['{"event":"pusher:unsubscribe"}', 'Invalid message format: Missing data in unsubscribe message'],
      ['{"event":"pusher:unsubscribe","data":{}}', 'Invalid message format: Missing channel in unsubscribe message'],
      ['{"event":"pusher:unsubscribe","data":{"channel":5}}', 'Invalid message format: Missing channel in unsubscribe message'],
    ];
    for (const c of [await RawClient.open(server.port), await openV2(server.port)]) {
      for (const [text, message] of cases) {
        const from = c.frames.length;
        c.send(text);
        c.send({ event: 'pusher:ping' });
        const first = await c.next(errorOrPong, 5000, from);
        assert.ok(first.event.endsWith(':error'), `${text}: expected an error before the pong, got ${JSON.stringify(first)}`);
        assert.deepEqual(first.data, { code: 4000, message }, text);
        await c.next((f) => f.event.endsWith(':pong'), 5000, from); // this round's pong, before the next round starts
      }
      assert.equal(c.closeCode, null);
      c.close();
    }
  });

  // §2.4 (lines 224-227): lowercase hex; the whole "key:hex" string is compared, so uppercase hex, another key,
  // or a bare hex are refused; presence signs socket_id:channel:channel_data.
  test('channel auth: only the exact lowercase "app-key:hex" form is accepted', async () => {
    const c = await RawClient.open(server.port);
    const ch = 'private-forms';
    const hex = sign(`${c.socketId}:${ch}`);
    const refused = { code: 4009, message: 'Authentication error: Channel requires authentication' };
    for (const auth of [`app-key:${hex.toUpperCase()}`, `other-key:${hex}`, hex, `app-key:${hex} `, `APP-KEY:${hex}`]) {
      const f = await c.request({ event: 'pusher:subscribe', data: { channel: ch, auth } }, answer);
      assert.deepEqual(f, { event: 'pusher:error', data: refused }, auth);
    }
    assert.equal((await c.request({ event: 'pusher:subscribe', data: { channel: ch, auth: `app-key:${hex}` } }, answer)).event, 'pusher_internal:subscription_succeeded');

    const pch = 'presence-forms';
    const channelData = JSON.stringify({ user_id: 'u1' });
    const privateFormula = `app-key:${sign(`${c.socketId}:${pch}`)}`;
    const f = await c.request({ event: 'pusher:subscribe', data: { channel: pch, auth: privateFormula, channel_data: channelData } }, answer);
    assert.deepEqual(f, { event: 'pusher:error', data: refused });
    const good = `app-key:${sign(`${c.socketId}:${pch}:${channelData}`)}`;
    assert.equal((await c.request({ event: 'pusher:subscribe', data: { channel: pch, auth: good, channel_data: channelData } }, answer)).event, 'pusher_internal:subscription_succeeded');
    c.close();
  });

  // §1.8 (lines 150-156) + §1.4 (line 94): V2 errors are sockudo:error with an object data, no channel, and (frame to
  // one socket) a message_id; §2.3 (lines 216, 219): re-subscribing answers success again; unsubscribe has no ack.
  test('V2: error frame shape, re-subscribe, unsubscribe of a channel not held', async () => {
    const c = await openV2(server.port);
    const err = await c.request({ event: 'sockudo:subscribe', data: { channel: 'private-v2' } }, answer);
    const { message_id, ...rest } = err;
    assert.deepEqual(rest, { event: 'sockudo:error', data: { code: 4009, message: 'Authentication error: Authentication signature required for this channel' } });
    assert.match(String(message_id), /^[0-9a-f-]{36}$/);
    for (let i = 0; i < 2; i++) {
      const ok = await c.request({ event: 'sockudo:subscribe', data: { channel: 'twice' } }, answer);
      assert.equal(ok.event, 'sockudo_internal:subscription_succeeded');
      assert.equal(ok.channel, 'twice');
    }
    const from = c.frames.length;
    c.send({ event: 'sockudo:unsubscribe', data: { channel: 'never-held' } });
    c.send({ event: 'sockudo:unsubscribe', data: 'twice' });
    c.send({ event: 'sockudo:ping' });
    assert.deepEqual(await c.next(() => true, 5000, from), { event: 'sockudo:pong' });
    c.close();
  });
});
