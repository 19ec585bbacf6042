// Unsigned API calls and apps defined by the environment: an app from Sockudo's SOCKUDO_DEFAULT_APP_* names (its
// docker-compose.yml, §9.5) is signed like any, even in development mode (Sockudo never accepts unsigned calls;
// deliberate difference 3 allows them only for the development app), and production mode refuses them for every
// env-defined app.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, startTestServer } from '../helpers/server.ts';

describe('§9.5 compose env app: unsigned curl', () => {
  let server: TestServer;
  before(async () => {
    // What Sockudo's docker-compose.yml sets for the app; development mode as its config.json (§9.5 last bullet).
    server = await startTestServer(
      { mode: 'development' },
      { SOCKUDO_DEFAULT_APP_ID: 'demo-app', SOCKUDO_DEFAULT_APP_KEY: 'demo-key', SOCKUDO_DEFAULT_APP_SECRET: 'demo-secret', SOCKUDO_ENABLE_CLIENT_MESSAGES: 'true' },
    );
  });
  after(async () => {
    await server?.shutdown();
  });

  test('an unsigned publish to demo-app (real secret, Sockudo names) is refused with 400', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/apps/demo-app/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'order.created', channel: 'orders', data: { id: 'ord_123', total: 4200 } }),
    });
    const body = await res.text();
    assert.equal(res.status, 400, `got ${res.status} ${body}`);
    assert.match(body, /Missing authentication query parameters/);
  });
});

describe('production mode: unsigned calls to the env-defined app', () => {
  for (const [label, env] of [
    ['SOCKUDO_APP_* (guide names)', { SOCKUDO_MODE: 'production', SOCKUDO_APP_ID: 'env-app', SOCKUDO_APP_KEY: 'env-key', SOCKUDO_APP_SECRET: 'a-real-secret' }],
    ['SOCKUDO_DEFAULT_APP_* + ENVIRONMENT', { ENVIRONMENT: 'production', SOCKUDO_DEFAULT_APP_ID: 'env-app', SOCKUDO_DEFAULT_APP_KEY: 'env-key', SOCKUDO_DEFAULT_APP_SECRET: 'a-real-secret' }],
  ] as const) {
    test(`${label}: unsigned publish and unsigned GET are 400 Missing authentication query parameters`, async () => {
      const server = await startTestServer({}, env);
      try {
        const post = await fetch(`http://127.0.0.1:${server.port}/apps/env-app/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'order.created', channel: 'orders', data: { id: 'ord_123' } }),
        });
        assert.equal(post.status, 400);
        assert.deepEqual(await post.json(), { error: 'Missing authentication query parameters', code: 'invalid_input', status: 400 });
        const get = await fetch(`http://127.0.0.1:${server.port}/apps/env-app/channels`);
        assert.equal(get.status, 400);
      } finally {
        await server.shutdown();
      }
    });
  }
});
