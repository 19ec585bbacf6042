// Ids the caller chooses for push documents (templates, delivery-status events, credentials): a NUL, which PostgreSQL
// text cannot hold, is a 400 on both backends (never a 500), and a path id with one names nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import webpush from 'web-push';
import { type PostgresProcess, startPostgres } from '../helpers/postgres.ts';
import { type PushClient, pushClient } from '../helpers/pushClient.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

describe('push_documents on PostgreSQL with a NUL in an id', () => {
  let pg: PostgresProcess;
  let host: TestServer;
  let api: PushClient;

  before(async () => {
    pg = await startPostgres();
    const vapid = webpush.generateVAPIDKeys();
    host = await startTestServer({
      push: {
        storage: { driver: 'postgres', postgres_url: pg.url },
        webpush: { vapid_public_key: vapid.publicKey, vapid_private_key: vapid.privateKey },
        credential_encryption_key: 'documents-key',
      },
    });
    api = pushClient(host.port);
  });

  after(async () => {
    await host.shutdown();
    await pg.stop();
  });

  test('POST /push/templates with a NUL in templateId: a JSON 4xx, not a 500', async () => {
    const res = await api.post('/templates', { templateId: 'a\u0000b', defaultLocale: 'en', locales: { en: { title: 'T', body: 'B' } } });
    assert.ok(res.status < 500, `answered ${res.status} ${JSON.stringify(res.body)}`);
  });

  test('POST /push/deliveryStatus with a NUL in eventId: a JSON 4xx (or 202 as on SQLite), not a 500', async () => {
    const res = await api.post('/deliveryStatus', {
      publishId: 'p-1',
      eventId: 'e\u00001',
      occurredAtMs: 1,
      result: { appId: 'app-id', publishId: 'p-1', provider: 'fcm', batchId: 'b', outcome: 'accepted', attempt: 1 },
    });
    assert.ok(res.status < 500, `answered ${res.status} ${JSON.stringify(res.body)}`);
  });

  test('POST /push/credentials/webpush with a NUL in credentialId: a JSON 4xx, not a 500', async () => {
    const res = await api.post('/credentials/webpush', { credentialId: 'c\u0000', publicKey: 'pk', privateKey: 'sk' });
    assert.ok(res.status < 500, `answered ${res.status} ${JSON.stringify(res.body)}`);
  });

  test('GET / DELETE /push/templates/%00: 404 / 204 as for any unknown id, not a 500', async () => {
    const got = await api.get('/templates/%00');
    assert.equal(got.status, 404, `GET answered ${got.status} ${JSON.stringify(got.body)}`);
    const gone = await api.del('/templates/%00');
    assert.equal(gone.status, 204, `DELETE answered ${gone.status} ${JSON.stringify(gone.body)}`);
  });
});
