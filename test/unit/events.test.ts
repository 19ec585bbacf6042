// Bodies of POST /apps/{id}/events and /batch_events (§4.3, §4.4): the events they yield and every refusal.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import type { AppConfig } from '../../src/config/schema.ts';
import { HttpError } from '../../src/errors.ts';
import { parseBatchBody, parseEventBody } from '../../src/http/events.ts';

const app: AppConfig = loadConfig({ env: {} }).apps[0];
const tight: AppConfig = loadConfig({
  env: {},
  fileContents: {
    apps: [
      {
        id: 'tight',
        key: 'tight-key',
        secret: 's',
        limits: {
          max_event_name_length: 10,
          max_event_channels_at_once: 3,
          max_event_payload_in_kb: 1,
          max_event_batch_size: 2,
          max_channel_name_length: 12,
        },
      },
    ],
  },
}).apps[0];

function assertHttpError(fn: () => unknown, status: number, code: string, message?: string | RegExp): HttpError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof HttpError, `expected an HttpError, got ${String(caught)}`);
  assert.equal(caught.status, status, `status (message: ${caught.message})`);
  assert.equal(caught.code, code, `code (message: ${caught.message})`);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else if (message) assert.match(caught.message, message);
  return caught;
}

/** A plain Pusher publish: not ephemeral, and no V2 extras, tags, ids or idempotency key (absent, not undefined). */
const NO_V2 = { ephemeral: false };

describe('parseEventBody: accepted', () => {
  test('single channel, string data untouched', () => {
    assert.deepEqual(parseEventBody({ name: 'order.created', channel: 'orders', data: '{"id":"ord_123"}' }, app), {
      name: 'order.created',
      channels: ['orders'],
      data: '{"id":"ord_123"}',
      ...NO_V2,
    });
  });

  test('absent optional fields are not properties at all (each one costs the clone to the primary)', () => {
    assert.deepEqual(Object.keys(parseEventBody({ name: 'e', channel: 'c', data: 'x', socket_id: null }, app)).sort(), ['channels', 'data', 'ephemeral', 'name']);
    const full = parseEventBody(
      { name: 'e', channel: 'c', data: 'x', socket_id: '1.2', message_id: 'm1', extras: { ephemeral: true }, tags: { k: 'v' }, idempotency_key: 'k1' },
      app,
    );
    assert.deepEqual(Object.keys(full).sort(), ['channels', 'data', 'ephemeral', 'extras', 'idempotencyKey', 'messageId', 'name', 'socketId', 'tags']);
    assert.equal(full.ephemeral, true);
  });

  test('object data is stringified once', () => {
    const e = parseEventBody({ name: 'e', channel: 'c', data: { id: 'ord_123', total: 4200 } }, app);
    assert.equal(e.data, '{"id":"ord_123","total":4200}');
    assert.deepEqual(JSON.parse(e.data), { id: 'ord_123', total: 4200 });
  });

  test('arrays, numbers and booleans are stringified', () => {
    assert.equal(parseEventBody({ name: 'e', channel: 'c', data: [1, 'a'] }, app).data, '[1,"a"]');
    assert.equal(parseEventBody({ name: 'e', channel: 'c', data: 42 }, app).data, '42');
    assert.equal(parseEventBody({ name: 'e', channel: 'c', data: false }, app).data, 'false');
  });

  test('missing or null data becomes "null"', () => {
    assert.equal(parseEventBody({ name: 'e', channel: 'c' }, app).data, 'null');
    assert.equal(parseEventBody({ name: 'e', channel: 'c', data: null }, app).data, 'null');
  });

  test('a string that looks like JSON, and the empty string, stay as sent', () => {
    assert.equal(parseEventBody({ name: 'e', channel: 'c', data: '"quoted"' }, app).data, '"quoted"');
    assert.equal(parseEventBody({ name: 'e', channel: 'c', data: '' }, app).data, '');
    assert.equal(parseEventBody({ name: 'e', channel: 'c', data: 'plain text' }, app).data, 'plain text');
  });

  test('channels list takes precedence over channel', () => {
    const e = parseEventBody({ name: 'e', channel: 'ignored', channels: ['a', 'b'], data: 'x' }, app);
    assert.deepEqual(e.channels, ['a', 'b']);
  });

  test('duplicate channels are delivered once', () => {
    assert.deepEqual(parseEventBody({ name: 'e', channels: ['a', 'b', 'a'], data: 'x' }, app).channels, ['a', 'b']);
  });

  test('the pusher SDK body shape (channels list, string data, socket_id)', () => {
    const body = { name: 'my-event', data: '{"hello":"world"}', channels: ['my-channel'], socket_id: '123.456' };
    assert.deepEqual(parseEventBody(body, app), { name: 'my-event', channels: ['my-channel'], data: '{"hello":"world"}', socketId: '123.456', ...NO_V2 });
  });

  test('null socket_id means none', () => {
    assert.equal(parseEventBody({ name: 'e', channel: 'c', socket_id: null }, app).socketId, undefined);
  });

  test('unknown fields (info, tags, idempotency_key, …) do not stop the event', () => {
    const e = parseEventBody({ name: 'e', channel: 'c', data: 'x', info: 'subscription_count', tags: { r: 'eu' }, idempotency_key: 'k' }, app);
    assert.equal(e.name, 'e');
  });

  test('channel names with every allowed character', () => {
    assert.deepEqual(parseEventBody({ name: 'e', channel: '#a-_=@,;.:Z9' }, app).channels, ['#a-_=@,;.:Z9']);
    // After a base, `#` is Sockudo's user-limited syntax, which needs a channel namespace: refused here.
    assertHttpError(() => parseEventBody({ name: 'e', channel: 'room#alice' }, app), 400, 'invalid_input', "Invalid channel name: Channel 'room#alice' uses user-limited syntax but the namespace does not allow it");
  });
});

