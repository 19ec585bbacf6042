// The inbound frame envelope (SOCKUDO-REFERENCE §1.2, §1.5): both prefixes and their `_internal:` forms on either
// protocol, binary frames holding the same JSON, an empty event name as an unknown event, and Sockudo's decode
// failure for JSON that is not its message shape (4000 "Invalid message format: Decode failed: …", socket kept).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Frame, RawClient, openV2 } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const errorOrPong = (f: Frame) => f.event.endsWith(':error') || f.event.endsWith(':pong');

describe('client frames', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  // §1.2 (line 67; Key finding 1, line 21): "The server also accepts both pusher:/pusher_internal: and sockudo:/sockudo_internal:
  // prefixes on inbound frames from either protocol (ProtocolVersion::parse_any_protocol_event)".
  test('pusher_internal: and sockudo_internal: inbound prefixes dispatch like pusher: / sockudo: (V1 and V2)', async () => {
    const v1 = await RawClient.open(server.port);
    const pong = await v1.request({ event: 'pusher_internal:ping', data: {} }, errorOrPong);
    assert.deepEqual(pong, { event: 'pusher:pong' });
    const ok = await v1.request({ event: 'sockudo_internal:subscribe', data: { channel: 'internal-prefix' } }, (f) => f.event.endsWith('subscription_succeeded') || f.event.endsWith(':error'));
    assert.deepEqual(ok, { event: 'pusher_internal:subscription_succeeded', channel: 'internal-prefix', data: '{}' });
    v1.close();

    const v2 = await openV2(server.port);
    assert.deepEqual(await v2.request({ event: 'pusher_internal:ping' }, errorOrPong), { event: 'sockudo:pong' });
    assert.deepEqual(await v2.request({ event: 'sockudo_internal:ping' }, errorOrPong), { event: 'sockudo:pong' });
    v2.close();
  });

  // §1.5 (line 104): dispatch is by canonical name, "unknown events are silently ignored"; only a *missing*
  // event is "Invalid event name: Event name is required" (line 106). `""` is present (Some("")), so it is an
  // unknown event (handler/mod.rs handle_message).
  test('an empty event name is an unknown event: ignored, no error (V1 and V2)', async () => {
    for (const c of [await RawClient.open(server.port), await openV2(server.port)]) {
      const from = c.frames.length;
      c.send('{"event":""}');
      c.send({ event: 'pusher:ping' });
      const first = await c.next(errorOrPong, 5000, from);
      assert.ok(first.event.endsWith(':pong'), `expected the pong first, got ${JSON.stringify(first)}`);
      c.close();
    }
  });

  // §1.5 (line 101): "Any text (JSON) or binary ... frame decoded to PusherMessage"; with the JSON wire format a
  // binary frame is decoded exactly like a text frame (handler/mod.rs run_message_loop: Message::Text(_) |
  // Message::Binary(_) => handle_message; parse_message uses the connection's wire format).
  test('a binary frame holding JSON is processed like a text frame (V1 and V2 json)', async () => {
    const v1 = await RawClient.open(server.port);
    let from = v1.frames.length;
    v1.sendRaw(Buffer.from('{"event":"pusher:ping","data":{}}'), true);
    assert.deepEqual(await v1.next(errorOrPong, 5000, from), { event: 'pusher:pong' });
    from = v1.frames.length;
    v1.sendRaw(Buffer.from('{"event":"pusher:subscribe","data":{"channel":"bin-sub"}}'), true);
    const ok = await v1.next((f) => f.event.endsWith('subscription_succeeded') || f.event.endsWith(':error'), 5000, from);
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
    v1.close();

    const v2 = await openV2(server.port);
    from = v2.frames.length;
    v2.sendRaw(Buffer.from('{"event":"sockudo:ping"}'), true);
    assert.deepEqual(await v2.next(errorOrPong, 5000, from), { event: 'sockudo:pong' });
    v2.close();
  });

  // §1.5 (line 106): "Undecodable JSON ⇒ {P}error {"code":4000,"message":"Invalid message format: Decode failed: …"}".
  // The envelope is a typed struct (event/channel/user_id/... are Option<String>), so JSON that is not an object,
  // or whose known fields have the wrong type, is a decode failure, not a successful parse.
  test('JSON that does not decode as the message envelope gets 4000 "Invalid message format: Decode failed: …"', async () => {
    const c = await RawClient.open(server.port);
    const cases = [
      '[1,2,3]',
      '"just a string"',
      'null',
      '42',
      '{"event":42}',
      '{"event":{"a":1}}',
      '{"event":"pusher:ping","channel":7}',
      '{"event":"pusher:ping","user_id":7}',
    ];
    for (const text of cases) {
      const reply = await c.request(text, errorOrPong);
      assert.equal(reply.event, 'pusher:error', `${text}: got ${JSON.stringify(reply)}`);
      const data = reply.data as { code: number; message: string };
      assert.equal(data.code, 4000, text);
      assert.ok(data.message.startsWith('Invalid message format: Decode failed: '), `${text}: ${data.message}`);
    }
    assert.equal(c.closeCode, null);
    c.close();
  });
});
