// The upgrade's `?protocol=` parameter as Sockudo reads it (a number from 0 to 255: 2 is V2, any other number
// or none is V1, anything else an HTTP 400 before the upgrade), V2's `?format=` (json only here; the binary formats
// and unknown values get HTTP 400 before the upgrade), and optional subscribe fields sent as null on V1.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { formatFromQuery } from '../../src/protocol/formatParam.ts';
import { protocolFromQuery } from '../../src/protocol/protocolParam.ts';
import { RawClient, serverSdk } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

/** The HTTP status of an upgrade attempt (101 when it upgraded). */
function upgradeStatus(port: number, query: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${DEVELOPMENT_APP.key}?${query}`);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => {});
  });
}

/** The status, content type and body of a refused upgrade, or status 101 when it upgraded. */
function upgradeAnswer(port: number, query: string): Promise<{ status: number; type?: string; body?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${DEVELOPMENT_APP.key}?${query}`);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.on('error', () => {});
  });
}

test('formatFromQuery: json (any case) or empty is served; the binary formats are unsupported; the rest is unknown', () => {
  for (const v of [undefined, '', 'json', 'JSON', 'Json']) assert.deepEqual(formatFromQuery(v), { ok: true }, String(v));
  for (const v of ['msgpack', 'messagepack', 'MsgPack', 'protobuf', 'proto', 'PROTOBUF']) {
    const r = formatFromQuery(v);
    assert.equal(r.ok, false, v);
    assert.equal(!r.ok && r.code, 'unsupported_format', v);
    assert.match(!r.ok ? r.message : '', /not supported/, v);
  }
  for (const v of ['bogus', 'xml', 'json ', 'cbor']) {
    const r = formatFromQuery(v);
    assert.equal(!r.ok && r.code, 'invalid_format', v);
  }
});

test('protocolFromQuery: 2 in any spelling a u8 parse takes is V2; other numbers and none are V1; the rest is refused', () => {
  for (const v of ['2', '02', '002', '+2']) assert.equal(protocolFromQuery(v), 2, v);
  for (const v of [undefined, '', '0', '1', '5', '7', '255']) assert.equal(protocolFromQuery(v), 1, String(v));
  for (const v of ['abc', '256', '999', '-1', '2.0', ' 2', '0x2', '1000']) assert.equal(protocolFromQuery(v), undefined, v);
});

describe('?protocol= on a real upgrade', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  test('protocol=02 selects Protocol V2, protocol=7 (pusher-js) V1', async () => {
    const v2 = await RawClient.open(server.port, DEVELOPMENT_APP.key, 'protocol=02&client=js&version=2.2.0&flash=false');
    assert.equal(v2.frames[0].event, 'sockudo:connection_established');
    const v1 = await RawClient.open(server.port);
    assert.equal(v1.frames[0].event, 'pusher:connection_established');
    v2.close();
    v1.close();
  });

  test('a protocol that is not a number from 0 to 255 gets HTTP 400 before the upgrade', async () => {
    assert.equal(await upgradeStatus(server.port, 'protocol=abc'), 400);
    assert.equal(await upgradeStatus(server.port, 'protocol=999'), 400);
    assert.equal(await upgradeStatus(server.port, 'protocol=7&client=js'), 101);
  });

  // Reference §1.2: `format` (V2 only) is json (default, also empty), msgpack/messagepack or protobuf/proto,
  // case-insensitive; unknown ⇒ HTTP 400; ignored for V1. This server speaks JSON only, so the binary formats are
  // refused before the upgrade too, with a JSON body saying so, instead of JSON frames a client could not decode.
  test('V2 ?format=: json or empty upgrades; unknown values get HTTP 400 before the upgrade', async () => {
    const v2 = 'protocol=2&client=js&version=2.2.0&flash=false';
    for (const format of ['json', 'JSON', '']) assert.equal((await upgradeAnswer(server.port, `${v2}&format=${format}`)).status, 101, format);
    const bogus = await upgradeAnswer(server.port, `${v2}&format=bogus`);
    assert.equal(bogus.status, 400);
    assert.equal(JSON.parse(bogus.body ?? '{}').code, 'invalid_format');
  });

  test('V2 ?format=msgpack / messagepack / protobuf / proto gets HTTP 400 with a JSON error: the format is not supported', async () => {
    for (const format of ['msgpack', 'messagepack', 'protobuf', 'proto', 'MsgPack']) {
      const r = await upgradeAnswer(server.port, `protocol=2&client=js&version=2.2.0&flash=false&format=${format}`);
      assert.equal(r.status, 400, format);
      assert.equal(r.type, 'application/json', format);
      const body = JSON.parse(r.body ?? '{}') as { error: string; code: string; status: number };
      assert.equal(body.code, 'unsupported_format', format);
      assert.equal(body.status, 400);
      assert.match(body.error, /not supported/, format);
    }
  });

  test('?format= is ignored on V1 (always JSON)', async () => {
    for (const format of ['msgpack', 'bogus']) {
      const c = await RawClient.open(server.port, DEVELOPMENT_APP.key, `protocol=7&client=js&version=8.4.0&flash=false&format=${format}`);
      assert.equal(c.frames[0].event, 'pusher:connection_established', format);
      c.close();
    }
  });

  test('a V1 subscribe with "rewind": null and "filter": null (absent optional fields) succeeds', async () => {
    const c = await RawClient.open(server.port);
    const f = await c.request({ event: 'pusher:subscribe', data: { channel: 'nulls', rewind: null, filter: null } }, (x) => x.channel === 'nulls' || x.event === 'pusher:error');
    assert.deepEqual(f, { event: 'pusher_internal:subscription_succeeded', channel: 'nulls', data: '{}' });
    const refused = await c.request({ event: 'pusher:subscribe', data: { channel: 'rewound', rewind: 5 } }, (x) => x.event === 'pusher:error');
    assert.equal((refused.data as { code: number }).code, 4300, 'a real rewind is still V2 only');
    assert.equal((refused.data as { message: string }).message, 'Channel rewind is only supported on protocol V2', "Sockudo's text");
    c.close();
  });

  test('a V1 subscribe carrying a filter succeeds and the filter is ignored (only V2 delivery consults filters, as in Sockudo)', async () => {
    const c = await RawClient.open(server.port);
    const f = await c.request({ event: 'pusher:subscribe', data: { channel: 'v1-filtered', filter: { events: ['wanted'] } } }, (x) => x.channel === 'v1-filtered' || x.event === 'pusher:error');
    assert.equal(f.event, 'pusher_internal:subscription_succeeded');
    await serverSdk(server.port).trigger('v1-filtered', 'unwanted', {});
    assert.equal((await c.next((x) => x.channel === 'v1-filtered' && x.event !== f.event)).event, 'unwanted');
    c.close();
  });

  test('?echo_messages takes true or false only: anything else is HTTP 400 before the upgrade, as Sockudo\'s query parser answers', async () => {
    for (const value of ['0', '1', 'no', '']) {
      const answer = await upgradeAnswer(server.port, `protocol=2&echo_messages=${value}`);
      assert.equal(answer.status, 400, `echo_messages=${value}`);
      assert.match(answer.body ?? '', /echo_messages: provided string was not `true` or `false`/);
    }
    for (const value of ['true', 'false']) assert.equal(await upgradeStatus(server.port, `protocol=2&echo_messages=${value}`), 101, value);
  });
});
