// An app's allowed_origins, checked against the upgrade's Origin header at admission (reference §1.3 step 3): the
// pattern rules (src/protocol/origins.ts) and the refusal on the wire, pusher:error 4009 "Origin not allowed" then
// close 4009.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { originCheck } from '../../src/protocol/origins.ts';
import { RawClient } from '../helpers/clients.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

describe('originCheck', () => {
  test('an empty or absent list, "*" or "any" allows every origin, a missing one ("") included', () => {
    for (const list of [undefined, [], ['*'], ['any'], ['https://a.example', 'ANY']]) {
      const check = originCheck(list);
      for (const origin of ['', 'https://evil.example', 'null']) assert.equal(check(origin), true, `${JSON.stringify(list)} ${origin}`);
    }
  });

  test('a pattern with a scheme matches that origin exactly, ignoring case and a trailing slash', () => {
    const check = originCheck(['https://good.example', 'http://localhost:3000/']);
    for (const origin of ['https://good.example', 'HTTPS://Good.Example', 'https://good.example/', 'http://localhost:3000']) assert.equal(check(origin), true, origin);
    for (const origin of ['', 'http://good.example', 'https://good.example:8443', 'https://good.example.evil', 'https://evil.example', 'https://xgood.example', 'http://localhost:3001', 'null']) {
      assert.equal(check(origin), false, origin);
    }
  });

  test('a pattern without a scheme matches that host and port on any scheme', () => {
    const check = originCheck(['app.example.com', 'localhost:3000']);
    for (const origin of ['https://app.example.com', 'http://app.example.com', 'http://localhost:3000', 'https://localhost:3000']) assert.equal(check(origin), true, origin);
    for (const origin of ['app.example.com', 'https://api.example.com', 'http://localhost', 'http://localhost:30001', 'https://app.example.com.evil']) assert.equal(check(origin), false, origin);
  });

  test('"*" inside a pattern stands for one or more characters other than "/"', () => {
    const check = originCheck(['https://*.example.com', '*.staging.example.net']);
    for (const origin of ['https://a.example.com', 'https://a.b.example.com', 'http://x.staging.example.net', 'https://x.staging.example.net']) assert.equal(check(origin), true, origin);
    for (const origin of ['https://example.com', 'http://a.example.com', 'https://a.example.com.evil', 'https://evil/.example.com', 'https://staging.example.net']) assert.equal(check(origin), false, origin);
    // Regex characters in a pattern are literal.
    assert.equal(originCheck(['https://a.example'])('https://aXexample'), false);
  });
});

describe('allowed_origins at admission', () => {
  let server: TestServer;
  const app = { id: 'web', key: 'web-key', secret: 'web-secret', allowed_origins: ['https://good.example', '*.trusted.example'], limits: { max_connections: 1 } };
  const open = { id: 'open', key: 'open-key', secret: 'open-secret' };
  before(async () => {
    server = await startTestServer({ apps: [app, open] });
  });
  after(() => server.shutdown());

  const refusedWith4009 = async (c: RawClient, prefix = 'pusher') => {
    assert.deepEqual(c.frames[0], { event: `${prefix}:error`, data: { code: 4009, message: 'Origin not allowed' } });
    assert.equal(await c.closed(), 4009);
  };

  test('an allowed Origin connects; a foreign or missing one gets pusher:error 4009 "Origin not allowed" and close 4009', async () => {
    const good = await RawClient.open(server.port, app.key, undefined, { origin: 'https://good.example' });
    assert.equal(good.frames[0].event, 'pusher:connection_established');
    good.close();
    await good.closed();
    await refusedWith4009(await RawClient.open(server.port, app.key, undefined, { origin: 'https://evil.example' }));
    await refusedWith4009(await RawClient.open(server.port, app.key)); // no Origin header: ""
    // V2 gets the same refusal, with its own prefix as this server's other admission refusals.
    await refusedWith4009(await RawClient.open(server.port, app.key, 'protocol=2&client=js&version=2.2.0&flash=false', { origin: 'http://evil.example' }), 'sockudo');
    const wildcard = await RawClient.open(server.port, app.key, undefined, { origin: 'http://eu.trusted.example' });
    assert.equal(wildcard.frames[0].event, 'pusher:connection_established', 'and the refusals took no place from the one-connection quota');
    wildcard.close();
    await wildcard.closed();
  });

  test('a refused origin takes no place from the app: its one-connection quota stays free', async () => {
    const refused = await RawClient.open(server.port, app.key, undefined, { origin: 'https://evil.example' });
    await refusedWith4009(refused);
    const good = await RawClient.open(server.port, app.key, undefined, { origin: 'https://good.example' });
    assert.equal(good.frames[0].event, 'pusher:connection_established');
    good.close();
    await good.closed();
  });

  test('an app without allowed_origins accepts any Origin, and none', async () => {
    for (const options of [{ origin: 'https://anything.example' }, {}]) {
      const c = await RawClient.open(server.port, open.key, undefined, options);
      assert.equal(c.frames[0].event, 'pusher:connection_established');
      c.close();
    }
  });
});
