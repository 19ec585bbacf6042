// The first-connection guide, end to end, against the real multi-threaded server: pusher-js subscribers on
// two different worker threads, the official pusher SDK, the unsigned curl (development mode only), metrics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEVELOPMENT_APP } from '../../src/config/schema.ts';
import { type PusherClient, RawClient, connectPusherJs, serverSdk, subscribed } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const ORDER = { id: 'ord_123', total: 4200 };

async function metricValue(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

function unsignedCurl(port: number, appId: string = DEVELOPMENT_APP.id) {
  return fetch(`http://127.0.0.1:${port}/apps/${appId}/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'order.created', channel: 'orders', data: ORDER }),
  });
}

describe('the guide, in development mode with no configuration', () => {
  let server: TestServer;
  const clients: PusherClient[] = [];
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await server.shutdown();
  });

  test('runs two worker threads on one public port', () => {
    assert.equal(server.workerCount, 2);
    assert.equal(server.workerPorts.length, 2);
    assert.notEqual(server.workerPorts[0], server.workerPorts[1]);
  });

  test('pusher-js on every worker thread receives the SDK trigger and the unsigned curl', async () => {
    const received: unknown[][] = [[], []];
    for (const [i, port] of server.workerPorts.entries()) {
      const client = await connectPusherJs(port);
      clients.push(client);
      const channel = await subscribed(client, 'orders');
      channel.bind('order.created', (data: unknown) => received[i].push(data));
    }

    const sdk = serverSdk(server.port);
    const res = await sdk.trigger('orders', 'order.created', ORDER);
    assert.equal(res.status, 200);
    await eventually(() => received.every((r) => r.length === 1), 'SDK event on both threads');
    assert.deepEqual(received, [[ORDER], [ORDER]]);

    const curl = await unsignedCurl(server.port);
    assert.equal(curl.status, 200);
    assert.deepEqual(await curl.json(), { ok: true });
    await eventually(() => received.every((r) => r.length === 2), 'curl event on both threads');
    assert.deepEqual(received, [[ORDER, ORDER], [ORDER, ORDER]]);
  });

  test('metrics count connections, messages and API calls across threads', async () => {
    const mp = server.metricsPort as number;
    const app = `app_id="${DEVELOPMENT_APP.id}"`;
    assert.equal(await metricValue(mp, 'sockudo_connected', app), 2);
    assert.ok((await metricValue(mp, 'sockudo_new_connections_total', app)) >= 2);
    assert.ok((await metricValue(mp, 'sockudo_http_calls_received_total', app)) >= 2);
    assert.ok((await metricValue(mp, 'sockudo_ws_messages_sent_total', app)) >= 4);
    assert.ok((await metricValue(mp, 'sockudo_ws_messages_received_total', app)) >= 2);
    assert.ok((await metricValue(mp, 'sockudo_channel_subscriptions_total', 'channel_type="public"')) >= 2);
    assert.ok((await metricValue(mp, 'sockudo_http_received_bytes', app)) > 0);
    assert.ok((await metricValue(mp, 'process_resident_memory_bytes', '')) > 0, 'process metrics are exported');

    const before = await metricValue(mp, 'sockudo_new_disconnections_total', app);
    const raw = await RawClient.open(server.port);
    assert.equal(await metricValue(mp, 'sockudo_connected', app), 3);
    raw.close();
    await eventually(async () => (await metricValue(mp, 'sockudo_new_disconnections_total', app)) === before + 1, 'disconnection counted');
    assert.equal(await metricValue(mp, 'sockudo_connected', app), 2);
  });

  test('/metrics lives on the metrics port only', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(res.status, 404);
    const ok = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
    assert.match(ok.headers.get('content-type') ?? '', /text\/plain/);
  });

  test('socket_id exclusion works for sockets on the same and on the other thread', async () => {
    const [onA, onB] = [await RawClient.open(server.workerPorts[0]), await RawClient.open(server.workerPorts[1])];
    for (const c of [onA, onB]) await c.request({ event: 'pusher:subscribe', data: { channel: 'excl' } }, (f) => f.event === 'pusher_internal:subscription_succeeded');
    // The API request lands on worker 0; exclude the socket on worker 1, then the one on worker 0.
    const sdk = serverSdk(server.workerPorts[0]);
    await sdk.trigger('excl', 'first', { n: 1 }, { socket_id: onB.socketId });
    await sdk.trigger('excl', 'second', { n: 2 }, { socket_id: onA.socketId });
    await sdk.trigger('excl', 'third', { n: 3 });
    // Per-channel order is guaranteed, so once "third" arrives, anything not excluded has arrived too.
    await onA.next((f) => f.event === 'third');
    await onB.next((f) => f.event === 'third');
    const names = (c: RawClient) => c.frames.filter((f) => f.channel === 'excl' && !f.event.startsWith('pusher')).map((f) => f.event);
    assert.deepEqual(names(onA), ['first', 'third']);
    assert.deepEqual(names(onB), ['second', 'third']);
    onA.close();
    onB.close();
  });
});

describe('the unsigned curl outside the development app', () => {
  test('is rejected in production mode, while signed SDK calls work', async () => {
    const app = { id: 'prod-app', key: 'prod-key', secret: 'a-real-secret' };
    const server = await startTestServer({ mode: 'production', apps: [app] });
    try {
      const curl = await unsignedCurl(server.port, app.id);
      assert.equal(curl.status, 400);
      assert.deepEqual(await curl.json(), { error: 'Missing authentication query parameters', code: 'invalid_input', status: 400 });
      const res = await serverSdk(server.port, app).trigger('orders', 'order.created', ORDER);
      assert.equal(res.status, 200);
    } finally {
      await server.shutdown();
    }
  });

  test('is rejected in development mode for apps from a config file', async () => {
    const app = { id: 'file-app', key: 'file-key', secret: 'file-secret' };
    const server = await startTestServer({ apps: [app] });
    try {
      const curl = await unsignedCurl(server.port, app.id);
      assert.equal(curl.status, 400);
    } finally {
      await server.shutdown();
    }
  });
});

describe('metrics beyond the guide', () => {
  test('connection errors by type, active channels, rate limits, broadcast latency', async () => {
    const server = await startTestServer({ apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret', features: { enable_client_messages: true }, limits: { max_client_events_per_second: 1 } }] });
    try {
      const bad = await RawClient.open(server.port, 'nope');
      await bad.closed();
      const c = await RawClient.open(server.workerPorts[0]);
      await c.request('not json', (f) => f.event === 'pusher:error');
      await c.request({ event: 'pusher:subscribe', data: { channel: 'news' } }, (f) => f.event.endsWith('subscription_succeeded'));
      await serverSdk(server.port).trigger('news', 'e', '1');
      await c.next((f) => f.event === 'e');
      const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
      assert.match(text, /sockudo_connection_errors_total\{app_id="unknown",port="\d+",error_type="app_not_found"\} 1/);
      assert.match(text, /sockudo_connection_errors_total\{app_id="app-id",port="\d+",error_type="invalid_message_format"\} 1/);
      assert.match(text, /sockudo_active_channels\{app_id="app-id",port="\d+",channel_type="public"\} 1/);
      assert.match(text, /sockudo_broadcast_latency_ms_count\{app_id="app-id",port="\d+",channel_type="public",recipient_count_bucket="xs"\} [1-9]/);
      assert.match(text, /sockudo_rate_limit_checks_total\{app_id="app-id",port="\d+",limiter_type="client_events",request_context="websocket"\} 0/);
      c.close();
    } finally {
      await server.shutdown();
    }
  });
});