describe('parseEventBody: refused', () => {
  test('body that is not an object: 400 invalid_input', () => {
    for (const body of [null, undefined, 'text', 42, [], [{ name: 'e', channel: 'c' }]]) {
      assertHttpError(() => parseEventBody(body, app), 400, 'invalid_input', 'Request body must be a JSON object');
    }
  });

  test('missing, empty or non-string name: 400 invalid_input "Event name is required"', () => {
    for (const name of [undefined, '', null, 5, { n: 1 }]) {
      assertHttpError(() => parseEventBody({ name, channel: 'c' }, app), 400, 'invalid_input', 'Event name is required');
    }
  });

  test('name length: 200 accepted, 201 refused with 400 limit_exceeded', () => {
    assert.equal(parseEventBody({ name: 'n'.repeat(200), channel: 'c' }, app).name.length, 200);
    assertHttpError(() => parseEventBody({ name: 'n'.repeat(201), channel: 'c' }, app), 400, 'limit_exceeded', `Event name '${'n'.repeat(201)}' exceeds maximum length of 200`);
    // In UTF-8 bytes, as Sockudo counts it: 100 × "é" is 200 bytes, 101 × "é" is 202.
    assert.equal(parseEventBody({ name: 'é'.repeat(100), channel: 'c' }, app).name, 'é'.repeat(100));
    assertHttpError(() => parseEventBody({ name: 'é'.repeat(101), channel: 'c' }, app), 400, 'limit_exceeded', /exceeds maximum length of 200$/);
    assert.equal(parseEventBody({ name: 'n'.repeat(10), channel: 'c' }, tight).name.length, 10);
    assertHttpError(() => parseEventBody({ name: 'n'.repeat(11), channel: 'c' }, tight), 400, 'limit_exceeded', /exceeds maximum length of 10$/);
  });

  test('neither channel nor channels: 400 missing_channel_info', () => {
    const msg = "Request must contain 'channels' (list) or 'channel' (string)";
    assertHttpError(() => parseEventBody({ name: 'e', data: 'x' }, app), 400, 'missing_channel_info', msg);
    assertHttpError(() => parseEventBody({ name: 'e', channel: '' }, app), 400, 'missing_channel_info', msg);
    assertHttpError(() => parseEventBody({ name: 'e', channel: 5 }, app), 400, 'missing_channel_info', msg);
    assertHttpError(() => parseEventBody({ name: 'e', channel: ['a'] }, app), 400, 'missing_channel_info', msg);
  });

  test('empty or non-list channels: 400 missing_channel_info (even with a channel)', () => {
    assertHttpError(() => parseEventBody({ name: 'e', channels: [] }, app), 400, 'missing_channel_info');
    assertHttpError(() => parseEventBody({ name: 'e', channels: [], channel: 'c' }, app), 400, 'missing_channel_info');
    assertHttpError(() => parseEventBody({ name: 'e', channels: 'a' }, app), 400, 'missing_channel_info');
  });

  test('channels that are not all strings: 400 invalid_input', () => {
    assertHttpError(() => parseEventBody({ name: 'e', channels: ['a', 5] }, app), 400, 'invalid_input', /'channels' must be a list of strings/);
    assertHttpError(() => parseEventBody({ name: 'e', channels: [null] }, app), 400, 'invalid_input');
  });

  test('channels count: at the limit accepted, one more refused with 400 limit_exceeded', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => `c${i}`);
    assert.equal(parseEventBody({ name: 'e', channels: hundred }, app).channels.length, 100);
    assertHttpError(() => parseEventBody({ name: 'e', channels: [...hundred, 'c100'] }, app), 400, 'limit_exceeded', 'Number of channels (101) exceeds limit (100)');
    assert.equal(parseEventBody({ name: 'e', channels: ['a', 'b', 'c'] }, tight).channels.length, 3);
    assertHttpError(() => parseEventBody({ name: 'e', channels: ['a', 'b', 'c', 'd'] }, tight), 400, 'limit_exceeded', 'Number of channels (4) exceeds limit (3)');
  });

  test('invalid channel names: 400 invalid_input naming the problem', () => {
    assertHttpError(() => parseEventBody({ name: 'e', channel: 'bad name' }, app), 400, 'invalid_input', /^Invalid channel name: .*invalid characters/);
    assertHttpError(() => parseEventBody({ name: 'e', channels: ['ok', 'a/b'] }, app), 400, 'invalid_input', /invalid characters/);
    assertHttpError(() => parseEventBody({ name: 'e', channels: ['ok', ''] }, app), 400, 'invalid_input', /Channel name is required/);
  });

  test("channel name length follows the app's max_channel_name_length", () => {
    assert.deepEqual(parseEventBody({ name: 'e', channel: 'c'.repeat(200) }, app).channels, ['c'.repeat(200)]);
    assertHttpError(() => parseEventBody({ name: 'e', channel: 'c'.repeat(201) }, app), 400, 'invalid_input', /too long. Max length is 200/);
    assert.deepEqual(parseEventBody({ name: 'e', channel: 'c'.repeat(12) }, tight).channels, ['c'.repeat(12)]);
    assertHttpError(() => parseEventBody({ name: 'e', channel: 'c'.repeat(13) }, tight), 400, 'invalid_input', /Max length is 12/);
  });

  test('payload size: exactly the limit accepted, one byte more is 413 payload_too_large', () => {
    assert.equal(parseEventBody({ name: 'e', channel: 'c', data: 'x'.repeat(1024) }, tight).data.length, 1024);
    assertHttpError(() => parseEventBody({ name: 'e', channel: 'c', data: 'x'.repeat(1025) }, tight), 413, 'payload_too_large', "Event payload size (1025 bytes) for event 'e' exceeds limit (1KB)");
    const hundredKiB = 'x'.repeat(100 * 1024);
    assert.equal(parseEventBody({ name: 'e', channel: 'c', data: hundredKiB }, app).data.length, 100 * 1024);
    assertHttpError(() => parseEventBody({ name: 'e', channel: 'c', data: `${hundredKiB}x` }, app), 413, 'payload_too_large');
  });

  test('payload size counts UTF-8 bytes, and the stringified form of object data', () => {
    // 512 two-byte characters = 1024 bytes: at the limit; one more = over
    assert.ok(parseEventBody({ name: 'e', channel: 'c', data: 'é'.repeat(512) }, tight));
    assertHttpError(() => parseEventBody({ name: 'e', channel: 'c', data: 'é'.repeat(513) }, tight), 413, 'payload_too_large');
    // {"v":"…"} adds 8 bytes around the string
    assert.ok(parseEventBody({ name: 'e', channel: 'c', data: { v: 'x'.repeat(1016) } }, tight));
    assertHttpError(() => parseEventBody({ name: 'e', channel: 'c', data: { v: 'x'.repeat(1017) } }, tight), 413, 'payload_too_large');
  });

  test('invalid socket_id: 400 invalid_input', () => {
    for (const socketId of ['abc', '123', '1.', '.1', '1.2.3', '1.2 ', 'a.b', '-1.2', 123.456, 5, {}, '']) {
      assertHttpError(() => parseEventBody({ name: 'e', channel: 'c', socket_id: socketId }, app), 400, 'invalid_input', 'Invalid socket_id');
    }
  });

  test('checks run in order: name, channels, channel names, payload, socket_id', () => {
    assertHttpError(() => parseEventBody({ name: '', channels: [], data: 'x'.repeat(5000), socket_id: 'x' }, tight), 400, 'invalid_input', 'Event name is required');
    assertHttpError(() => parseEventBody({ name: 'e', channels: [], data: 'x'.repeat(5000), socket_id: 'x' }, tight), 400, 'missing_channel_info');
    assertHttpError(() => parseEventBody({ name: 'e', channel: 'b d', data: 'x'.repeat(5000), socket_id: 'x' }, tight), 400, 'invalid_input', /channel name/);
    assertHttpError(() => parseEventBody({ name: 'e', channel: 'c', data: 'x'.repeat(5000), socket_id: 'x' }, tight), 413, 'payload_too_large');
  });
});

