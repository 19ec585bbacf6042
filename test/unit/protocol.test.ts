// Wire format: client frame parsing (§1.5), channel-name rules and types (§2.1, §2.2), server frames (§1.4, §1.8).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WS_ERRORS } from '../../src/errors.ts';
import { allowsClientEvents, channelNameError, channelType, requiresAuth } from '../../src/protocol/channels.ts';
import { canonicalEvent, dataObject, parseClientFrame } from '../../src/protocol/clientFrame.ts';
import {
  PING,
  PONG,
  PREFIX,
  channelEvent,
  connectionEstablished,
  errorFrame,
  namedError,
  subscriptionSucceeded,
} from '../../src/protocol/frames.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const buffer = (text: string): ArrayBuffer => {
  const b = bytes(text);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};

describe('parseClientFrame: valid frames', () => {
  test('subscribe with object data (pusher-js shape)', () => {
    const f = parseClientFrame(bytes('{"event":"pusher:subscribe","data":{"channel":"orders"}}'));
    assert.deepEqual(f, { ok: true, event: 'pusher:subscribe', channel: undefined, data: { channel: 'orders' }, extras: undefined });
  });

  test('client event with channel and string data, from an ArrayBuffer', () => {
    const f = parseClientFrame(buffer('{"event":"client-typing","channel":"private-chat","data":"{\\"who\\":\\"ann\\"}"}'));
    assert.deepEqual(f, { ok: true, event: 'client-typing', channel: 'private-chat', data: '{"who":"ann"}', extras: undefined });
  });

  test('ping without data, V2 prefix kept in the event', () => {
    assert.deepEqual(parseClientFrame(bytes('{"event":"sockudo:ping"}')), { ok: true, event: 'sockudo:ping', channel: undefined, data: undefined, extras: undefined });
  });

  test('a view into a larger buffer reads only its own bytes', () => {
    const whole = bytes('xx{"event":"pusher:ping"}yy');
    const f = parseClientFrame(whole.subarray(2, whole.length - 2));
    assert.equal(f.ok, true);
    assert.equal(f.ok && f.event, 'pusher:ping');
  });

  test('non-ASCII UTF-8 text is decoded', () => {
    const f = parseClientFrame(bytes('{"event":"client-msg","channel":"c","data":"héllo ✓ 😀"}'));
    assert.equal(f.ok && f.data, 'héllo ✓ 😀');
  });

  test('extra fields are ignored; an empty event name is an event like any other (dispatch ignores it)', () => {
    const f = parseClientFrame(bytes('{"event":"pusher:subscribe","channel":null,"data":null,"extra":true}'));
    assert.deepEqual(f, { ok: true, event: 'pusher:subscribe', channel: null, data: null, extras: undefined });
    assert.deepEqual(parseClientFrame(bytes('{"event":""}')), { ok: true, event: '', channel: undefined, data: undefined, extras: undefined });
  });
});

