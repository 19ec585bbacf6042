// The upgrade's `?protocol=` parameter as Sockudo reads it (a number from 0 to 255: 2 is V2, any other number
// or none is V1, anything else an HTTP 400 before the upgrade), and optional subscribe fields sent as null on V1.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { protocolFromQuery } from '../../src/protocol/protocolParam.ts';
import { RawClient } from '../helpers/clients.ts';
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

  test('a V1 subscribe with "rewind": null and "filter": null (absent optional fields) succeeds', async () => {
    const c = await RawClient.open(server.port);
    const f = await c.request({ event: 'pusher:subscribe', data: { channel: 'nulls', rewind: null, filter: null } }, (x) => x.channel === 'nulls' || x.event === 'pusher:error');
    assert.deepEqual(f, { event: 'pusher_internal:subscription_succeeded', channel: 'nulls', data: '{}' });
    const refused = await c.request({ event: 'pusher:subscribe', data: { channel: 'rewound', rewind: 5 } }, (x) => x.event === 'pusher:error');
    assert.equal((refused.data as { code: number }).code, 4300, 'a real rewind is still V2 only');
    assert.equal((refused.data as { message: string }).message, 'Channel rewind is only supported on protocol V2', "Sockudo's text");
    c.close();
  });
});
