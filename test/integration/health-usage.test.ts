// The unauthenticated endpoints of the public port in Sockudo's shapes (reference §7.1 and §4.1): /live with an
// empty body, /usage with the system memory, and the text/plain 404 for any route outside /apps (/metrics too:
// it is served on the metrics port only).
import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { RawClient } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

describe('health, usage and unknown routes on the public port', () => {
  let server: TestServer;
  const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.shutdown());

  test('GET /usage answers the system memory figures, in bytes', async () => {
    const res = await get('/usage');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as { memory: Record<string, number> };
    assert.deepEqual(Object.keys(body.memory).sort(), ['free', 'percent', 'total', 'used']);
    for (const k of ['free', 'used', 'total', 'percent']) assert.equal(typeof body.memory[k], 'number', `memory.${k}`);
    assert.equal(body.memory.total, totalmem());
    assert.equal(body.memory.used + body.memory.free, body.memory.total);
    assert.ok(body.memory.percent > 0 && body.memory.percent <= 100);
  });

  test('GET /up and /up/{appId} count as HTTP calls, under app_id "system" and the app (reference §7.2)', async () => {
    // The only /up calls on this server: the counts below are exact.
    assert.equal((await get('/up')).status, 200);
    assert.equal((await get('/up/app-id')).status, 200);
    assert.equal((await get('/up/no-such-app')).status, 404);
    const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    assert.match(text, /^sockudo_http_calls_received_total\{app_id="system",port="\d+"\} 1$/m);
    assert.match(text, /^sockudo_http_calls_received_total\{app_id="app-id",port="\d+"\} 1$/m);
    assert.match(text, /^sockudo_http_transmitted_bytes\{app_id="system",port="\d+"\} 2$/m, '"OK" is 2 bytes');
  });

  test('HEAD on the health routes and on /metrics answers like GET, without a body (uptime monitors use HEAD)', async () => {
    for (const path of ['/up', '/up/app-id', '/ready', '/live']) {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`, { method: 'HEAD' });
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), '', path);
    }
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/up/no-such-app`, { method: 'HEAD' })).status, 404);
    const metrics = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`, { method: 'HEAD' });
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  });

  test('GET /live answers 200 with an empty body', async () => {
    const res = await get('/live');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });

  test('/metrics and other routes outside /apps: 404 text/plain "404 NOT FOUND"', async () => {
    for (const path of ['/metrics', '/somewhere', '/usage/extra']) {
      const res = await get(path);
      assert.equal(res.status, 404, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/, path);
      assert.equal(await res.text(), '404 NOT FOUND', path);
    }
  });
});

describe('metrics.prefix (METRICS_PROMETHEUS_PREFIX)', () => {
  // Reference §7.2: "Prefix metrics.prometheus.prefix (default sockudo_, env METRICS_PROMETHEUS_PREFIX)".
  test('renames every sockudo_ series, HELP and TYPE lines included; unprefixed process series stay', async () => {
    const server = await startTestServer({}, { METRICS_PROMETHEUS_PREFIX: 'realtime_' });
    try {
      const c = await RawClient.open(server.port);
      const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
      c.close();
      assert.match(text, /^realtime_connected\{app_id="app-id",port="\d+"\} 1$/m);
      assert.match(text, /^# TYPE realtime_connected gauge$/m);
      assert.doesNotMatch(text, /^(# (HELP|TYPE) )?sockudo_/m);
      assert.match(text, /^process_cpu_seconds_total /m);
    } finally {
      await server.shutdown();
    }
  });
});
