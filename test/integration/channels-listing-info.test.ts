// GET /apps/{id}/channels with an `info` parameter present but naming no attribute of the listing: as Sockudo
// (SOCKUDO-REFERENCE §4.5 line 515, its QUIRK; channels.rs adds an empty entry only without `info`), such channels
// are left out; without `info` every channel maps to `{}`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Pusher from 'pusher';
import { RawClient, serverSdk } from '../helpers/clients.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';

const app = { id: 'rh29-list', key: 'rh29-list-key', secret: 'rh29-list-secret' };

describe('/channels with a present but empty info', () => {
  let server: TestServer;
  let sdk: Pusher;
  let client: RawClient;

  before(async () => {
    server = await startTestServer({ apps: [app] });
    sdk = serverSdk(server.port, app);
    client = await RawClient.open(server.port, app.key);
    await client.request({ event: 'pusher:subscribe', data: { channel: 'listed-plain' } }, (f) => f.event.endsWith('subscription_succeeded'));
    // Control: without `info` the channel is listed as {} (this already holds).
    await eventually(async () => {
      const body = (await (await sdk.get({ path: '/channels' })).json()) as { channels: Record<string, unknown> };
      return 'listed-plain' in body.channels;
    }, 'the channel listed without info');
  });
  after(async () => {
    client.close();
    await server.shutdown();
  });

  test('GET /channels?info= (present, empty) omits channels with no requested attribute (ref §4.5 l.515 QUIRK)', async () => {
    const res = await sdk.get({ path: '/channels', params: { info: '' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { channels: {} });
  });

  test('GET /channels?info=cache (no listing attribute named) omits the channels too, as Sockudo (ref §4.5 l.515)', async () => {
    // `cache` is not an attribute of the listing: ignored (README: "unknown `info` names are ignored"), which in
    // Sockudo leaves the channel's info map empty, and an empty map with `info` given is not inserted.
    const res = await sdk.get({ path: '/channels', params: { info: 'cache' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { channels: {} });
  });
});