describe('parseClientFrame: rejected frames', () => {
  const invalid = (input: Uint8Array | ArrayBuffer, detail: RegExp) => {
    const f = parseClientFrame(input);
    assert.equal(f.ok, false);
    assert.ok(!f.ok);
    assert.equal(f.error, 'invalidMessage');
    assert.match(f.detail, detail);
    assert.equal(WS_ERRORS[f.error].code, 4000);
    assert.equal(WS_ERRORS[f.error].fatal, false);
  };

  test('not JSON', () => {
    invalid(bytes('hello'), /^Invalid message format: Decode failed: /);
    invalid(bytes('{"event":"pusher:ping"'), /^Invalid message format: Decode failed: /);
    invalid(bytes(''), /^Invalid message format: Decode failed: /);
  });

  test('JSON that is not an object: array, number, string, null, boolean', () => {
    for (const text of ['[]', '[{"event":"pusher:ping"}]', '42', '"pusher:ping"', 'null', 'true']) {
      invalid(bytes(text), /^Invalid message format: Decode failed: invalid type: .+, expected a JSON object$/);
    }
  });

  test('invalid UTF-8 bytes', () => {
    invalid(new Uint8Array([0xff, 0xfe]), /not valid UTF-8/);
    // a valid JSON frame with one bad byte inside a string
    const good = bytes('{"event":"client-x","channel":"c","data":"ab"}');
    const bad = new Uint8Array(good);
    bad[bad.indexOf(0x61)] = 0xc3; // a lone UTF-8 lead byte followed by 'b'
    invalid(bad, /not valid UTF-8/);
    // an overlong encoding of '/' is invalid UTF-8 too
    invalid(new Uint8Array([0x7b, 0xc0, 0xaf, 0x7d]), /not valid UTF-8/);
  });

  test('missing or null event: missingEvent with the Sockudo message', () => {
    for (const text of ['{}', '{"data":{}}', '{"event":null}']) {
      const f = parseClientFrame(bytes(text));
      assert.ok(!f.ok, text);
      assert.equal(f.error, 'missingEvent', text);
      assert.equal(f.detail, 'Invalid event name: Event name is required');
      assert.equal(WS_ERRORS.missingEvent.code, 4000);
    }
  });

  test('non-string event: a decode failure, as Sockudo decodes a typed message', () => {
    for (const text of ['{"event":5}', '{"event":{"name":"x"}}', '{"event":["pusher:ping"]}', '{"event":true}']) {
      invalid(bytes(text), /^Invalid message format: Decode failed: invalid type: .+, expected a string for `event`$/);
    }
  });

  test('typed envelope fields of the wrong type fail the decode: channel, name, user_id, ids, serial', () => {
    invalid(bytes('{"event":"pusher:ping","channel":7}'), /^Invalid message format: Decode failed: invalid type: integer `7`, expected a string for `channel`$/);
    invalid(bytes('{"event":"client-x","user_id":{"a":1}}'), /invalid type: map, expected a string for `user_id`$/);
    invalid(bytes('{"event":"client-x","message_id":[1]}'), /invalid type: sequence, expected a string for `message_id`$/);
    invalid(bytes('{"event":"client-x","serial":-1}'), /expected a non-negative integer for `serial`$/);
    invalid(bytes('{"event":"client-x","serial":1.5}'), /invalid type: floating point `1.5`, expected a non-negative integer for `serial`$/);
    assert.ok(parseClientFrame(bytes('{"event":"client-x","serial":3,"channel":null,"name":"n"}')).ok);
  });

  test('never throws, whatever the bytes', () => {
    for (let seed = 0; seed < 200; seed++) {
      const junk = new Uint8Array(seed % 17).map((_, i) => (seed * 31 + i * 7) & 0xff);
      assert.doesNotThrow(() => parseClientFrame(junk));
    }
  });
});

describe('canonicalEvent', () => {
  test('strips pusher: and sockudo: prefixes', () => {
    assert.equal(canonicalEvent('pusher:subscribe'), 'subscribe');
    assert.equal(canonicalEvent('sockudo:subscribe'), 'subscribe');
    assert.equal(canonicalEvent('pusher:ping'), 'ping');
    assert.equal(canonicalEvent('sockudo:pong'), 'pong');
  });

  test('strips the _internal: prefixes too (Sockudo accepts them inbound)', () => {
    assert.equal(canonicalEvent('pusher_internal:ping'), 'ping');
    assert.equal(canonicalEvent('sockudo_internal:subscribe'), 'subscribe');
  });

  test('leaves client events and lookalikes alone', () => {
    assert.equal(canonicalEvent('client-typing'), 'client-typing');
    assert.equal(canonicalEvent('Pusher:subscribe'), 'Pusher:subscribe');
    assert.equal(canonicalEvent('pusher-subscribe'), 'pusher-subscribe');
    assert.equal(canonicalEvent('my-event'), 'my-event');
  });

  test('strips only one prefix', () => {
    assert.equal(canonicalEvent('pusher:sockudo:subscribe'), 'sockudo:subscribe');
    assert.equal(canonicalEvent('pusher:'), '');
  });
});

