// Prometheus metrics against SOCKUDO-REFERENCE.md §7.2: client events do not move sockudo_broadcast_latency_ms
// (HTTP publishes with recipients only), and an origin refusal is error_type="origin_not_allowed".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { RawClient, serverSdk } from '../helpers/clients.ts';
import { freePort } from '../helpers/ports.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

async function scrape(server: TestServer): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
}

/** Sample lines `name{labels} value` of exactly this series name. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[pair[1]] = pair[2];
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

function sum(text: string, name: string, where: Record<string, string> = {}): number {
  return samples(text, name)
    .filter((s) => Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

describe('metrics: what moves which series', () => {
  let server: TestServer;
  let metricsPort: number;
  before(async () => {
    metricsPort = await freePort();
    server = await startTestServer({
      metrics: { port: metricsPort },
      apps: [
        { id: 'app-id', key: 'app-key', secret: 'app-secret', features: { enable_client_messages: true } },
        { id: 'web', key: 'web-key', secret: 'web-secret', allowed_origins: ['https://good.example'] },
      ],
    });
  });
  after(() => server.shutdown());

  // Reference 7.2 line 696: "incremented when: HTTP publishes with recipients" — a client event is not one.
  test('client events do not move sockudo_broadcast_latency_ms', async () => {
    const signer = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1', port: String(server.port) });
    const a = await RawClient.open(server.workerPorts[0]);
    const b = await RawClient.open(server.workerPorts[1]);
    for (const c of [a, b]) {
      const { auth } = signer.authorizeChannel(c.socketId, 'private-typing');
      await c.request({ event: 'pusher:subscribe', data: { channel: 'private-typing', auth } }, (f) => f.event.endsWith('subscription_succeeded'));
    }
    const before = sum(await scrape(server), 'sockudo_broadcast_latency_ms_count', { app_id: 'app-id' });
    for (let i = 0; i < 3; i++) {
      const from = b.frames.length;
      a.send({ event: 'client-typing', channel: 'private-typing', data: { i } });
      await b.next((f) => f.event === 'client-typing', 5000, from);
    }
    // A worker counts a delivery before it writes the frame: b has them all, so any observation is already counted.
    assert.equal(sum(await scrape(server), 'sockudo_broadcast_latency_ms_count', { app_id: 'app-id' }), before);
    a.close();
    b.close();
  });

  // Reference 7.2 line 690: error_type values include `origin_not_allowed` (and 1.3 step 3: the origin refusal).
  test('an origin refusal counts as error_type="origin_not_allowed"', async () => {
    const c = await RawClient.open(server.port, 'web-key', undefined, { headers: { Origin: 'https://evil.example' } });
    assert.equal(await c.closed(), 4009);
    const text = await scrape(server);
    assert.equal(sum(text, 'sockudo_connection_errors_total', { app_id: 'web', error_type: 'origin_not_allowed' }), 1, samples(text, 'sockudo_connection_errors_total').map((s) => JSON.stringify(s)).join('\n'));
    assert.equal(sum(text, 'sockudo_connection_errors_total', { app_id: 'web', error_type: 'authentication_failed' }), 0);
  });

});
