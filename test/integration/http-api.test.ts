// The HTTP API through the real server: authentication, validation errors (JSON, right status, never a
// 500), batch publishing, data pass-through, and the health endpoints.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { RawClient, V2_QUERY, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

describe('HTTP API', () => {
  let server: TestServer;
  let base: string;
  const apps = [
    { id: 'signed', key: 'signed-key', secret: 'signed-secret', limits: { max_event_payload_in_kb: 1, max_event_batch_size: 3, max_event_channels_at_once: 2 } },
    { id: 'off', key: 'off-key', secret: 'off-secret', enabled: false },
  ];
  const app = apps[0];
  const events = `/apps/${app.id}/events`;

  before(async () => {
    server = await startTestServer({ apps, http_max_body_kb: 8 });
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.shutdown());

  async function post(path: string, body: string, opts: Record<string, unknown> = {}, contentType = 'application/json') {
    const url = signedUrl(base, { path, body, key: app.key, secret: app.secret, ...opts });
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': contentType }, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, type: res.headers.get('content-type') };
  }

  const ev = (extra: Record<string, unknown> = {}) => JSON.stringify({ name: 'e', channel: 'c', data: 'd', ...extra });

  test('a signed publish is accepted', async () => {
    assert.deepEqual(await post(events, ev()), { status: 200, body: { ok: true }, type: 'application/json' });
  });

  test('authentication failures', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['wrong secret', { secret: 'nope' }, 401, 'Invalid API signature'],
      ['unknown key', { key: 'who' }, 404, 'Application key not found or invalid: Invalid app key'],
      ['key of another app', { key: 'off-key', secret: 'off-secret' }, 401, 'Authenticated app does not match route app_id'],
      ['timestamp too old', { timestamp: now - 700 }, 401, 'Timestamp expired or too far in the future'],
      ['timestamp too new', { timestamp: now + 700 }, 401, 'Timestamp expired or too far in the future'],
      ['missing timestamp', { omit: ['auth_timestamp'] }, 401, 'auth_timestamp is missing'],
      ['missing body_md5', { omit: ['body_md5'] }, 401, 'body_md5 is required and must be non-empty in query parameters for POST requests with a non-empty body'],
      ['body_md5 of another body', { override: { body_md5: '0'.repeat(32) } }, 401, 'body_md5 mismatch'],
      ['tampered signature', { override: { auth_signature: 'f'.repeat(64) } }, 401, 'Invalid API signature'],
    ];
    for (const [what, opts, status, message] of cases) {
      const res = await post(events, ev(), opts);
      assert.equal(res.status, status, what);
      assert.equal(res.body.error, message, what);
      assert.equal(res.body.status, status, what);
    }
    // A signature over one body does not authorize another.
    const url = signedUrl(base, { path: events, body: ev(), key: app.key, secret: app.secret });
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: ev({ data: 'other' }) });
    assert.equal(res.status, 401);
    // Duplicated parameters are refused.
    const dup = await fetch(`${url}&auth_key=${app.key}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: ev() });
    assert.equal(dup.status, 400);
  });

  test('validation errors are JSON with the right status', async () => {
    const cases: [string, string, number, string][] = [
      ['not json', '{nope', 400, 'invalid_input'],
      ['array body', '[]', 400, 'invalid_input'],
      ['no name', JSON.stringify({ channel: 'c', data: 'd' }), 400, 'invalid_input'],
      ['no channel', JSON.stringify({ name: 'e', data: 'd' }), 400, 'missing_channel_info'],
      ['empty channels', JSON.stringify({ name: 'e', channels: [], data: 'd' }), 400, 'missing_channel_info'],
      ['too many channels', JSON.stringify({ name: 'e', channels: ['a', 'b', 'c'], data: 'd' }), 400, 'limit_exceeded'],
      ['bad channel', ev({ channel: 'bad name' }), 400, 'invalid_input'],
      ['long name', ev({ name: 'n'.repeat(201) }), 400, 'limit_exceeded'],
      ['payload too large', ev({ data: 'x'.repeat(1025) }), 413, 'payload_too_large'],
      ['bad socket_id', ev({ socket_id: 'abc' }), 400, 'invalid_input'],
    ];
    for (const [what, body, status, code] of cases) {
      const res = await post(events, body);
      assert.equal(res.status, status, what);
      assert.equal(res.body.code, code, what);
      assert.equal(typeof res.body.error, 'string', what);
    }
    const wrongType = await post(events, ev(), {}, 'text/plain');
    assert.equal(wrongType.status, 415);
    const huge = await post(events, ev({ data: 'x'.repeat(9 * 1024) }));
    assert.equal(huge.status, 413, 'body over http_max_body_kb');
    const route = await post(`/apps/${app.id}/nothing_here`, ev());
    assert.equal(route.status, 404);
    assert.equal(route.type, 'application/json');
    const disabled = await post('/apps/off/events', ev(), { key: 'off-key', secret: 'off-secret' });
    assert.equal(disabled.status, 403);
    const other = await fetch(`${base}/somewhere`);
    assert.equal(other.status, 404);
  });

  test('batch_events publishes in order and enforces the batch size', async () => {
    const c = await RawClient.open(server.port, app.key);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'batch' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const batch = [1, 2, 3].map((n) => ({ name: `e${n}`, channel: 'batch', data: { n } }));
    assert.deepEqual(await post(`/apps/${app.id}/batch_events`, JSON.stringify({ batch })), { status: 200, body: {}, type: 'application/json' });
    await c.next((f) => f.event === 'e3');
    assert.deepEqual(
      c.frames.filter((f) => f.channel === 'batch' && !f.event.startsWith('pusher')),
      batch.map((b) => ({ event: b.name, channel: 'batch', data: JSON.stringify(b.data) })),
    );
    const tooBig = await post(`/apps/${app.id}/batch_events`, JSON.stringify({ batch: [...batch, batch[0]] }));
    assert.equal(tooBig.status, 400);
    assert.equal(tooBig.body.code, 'limit_exceeded');
    const badItem = await post(`/apps/${app.id}/batch_events`, JSON.stringify({ batch: [batch[0], { name: 'x' }] }));
    assert.equal(badItem.status, 400);
    c.close();
  });

  test('publishes answered by either worker arrive in the order their answers came back, and are counted', async () => {
    // Both workers answer ordinary publishes themselves (worker/publishAdmission.ts); the primary must still
    // deliver them in the order the answers went out, though they reach it over two message ports.
    const c = await RawClient.open(server.workerPorts[0], app.key);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'ordered' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const counted = async () => {
      const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
      const value = (name: string) => {
        const line = text.split('\n').find((l) => l.startsWith(`${name}{app_id="${app.id}"`));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
      };
      return { calls: value('sockudo_http_calls_received_total'), received: value('sockudo_http_received_bytes'), sent: value('sockudo_http_transmitted_bytes') };
    };
    const before = await counted();
    const n = 200;
    let bodyBytes = 0;
    for (let i = 0; i < n; i++) {
      const body = JSON.stringify({ name: 'seq', channel: 'ordered', data: String(i) });
      bodyBytes += Buffer.byteLength(body);
      const url = signedUrl(`http://127.0.0.1:${server.workerPorts[i % 2]}`, { path: events, body, key: app.key, secret: app.secret });
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      assert.deepEqual([res.status, await res.text()], [200, '{"ok":true}']);
    }
    await c.next((f) => f.event === 'seq' && f.data === String(n - 1));
    const got = c.frames.filter((f) => f.event === 'seq').map((f) => Number(f.data));
    assert.deepEqual(got, [...Array(n).keys()]);
    // The primary counts a publish a worker answered when it takes it, which may be just after the last frame.
    await eventually(async () => (await counted()).calls - before.calls === n, 'every publish counted');
    const after = await counted();
    assert.deepEqual(
      [after.calls - before.calls, after.received - before.received, after.sent - before.sent],
      [n, bodyBytes, n * '{"ok":true}'.length],
    );
    c.close();
  });

  test('a publish reaches the sockets of the worker that admitted it once, V1 and V2, in order, and is counted once', async () => {
    // The admitting worker delivers an occasional publish's V1 frames itself (worker/localPublishOrder.ts; the
    // primary then sends it only the V2 side, the other worker both), others go through the primary: a run of
    // sequential publishes mixes the two paths (local-delivery.test.ts shows the local one on its own).
    const ch = 'admitted-here';
    const here = await RawClient.open(server.workerPorts[0], app.key);
    const excluded = await RawClient.open(server.workerPorts[0], app.key);
    const v2 = await RawClient.open(server.workerPorts[0], app.key, V2_QUERY);
    const there = await RawClient.open(server.workerPorts[1], app.key);
    for (const c of [here, excluded, there]) await c.request({ event: 'pusher:subscribe', data: { channel: ch } }, (f) => f.event.endsWith('subscription_succeeded'));
    await v2.request({ event: 'sockudo:subscribe', data: { channel: ch } }, (f) => f.event.endsWith('subscription_succeeded'));
    const sent = async () => {
      const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith(`sockudo_ws_messages_sent_total{app_id="${app.id}"`))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    };
    const before = await sent();
    const n = 30;
    const skipsExcluded = (i: number) => i % 3 === 0;
    for (let i = 0; i < n; i++) {
      const body = JSON.stringify({ name: 'here', channel: ch, data: String(i), ...(skipsExcluded(i) ? { socket_id: excluded.socketId } : {}) });
      const url = signedUrl(`http://127.0.0.1:${server.workerPorts[0]}`, { path: events, body, key: app.key, secret: app.secret });
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      assert.equal(res.status, 200);
    }
    const all = [...Array(n).keys()];
    for (const c of [here, there, v2]) await c.next((f) => f.event === 'here' && f.data === String(n - 1));
    await excluded.next((f) => f.event === 'here' && f.data === String(n - 1));
    const got = (c: RawClient) => c.frames.filter((f) => f.event === 'here').map((f) => Number(f.data));
    assert.deepEqual(got(here), all);
    assert.deepEqual(got(there), all);
    assert.deepEqual(got(excluded), all.filter((i) => !skipsExcluded(i)));
    assert.deepEqual(got(v2), all);
    assert.deepEqual(
      v2.frames.filter((f) => f.event === 'here').map((f) => f.serial),
      all.map((i) => i + 1),
    );
    // Delivered frames are counted once each, whichever thread built them (and the V2 socket, subscribed right
    // after connecting, had its first frames held back for a possible resume: counted once too).
    await eventually(async () => (await sent()) - before === 3 * n + got(excluded).length, 'every delivered frame counted once');
    assert.equal((await sent()) - before, 3 * n + got(excluded).length);
    // Nothing arrives twice later on.
    await here.request({ event: 'pusher:ping', data: {} }, (f) => f.event === 'pusher:pong');
    assert.deepEqual(got(here), all);
    for (const c of [here, excluded, v2, there]) c.close();
  });

  test('a flood of concurrent publishes through both workers is delivered exactly once each', async () => {
    // Many answered publishes in flight at once: none may be lost or doubled, whether a worker answered it or
    // (past its bound of unconfirmed publishes) the primary did.
    const c = await RawClient.open(server.workerPorts[1], app.key);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'flood' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const total = 2000;
    let sent = 0;
    const sender = async (lane: number) => {
      for (let i = sent++; i < total; i = sent++) {
        const body = JSON.stringify({ name: 'f', channel: 'flood', data: String(i) });
        const url = signedUrl(`http://127.0.0.1:${server.workerPorts[lane % 2]}`, { path: events, body, key: app.key, secret: app.secret });
        const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
        assert.equal(res.status, 200, await res.text());
      }
    };
    await Promise.all([...Array(32).keys()].map(sender));
    await eventually(() => c.frames.filter((f) => f.event === 'f').length >= total, 'every flood publish delivered', 15_000);
    const got = c.frames.filter((f) => f.event === 'f').map((f) => Number(f.data));
    assert.equal(got.length, total);
    assert.equal(new Set(got).size, total);
    c.close();
  });

  test('a body that arrives in two TCP segments, split inside a UTF-8 character, is read whole', async () => {
    const c = await RawClient.open(server.port, app.key);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'split' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const data = `é€😀 ${'ü'.repeat(200)}`;
    const body = Buffer.from(JSON.stringify({ name: 'u', channel: 'split', data }));
    const url = new URL(signedUrl(base, { path: events, body: body.toString(), key: app.key, secret: app.secret }));
    const cut = body.indexOf(Buffer.from('€')) + 1; // inside the 3-byte €
    const socket = connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.setNoDelay(true);
    socket.write(`POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body.subarray(0, cut));
    // A pause the server sees as the end of one read, so the body reaches it as two chunks.
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write(body.subarray(cut));
    const [answer] = (await once(socket, 'data')) as [Buffer];
    socket.destroy();
    assert.match(answer.toString(), /^HTTP\/1\.1 200 OK/);
    const got = await c.next((f) => f.event === 'u');
    assert.equal(got.data, data);
    c.close();
  });

  test('string data passes through unchanged, JSON data is delivered as a string', async () => {
    const c = await RawClient.open(server.port, app.key);
    await c.request({ event: 'pusher:subscribe', data: { channel: 'data' } }, (f) => f.event.endsWith('subscription_succeeded'));
    await post(events, JSON.stringify({ name: 's', channel: 'data', data: 'plain "text"' }));
    await post(events, JSON.stringify({ name: 'o', channel: 'data', data: { a: [1, 'b'] } }));
    await post(events, JSON.stringify({ name: 'n', channel: 'data' }));
    await c.next((f) => f.event === 'n');
    const got = c.frames.filter((f) => f.channel === 'data' && !f.event.startsWith('pusher')).map((f) => f.data);
    assert.deepEqual(got, ['plain "text"', '{"a":[1,"b"]}', 'null']);
    c.close();
  });

  test('the pusher SDK reaches multiple channels in one trigger', async () => {
    const c = await RawClient.open(server.port, app.key);
    for (const ch of ['m1', 'm2']) await c.request({ event: 'pusher:subscribe', data: { channel: ch } }, (f) => f.channel === ch);
    const res = await serverSdk(server.port, app).trigger(['m1', 'm2'], 'multi', { ok: 1 });
    assert.equal(res.status, 200);
    await c.next((f) => f.event === 'multi' && f.channel === 'm1');
    await c.next((f) => f.event === 'multi' && f.channel === 'm2');
    c.close();
  });

  test('health endpoints', async () => {
    const get = async (p: string) => {
      const r = await fetch(`${base}${p}`);
      return [r.status, await r.text()];
    };
    assert.deepEqual(await get('/up'), [200, 'OK']);
    assert.deepEqual(await get('/up/signed'), [200, 'OK']);
    assert.deepEqual(await get('/up/off'), [503, 'ERROR']);
    assert.deepEqual(await get('/up/nope'), [404, 'NOT_FOUND']);
    assert.deepEqual(await get('/ready'), [200, 'OK']);
    assert.deepEqual(await get('/live'), [200, ''], 'an empty body, as Sockudo');
  });
});

describe('HTTP API with the development app', () => {
  test('the SDK works unchanged against the default app', async () => {
    const server = await startTestServer();
    try {
      const res = await serverSdk(server.port, DEVELOPMENT_APP).trigger('orders', 'order.created', { id: 1 });
      assert.equal(res.status, 200);
    } finally {
      await server.shutdown();
    }
  });
});
