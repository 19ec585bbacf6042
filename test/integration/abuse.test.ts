// Slow consumers and abuse, with exact thresholds: a socket that stops reading is closed while
// others keep receiving everything; per-address connection cap; per-app HTTP rate limit (429).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { RawClient } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { signedUrl } from '../helpers/signing.ts';

async function metric(port: number, name: string, app = 'app-id'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{app_id="${app}"`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

describe('slow consumers', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      websocket_max_backpressure_kb: 256,
      apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret', limits: { max_event_payload_in_kb: 100 } }],
    });
  });
  after(() => server.shutdown());

  test('a socket that stops reading is closed; the others get every message', async (t) => {
    const sdk = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1', port: String(server.port) });
    const bystander = await RawClient.open(server.workerPorts[0]);
    const slow = await RawClient.open(server.workerPorts[0]);
    for (const c of [bystander, slow]) await c.request({ event: 'pusher:subscribe', data: { channel: 'firehose' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const disconnectsBefore = await metric(server.metricsPort as number, 'sockudo_new_disconnections_total');
    slow.stopReading();
    const blob = 'x'.repeat(90 * 1024);
    let sent = 0;
    // Publish until the server gives up on the stalled socket (bounded: 60 MB at most).
    while ((await metric(server.metricsPort as number, 'sockudo_new_disconnections_total')) === disconnectsBefore) {
      assert.ok(sent < 700, 'the stalled socket was never closed');
      await Promise.all(Array.from({ length: 10 }, () => sdk.trigger('firehose', 'blob', blob)));
      sent += 10;
    }
    t.diagnostic(`stalled socket closed after ${sent} publishes of 90 KiB (${((sent * 90) / 1024).toFixed(1)} MiB)`);
    await sdk.trigger('firehose', 'last', 'x');
    await bystander.next((f) => f.event === 'last', 10000);
    assert.equal(bystander.frames.filter((f) => f.event === 'blob').length, sent, 'the reading subscriber lost nothing');
    slow.resumeReading();
    // The close frame (4100) queues behind the data the client never read, so a client usually sees the
    // connection drop (1006) instead; either way the server has let go of it and its buffer.
    assert.ok([4100, 1006].includes(await slow.closed(10000)));
    assert.equal(await metric(server.metricsPort as number, 'sockudo_connected'), 1);
    bystander.close();
  });
});

describe('per-address connection cap', () => {
  test('the cap holds across threads; other addresses are not affected', async () => {
    const server = await startTestServer({ max_connections_per_ip: 3 });
    try {
      const held = await Promise.all([0, 1, 0].map((i) => RawClient.open(server.workerPorts[i])));
      for (const c of held) assert.equal(c.frames[0].event, 'pusher:connection_established');
      const refused = await RawClient.open(server.workerPorts[1]);
      assert.deepEqual(refused.frames[0], { event: 'pusher:error', data: { code: 4100, message: 'Over capacity: too many connections from this address' } });
      assert.equal(await refused.closed(), 4100);
      // Another client address (loopback has all of 127/8) still connects.
      const other = await RawClient.open(server.workerPorts[1], 'app-key', undefined, { localAddress: '127.0.0.2' });
      assert.equal(other.frames[0].event, 'pusher:connection_established');
      held[0].close();
      await held[0].closed();
      const again = await RawClient.open(server.workerPorts[0]);
      assert.equal(again.frames[0].event, 'pusher:connection_established');
      for (const c of [...held.slice(1), other, again]) c.close();
    } finally {
      await server.shutdown();
    }
  });
});

describe('per-app HTTP rate limit', () => {
  test('requests past the budget get 429 with Retry-After; other apps are not affected', async () => {
    const apps = [
      { id: 'limited', key: 'limited-key', secret: 'limited-secret', limits: { max_api_requests_per_second: 5 } },
      { id: 'free', key: 'free-key', secret: 'free-secret' },
    ];
    const server = await startTestServer({ apps });
    try {
      const post = (app: (typeof apps)[number]) => {
        const body = JSON.stringify({ name: 'e', channel: 'c', data: 'd' });
        const url = signedUrl(`http://127.0.0.1:${server.port}`, { path: `/apps/${app.id}/events`, body, key: app.key, secret: app.secret });
        return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      };
      const answers = await Promise.all(Array.from({ length: 6 }, () => post(apps[0])));
      const statuses = answers.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
      const limited = answers.find((r) => r.status === 429) as Response;
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      assert.equal(((await limited.json()) as { code: string }).code, 'rate_limited');
      const others = await Promise.all(Array.from({ length: 10 }, () => post(apps[1])));
      assert.deepEqual(others.map((r) => r.status), Array(10).fill(200));
      // The budget comes back: within a couple of seconds a request is accepted again.
      await eventually(async () => (await post(apps[0])).status === 200, 'budget refilled', 3000);
    } finally {
      await server.shutdown();
    }
  });

  test('the budget is one for the host, whichever worker reads the requests, and each check is counted once', async () => {
    const app = { id: 'limited', key: 'limited-key', secret: 'limited-secret', limits: { max_api_requests_per_second: 10 } };
    const server = await startTestServer({ apps: [app] });
    try {
      assert.equal(server.workerPorts.length, 2);
      const post = (port: number) => {
        const body = JSON.stringify({ name: 'e', channel: 'c', data: 'd' });
        const url = signedUrl(`http://127.0.0.1:${port}`, { path: `/apps/${app.id}/events`, body, key: app.key, secret: app.secret });
        return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      };
      // Eight at each worker at once: ten of the sixteen are admitted, by either thread, and the workers answer
      // the other six themselves.
      const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => post(server.workerPorts[i % 2])));
      const statuses = answers.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 200).length, 10, `statuses: ${statuses}`);
      assert.equal(statuses.filter((s) => s === 429).length, 6, `statuses: ${statuses}`);
      const counter = async (name: string, labels = '') => {
        const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith(`${name}{app_id="limited"`) && l.includes(labels));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
      };
      // The workers count the checks and answer the refusals; the publishes they admitted reach the primary's
      // call count just after their answers.
      assert.equal(await counter('sockudo_rate_limit_checks_total', 'limiter_type="api"'), 16);
      assert.equal(await counter('sockudo_rate_limit_triggered_total', 'limiter_type="api"'), 6);
      await eventually(async () => (await counter('sockudo_http_calls_received_total')) === 16, '16 API calls counted');
    } finally {
      await server.shutdown();
    }
  });
});