describe('parseBatchBody', () => {
  test('each item becomes one event; data is stringified per item', () => {
    const events = parseBatchBody(
      {
        batch: [
          { name: 'e1', channel: 'a', data: { n: 1 } },
          { name: 'e2', channel: 'b', data: 'two', socket_id: '1.2' },
          { name: 'e3', channel: 'c' },
        ],
      },
      { ...app, limits: { ...app.limits, max_event_batch_size: 3 } },
    );
    assert.deepEqual(events, [
      { name: 'e1', channels: ['a'], data: '{"n":1}', ...NO_V2 },
      { name: 'e2', channels: ['b'], data: 'two', socketId: '1.2', ...NO_V2 },
      { name: 'e3', channels: ['c'], data: 'null', ...NO_V2 },
    ]);
  });

  test('the pusher SDK triggerBatch body', () => {
    const body = { batch: [{ channel: 'a', name: 'e1', data: '{"n":1}' }, { channel: 'b', name: 'e2', data: 'two' }] };
    assert.deepEqual(
      parseBatchBody(body, app).map((e) => [e.name, e.channels, e.data]),
      [
        ['e1', ['a'], '{"n":1}'],
        ['e2', ['b'], 'two'],
      ],
    );
  });

  test('body without a batch list: 400 invalid_input', () => {
    for (const body of [null, [], 'x', {}, { batch: {} }, { batch: 'a' }, { events: [] }]) {
      assertHttpError(() => parseBatchBody(body, app), 400, 'invalid_input', "Request must contain 'batch' (list of events)");
    }
  });

  test('an empty batch is no events (Sockudo has no check for it; the publish is answered {})', () => {
    assert.deepEqual(parseBatchBody({ batch: [] }, app), []);
  });

  test('batch size: at the limit accepted, one more refused with 400 limit_exceeded "Batch size (n) exceeds limit (m)"', () => {
    const item = (i: number) => ({ name: `e${i}`, channel: 'c', data: 'x' });
    assert.equal(parseBatchBody({ batch: Array.from({ length: 10 }, (_, i) => item(i)) }, app).length, 10);
    assertHttpError(
      () => parseBatchBody({ batch: Array.from({ length: 11 }, (_, i) => item(i)) }, app),
      400,
      'limit_exceeded',
      'Batch size (11) exceeds limit (10)',
    );
    assert.equal(parseBatchBody({ batch: [item(0), item(1)] }, tight).length, 2);
    assertHttpError(() => parseBatchBody({ batch: [item(0), item(1), item(2)] }, tight), 400, 'limit_exceeded', 'Batch size (3) exceeds limit (2)');
  });

  test('a bad item is refused and named by its index; nothing is returned', () => {
    const ok = { name: 'e', channel: 'c' };
    assertHttpError(() => parseBatchBody({ batch: [ok, { channel: 'c' }] }, app), 400, 'invalid_input', 'batch[1]: Event name is required');
    assertHttpError(() => parseBatchBody({ batch: ['x'] }, app), 400, 'invalid_input', 'batch[0]: Request body must be a JSON object');
    assertHttpError(() => parseBatchBody({ batch: [ok, { name: 'e' }] }, app), 400, 'missing_channel_info', /^batch\[1\]: /);
    assertHttpError(() => parseBatchBody({ batch: [{ name: 'e', channel: 'a b' }] }, app), 400, 'invalid_input', /^batch\[0\]: Invalid channel name/);
    assertHttpError(() => parseBatchBody({ batch: [ok, { ...ok, socket_id: 'x' }] }, app), 400, 'invalid_input', 'batch[1]: Invalid socket_id');
    assertHttpError(() => parseBatchBody({ batch: [{ name: 'n'.repeat(11), channel: 'c' }] }, tight), 400, 'limit_exceeded', /^batch\[0\]: /);
  });

  test('per-item payload limit: 413 payload_too_large', () => {
    assertHttpError(
      () => parseBatchBody({ batch: [{ name: 'e', channel: 'c', data: 'x' }, { name: 'e', channel: 'c', data: 'x'.repeat(1025) }] }, tight),
      413,
      'payload_too_large',
      /^batch\[1\]: /,
    );
  });
});
