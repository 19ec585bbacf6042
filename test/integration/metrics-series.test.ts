// Prometheus metrics against SOCKUDO-REFERENCE.md §7.2: client events do not move sockudo_broadcast_latency_ms
// (HTTP publishes with recipients only), and an origin refusal is error_type="origin_not_allowed".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Pusher from 'pusher';
import { RawClient, openV2, serverSdk } from '../helpers/clients.ts';
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

  // Reference 7.2 line 696: sockudo_broadcast_latency_ms has channel_type and recipient_count_bucket labels. As Sockudo
  // (interface.rs track_broadcast_latency): one observation per channel of an HTTP publish that reached someone,
  // bucketed by the sockets it reached on that node (here: worker); xs 1-10, sm 11-100.
  test('broadcast latency: one observation per channel that reached someone, by channel type and recipients', async () => {
    const signer = new Pusher({ appId: 'app-id', key: 'app-key', secret: 'app-secret', host: '127.0.0.1', port: String(server.port) });
    const v1 = await RawClient.open(server.workerPorts[0]);
    const v2 = await openV2(server.workerPorts[0]);
    const priv = await RawClient.open(server.workerPorts[1]);
    await v1.request({ event: 'pusher:subscribe', data: { channel: 'lat-public' } }, (f) => f.event.endsWith('subscription_succeeded'));
    await v2.request({ event: 'sockudo:subscribe', data: { channel: 'lat-public' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const { auth } = signer.authorizeChannel(priv.socketId, 'private-lat');
    await priv.request({ event: 'pusher:subscribe', data: { channel: 'private-lat', auth } }, (f) => f.event.endsWith('subscription_succeeded'));
    const crowd = await Promise.all(Array.from({ length: 11 }, () => RawClient.open(server.workerPorts[1])));
    for (const c of crowd) await c.request({ event: 'pusher:subscribe', data: { channel: 'lat-crowd' } }, (f) => f.event.endsWith('subscription_succeeded'));
    const series = async () => {
      const text = await scrape(server);
      const count = (channel_type: string, recipient_count_bucket: string) =>
        sum(text, 'sockudo_broadcast_latency_ms_count', { app_id: 'app-id', channel_type, recipient_count_bucket });
      return { publicXs: count('public', 'xs'), privateXs: count('private', 'xs'), publicSm: count('public', 'sm'), all: sum(text, 'sockudo_broadcast_latency_ms_count', { app_id: 'app-id' }) };
    };
    const before = await series();
    await serverSdk(server.workerPorts[0]).trigger(['lat-public', 'private-lat', 'lat-nobody'], 'tick', { n: 1 });
    for (const [c, channel] of [[v1, 'lat-public'], [v2, 'lat-public'], [priv, 'private-lat']] as const) await c.next((f) => f.event === 'tick' && f.channel === channel);
    await serverSdk(server.workerPorts[1]).trigger('lat-crowd', 'tick', { n: 2 });
    for (const c of crowd) await c.next((f) => f.event === 'tick');
    // The V2 side of a publish can follow its V1 frames: wait for the scrape to settle on what was delivered.
    const after = await eventually(async () => {
      const now = await series();
      return now.all - before.all >= 3 ? now : null;
    }, 'the three observations');
    assert.equal(after.publicXs - before.publicXs, 1, 'lat-public: one observation for its V1 and V2 sockets (2 recipients: xs)');
    assert.equal(after.privateXs - before.privateXs, 1, 'private-lat on the other worker');
    assert.equal(after.publicSm - before.publicSm, 1, 'lat-crowd: 11 sockets is sm');
    assert.equal(after.all - before.all, 3, 'nothing for lat-nobody, nothing twice');
    const text = await scrape(server);
    assert.match(text, /sockudo_broadcast_latency_ms_bucket\{app_id="app-id",port="\d+",channel_type="public",recipient_count_bucket="sm",le="5000"\} 1/);
    assert.match(text, /sockudo_broadcast_latency_ms_bucket\{app_id="app-id",port="\d+",channel_type="public",recipient_count_bucket="sm",le="\+Inf"\} 1/);
    for (const c of [v1, v2, priv, ...crowd]) c.close();
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