describe('dataObject', () => {
  test('an object is returned as is', () => {
    const d = { channel: 'orders', auth: 'k:s' };
    assert.equal(dataObject(d), d);
  });

  test('a JSON string holding an object is parsed', () => {
    assert.deepEqual(dataObject('{"channel":"orders","channel_data":"{\\"user_id\\":\\"u1\\"}"}'), {
      channel: 'orders',
      channel_data: '{"user_id":"u1"}',
    });
  });

  test('garbage, arrays, scalars and null give null', () => {
    for (const v of ['not json', '', '[1,2]', '"orders"', '42', 'null', 42, true, null, undefined, ['orders'], [{ channel: 'x' }]]) {
      assert.equal(dataObject(v), null, JSON.stringify(v));
    }
  });
});

describe('channel names', () => {
  test('Sockudo allowed characters: letters, digits and - _ = @ , ; . : #', () => {
    for (const name of [
      'orders',
      'ORDERS-123',
      'private-chat_room',
      'presence-room.1',
      'a=b',
      'user@example.com',
      'a,b',
      'a;b',
      'orders:123',
      '#server-to-user-42',
      'private-encrypted-x',
      '#-_=@,;.:',
      '0',
    ]) {
      assert.equal(channelNameError(name, 200), null, name);
    }
  });

  test('invalid characters are refused and named', () => {
    for (const name of ['a b', 'a/b', 'a*b', 'a!b', 'a+b', 'a?b', 'a%b', 'a"b', "a'b", 'a\\b', 'a\nb', 'a\u0000b', 'é', 'ch€', 'a[b]', 'a{b}', 'a$b', 'a&b', 'a|b', 'a~b']) {
      const err = channelNameError(name, 200);
      assert.ok(err, JSON.stringify(name));
      assert.match(err, /^Channel name contains invalid characters: '/);
    }
  });

  test("the error text quotes the whole name and lists its invalid characters as Rust prints them (Sockudo's text)", () => {
    const long = `${'a'.repeat(100)} `;
    assert.equal(channelNameError(long, 200), `Channel name contains invalid characters: '${long}' (invalid chars: [' '])`);
    assert.equal(channelNameError('a b/c', 200), "Channel name contains invalid characters: 'a b/c' (invalid chars: [' ', '/'])");
    assert.equal(channelNameError("it's\n", 200), "Channel name contains invalid characters: 'it's\n' (invalid chars: ['\\'', '\\n'])");
    assert.equal(channelNameError('a\u0001', 200), "Channel name contains invalid characters: 'a\u0001' (invalid chars: ['\\u{1}'])");
  });

  test('the length limit counts UTF-8 bytes and comes before the alphabet', () => {
    assert.equal(channelNameError(`${'x'.repeat(199)}é`, 200), 'Channel name too long. Max length is 200');
    assert.equal(channelNameError(`${'x'.repeat(198)}é`, 200), "Channel name contains invalid characters: '" + `${'x'.repeat(198)}é` + "' (invalid chars: ['é'])");
  });

  test('`base#users` is user-limited syntax, which needs a namespace: refused; a leading # is not', () => {
    for (const name of ['room#alice', 'private-room#a,b', 'presence-cache-x#u', 'a:b#c']) {
      assert.equal(channelNameError(name, 200), `Channel '${name}' uses user-limited syntax but the namespace does not allow it`, name);
    }
    for (const name of ['#server-to-user-1', 'private-#x', 'presence-#room']) assert.equal(channelNameError(name, 200), null, name);
  });

  test('missing, empty or non-string names', () => {
    for (const v of ['', undefined, null, 5, {}, ['orders']]) {
      assert.equal(channelNameError(v, 200), 'Channel name is required', JSON.stringify(v));
    }
  });

  test('200 bytes is the default limit: 200 accepted, 201 refused', () => {
    assert.equal(channelNameError('a'.repeat(200), 200), null);
    assert.equal(channelNameError('a'.repeat(201), 200), 'Channel name too long. Max length is 200');
    assert.equal(channelNameError(`private-${'x'.repeat(192)}`, 200), null);
    assert.equal(channelNameError(`private-${'x'.repeat(193)}`, 200), 'Channel name too long. Max length is 200');
  });

  test('a custom maximum is honoured', () => {
    assert.equal(channelNameError('a'.repeat(10), 10), null);
    assert.equal(channelNameError('a'.repeat(11), 10), 'Channel name too long. Max length is 10');
    assert.equal(channelNameError('a'.repeat(100), 100), null);
    assert.equal(channelNameError('a'.repeat(101), 100), 'Channel name too long. Max length is 100');
  });

  test('a name over the limit in bytes is refused whatever its characters', () => {
    // 150 two-byte characters = 300 bytes: never acceptable under a 200-byte limit
    assert.notEqual(channelNameError('é'.repeat(150), 200), null);
  });
});

describe('channelType and requiresAuth', () => {
  test('types by prefix', () => {
    assert.equal(channelType('orders'), 'public');
    assert.equal(channelType('#server-to-user-1'), 'public');
    assert.equal(channelType('private-orders'), 'private');
    assert.equal(channelType('presence-room'), 'presence');
    assert.equal(channelType('cache-prices'), 'cache');
    // Sockudo's quirk classifies private-encrypted-foo as private; ours reports it as what it is.
    assert.equal(channelType('private-encrypted-secrets'), 'private_encrypted');
  });

  test('presence-cache-* behaves as presence (deliberate difference 6)', () => {
    assert.equal(channelType('presence-cache-room'), 'presence');
  });

  test('prefixes must be at the start and are case-sensitive', () => {
    assert.equal(channelType('my-private-orders'), 'public');
    assert.equal(channelType('Private-orders'), 'public');
    assert.equal(channelType('xcache-prices'), 'public');
    assert.equal(channelType('private'), 'public');
    assert.equal(channelType('presence'), 'public');
  });

  test('every private-* and presence-* name needs a signature, cache variants included', () => {
    for (const name of ['private-a', 'presence-a', 'private-cache-a', 'presence-cache-a', 'private-encrypted-a', 'private-encrypted-cache-a']) {
      assert.equal(requiresAuth(name), true, name);
    }
    for (const name of ['a', 'cache-a', 'my-private-a', 'Private-a', '#server-to-user-1', 'private', 'presence']) {
      assert.equal(requiresAuth(name), false, name);
    }
  });

  test('client events: private and presence channels (presence-cache-* included), not public, cache or encrypted ones', () => {
    for (const name of ['private-chat', 'presence-room', 'presence-cache-room', 'private-cachex']) {
      assert.equal(allowsClientEvents(name), true, name);
    }
    // Reference §2.6: public and cache channels refuse them; private-cache-* is a cache channel that needs a signature.
    for (const name of ['chat', 'cache-a', 'private-cache-a', 'private-encrypted-a', 'private-encrypted-cache-a', '#server-to-user-1', 'private', 'presence']) {
      assert.equal(allowsClientEvents(name), false, name);
    }
  });
});

describe('server frames', () => {
  test('connection_established: data is a JSON string with socket_id and activity_timeout', () => {
    const text = connectionEstablished(1, '4823750196.91827364', 120);
    const frame = JSON.parse(text);
    assert.deepEqual(Object.keys(frame), ['event', 'data']);
    assert.equal(frame.event, 'pusher:connection_established');
    assert.equal(typeof frame.data, 'string');
    assert.deepEqual(JSON.parse(frame.data), { socket_id: '4823750196.91827364', activity_timeout: 120 });
    // the exact bytes of the reference
    assert.equal(text, '{"event":"pusher:connection_established","data":"{\\"socket_id\\":\\"4823750196.91827364\\",\\"activity_timeout\\":120}"}');
  });

  test('connection_established on V2 uses sockudo:', () => {
    const frame = JSON.parse(connectionEstablished(2, '1.2', 30));
    assert.equal(frame.event, 'sockudo:connection_established');
    assert.deepEqual(JSON.parse(frame.data), { socket_id: '1.2', activity_timeout: 30 });
  });

  test('error frame: data is an object {code, message}, no channel', () => {
    const frame = JSON.parse(errorFrame(1, 4009, 'Authentication error: Channel requires authentication'));
    assert.deepEqual(frame, { event: 'pusher:error', data: { code: 4009, message: 'Authentication error: Channel requires authentication' } });
    assert.equal(JSON.parse(errorFrame(2, 4300, 'x')).event, 'sockudo:error');
  });

  test('error messages with quotes and newlines stay valid JSON', () => {
    const message = 'Channel name contains invalid characters: \'a"b\'\n\\';
    assert.equal(JSON.parse(errorFrame(1, 4300, message)).data.message, message);
  });

  test('namedError uses the error table, or a detail in its place', () => {
    assert.deepEqual(JSON.parse(namedError(1, 'pongTimeout')), { event: 'pusher:error', data: { code: 4201, message: 'Pong reply not received in time' } });
    assert.deepEqual(JSON.parse(namedError(2, 'invalidChannel', 'Channel name too long. Max length is 200')), {
      event: 'sockudo:error',
      data: { code: 4300, message: 'Channel name too long. Max length is 200' },
    });
    assert.equal(JSON.parse(namedError(1, 'appNotFound')).data.code, 4001);
    assert.equal(JSON.parse(namedError(1, 'appOverQuota')).data.code, 4004);
  });

  test('subscription_succeeded: internal prefix, channel, data string', () => {
    assert.deepEqual(JSON.parse(subscriptionSucceeded(1, 'orders')), {
      event: 'pusher_internal:subscription_succeeded',
      channel: 'orders',
      data: '{}',
    });
    const presenceData = JSON.stringify({ presence: { ids: ['u1'], hash: { u1: { name: 'A' } }, count: 1 } });
    // The data comes written as a JSON string literal (the primary escapes a presence snapshot once).
    const v2 = JSON.parse(subscriptionSucceeded(2, 'presence-room', JSON.stringify(presenceData)));
    assert.equal(v2.event, 'sockudo_internal:subscription_succeeded');
    assert.equal(v2.channel, 'presence-room');
    assert.equal(v2.data, presenceData);
  });

  test('channelEvent keeps data a string and escapes everything', () => {
    const data = '{"id":"ord_123","note":"a \\"quoted\\" \\n line"}';
    const frame = JSON.parse(channelEvent('order.created', 'orders', data));
    assert.deepEqual(frame, { event: 'order.created', channel: 'orders', data });
    const weird = JSON.parse(channelEvent('ev"}', 'c', '\u2028'));
    assert.equal(weird.event, 'ev"}');
    assert.equal(weird.data, '\u2028');
  });

  test('ping and pong have no data and use the connection prefix', () => {
    assert.deepEqual(JSON.parse(PING[1]), { event: 'pusher:ping' });
    assert.deepEqual(JSON.parse(PONG[1]), { event: 'pusher:pong' });
    assert.deepEqual(JSON.parse(PING[2]), { event: 'sockudo:ping' });
    assert.deepEqual(JSON.parse(PONG[2]), { event: 'sockudo:pong' });
  });

  test('prefix table', () => {
    assert.deepEqual(PREFIX[1], { pub: 'pusher:', internal: 'pusher_internal:' });
    assert.deepEqual(PREFIX[2], { pub: 'sockudo:', internal: 'sockudo_internal:' });
  });

  test('every frame a client parses back is accepted by our own client-frame parser shape (event is a string)', () => {
    for (const text of [connectionEstablished(1, '1.2', 120), errorFrame(2, 4000, 'x'), subscriptionSucceeded(1, 'a'), PING[1], PONG[2]]) {
      const f = parseClientFrame(bytes(text));
      assert.equal(f.ok, true, text);
    }
  });
});
