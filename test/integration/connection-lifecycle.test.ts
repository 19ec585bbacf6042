// The connection lifecycle and metrics as SOCKUDO-REFERENCE.md states them, pinned down where no other test does:
// connection_established byte for byte, V1 heartbeats and what counts as activity, the host cap, and counters that move.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Pusher from 'pusher';
import WebSocket from 'ws';
import { RawClient, serverSdk } from '../helpers/clients.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

describe('connection lifecycle: what counts as activity on V1 (reference §1.5, §1.6)', () => {
  // 1.6 line 114: native WS ping frames from the client are answered and count as activity.
  test('a V1 client that only sends native pings is never sent pusher:ping', async () => {
    const server = await startTestServer({ activity_timeout: 1, pong_timeout: 1 });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/app/app-key?protocol=7`);
      const texts: string[] = [];
      let pongs = 0;
      let closed: number | null = null;
      ws.on('message', (d) => texts.push(d.toString()));
      ws.on('pong', () => pongs++);
      ws.on('close', (code) => (closed = code));
      await new Promise((r) => ws.once('open', r));
      const timer = setInterval(() => ws.ping(), 300);
      await new Promise((r) => setTimeout(r, 3500));
      clearInterval(timer);
      assert.equal(closed, null);
      assert.ok(pongs >= 5, `pongs ${pongs}`);
      assert.deepEqual(texts.filter((t) => t.includes('pusher:ping')), []);
      ws.close();
    } finally {
      await server.shutdown();
    }
  });

  // 1.6 line 113: "A client pusher:pong (or any message) clears the ping state"; 1.5 line 106: every inbound frame
  // refreshes activity (an unknown event included).
  test('after a server ping, an unknown event keeps the connection (no 4201)', async () => {
    const server = await startTestServer({ activity_timeout: 1, pong_timeout: 1 });
    try {
      const c = await RawClient.open(server.port);
      for (let i = 0; i < 3; i++) {
        const from = c.frames.length;
        await c.next((f) => f.event === 'pusher:ping', 3000, from);
        c.send({ event: 'something-unknown', data: {} });
      }
      assert.equal(c.closeCode, null);
      c.close();
    } finally {
      await server.shutdown();
    }
  });

  // 1.6 line 113: the ping follows activity_timeout "without any inbound frame": frames the server sends do not count.
  test('a V1 subscriber that only receives broadcasts is still pinged, then closed with 4201', async () => {
    const server = await startTestServer({ activity_timeout: 1, pong_timeout: 1 });
    try {
      const c = await RawClient.open(server.port);
      await c.request({ event: 'pusher:subscribe', data: { channel: 'busy' } }, (f) => f.event.endsWith('subscription_succeeded'));
      const sdk = serverSdk(server.port);
      const timer = setInterval(() => void sdk.trigger('busy', 'tick', 'x').catch(() => {}), 200);
      try {
        assert.equal(await c.closed(5000), 4201);
      } finally {
        clearInterval(timer);
      }
      assert.ok(c.frames.some((f) => f.event === 'pusher:ping'));
      assert.ok(c.frames.filter((f) => f.event === 'tick').length > 3);
    } finally {
      await server.shutdown();
    }
  });
});

describe('connection lifecycle: admission order (reference §1.3)', () => {
  // 1.3 lines 80–81: the node-wide cap (step 4) is checked before the per-app cap (step 5), across all apps.
  test('the host cap counts every app and wins over a full app quota', async () => {
    const server = await startTestServer({
      max_connections: 2,
      apps: [
        { id: 'a', key: 'a-key', secret: 'a-secret', limits: { max_connections: 1 } },
        { id: 'b', key: 'b-key', secret: 'b-secret' },
      ],
    });
    try {
      const a = await RawClient.open(server.port, 'a-key');
      const b = await RawClient.open(server.port, 'b-key');
      assert.equal(a.frames[0].event, 'pusher:connection_established');
      assert.equal(b.frames[0].event, 'pusher:connection_established');
      const refused = await RawClient.open(server.port, 'a-key');
      assert.equal(refused.texts[0], '{"event":"pusher:error","data":{"code":4100,"message":"Over capacity"}}');
      assert.equal(await refused.closed(), 4100);
      a.close();
      b.close();
    } finally {
      await server.shutdown();
    }
  });
});

describe('connection lifecycle: counters that must move (reference §7.2)', () => {
  test('unsubscriptions, active channels, client events, queries and coded errors', async () => {
    const server = await startTestServer({ apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret', features: { enable_client_messages: true }, limits: { max_client_events_per_second: 1 } }] });
    const text = async () => (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    const value = (t: string, name: string, labels: string) => {
      const line = t.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    };
    try {
      const signer = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1', port: String(server.port) });
      const a = await RawClient.open(server.workerPorts[0]);
      const b = await RawClient.open(server.workerPorts[1]);
      for (const c of [a, b]) {
        const { auth } = signer.authorizeChannel(c.socketId, 'private-room');
        await c.request({ event: 'pusher:subscribe', data: { channel: 'private-room', auth } }, (f) => f.event.endsWith('subscription_succeeded'));
      }
      let t = await text();
      assert.equal(value(t, 'sockudo_active_channels', 'channel_type="private"'), 1);
      assert.equal(value(t, 'sockudo_channel_subscriptions_total', 'channel_type="private"'), 2);
      const sentBefore = value(t, 'sockudo_ws_messages_sent_total', 'app_id="app-id"');
      a.send({ event: 'client-typing', channel: 'private-room', data: {} });
      await b.next((f) => f.event === 'client-typing');
      a.send({ event: 'client-typing', channel: 'private-room', data: {} }); // over 1 per second
      await a.next((f) => f.event === 'pusher:error');
      await a.request('{', (f) => f.event === 'pusher:error');
      await a.request({ data: {} }, (f) => f.event === 'pusher:error');
      a.send({ event: 'pusher:unsubscribe', data: { channel: 'private-room' } });
      b.send({ event: 'pusher:unsubscribe', data: { channel: 'private-room' } });
      const callsBefore = value(t, 'sockudo_http_calls_received_total', 'app_id="app-id"');
      await signer.get({ path: '/channels' });
      await signer.post({ path: '/users/nobody/terminate_connections', body: {} as unknown as string });
      t = await eventually(async () => {
        const x = await text();
        const done = value(x, 'sockudo_http_calls_received_total', 'app_id="app-id"') === callsBefore + 2 && value(x, 'sockudo_channel_unsubscriptions_total', 'channel_type="private"') === 2;
        return done ? x : null;
      }, 'query, terminate and unsubscriptions counted');
      assert.equal(value(t, 'sockudo_channel_unsubscriptions_total', 'channel_type="private"'), 2);
      assert.equal(value(t, 'sockudo_active_channels', 'channel_type="private"'), 0);
      assert.ok(value(t, 'sockudo_ws_messages_sent_total', 'app_id="app-id"') >= sentBefore + 4, 'client event, rate-limit error and two 4000s');
      assert.equal(value(t, 'sockudo_rate_limit_triggered_total', 'limiter_type="client_events"'), 1);
      assert.equal(value(t, 'sockudo_connection_errors_total', 'error_type="invalid_message_format"'), 1);
      assert.equal(value(t, 'sockudo_connection_errors_total', 'error_type="missing_event_name"'), 1);
      assert.ok(value(t, 'sockudo_socket_received_bytes', 'app_id="app-id"') > 0);
      assert.ok(value(t, 'sockudo_socket_transmitted_bytes', 'app_id="app-id"') > 0);
      a.close();
      b.close();
    } finally {
      await server.shutdown();
    }
  });
});

describe('connection lifecycle: connection_established exactly (reference §1.4)', () => {
  // 1.4 lines 89–94: data is a JSON string {"socket_id","activity_timeout"} with the configured activity_timeout as a
  // number; on V2 the event is sockudo:connection_established with a top-level uuid v4 message_id.
  test('V1 and V2 frames, byte for byte, with a configured activity_timeout', async () => {
    const server = await startTestServer({ activity_timeout: 45 });
    try {
      const v1 = await RawClient.open(server.port);
      const v2a = await RawClient.open(server.port, 'app-key', 'protocol=2');
      const v2b = await RawClient.open(server.port, 'app-key', 'protocol=2');
      const data = (id: string) => JSON.stringify(JSON.stringify({ socket_id: id, activity_timeout: 45 }));
      assert.equal(v1.texts[0], `{"event":"pusher:connection_established","data":${data(v1.socketId)}}`);
      const uuid4 = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
      for (const c of [v2a, v2b]) {
        const prefix = `{"event":"sockudo:connection_established","data":${data(c.socketId)},"message_id":"`;
        assert.ok(c.texts[0].startsWith(prefix), c.texts[0]);
        assert.match(c.texts[0].slice(prefix.length), new RegExp(`^${uuid4}"}$`));
      }
      assert.notEqual(v2a.frames[0].message_id, v2b.frames[0].message_id);
      for (const c of [v1, v2a, v2b]) c.close();
    } finally {
      await server.shutdown();
    }
  });
});
