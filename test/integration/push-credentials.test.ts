// Push provider credentials, as Sockudo's push API has them (push_http.rs `post_*_credential`, `list_credentials`,
// `encrypted_secret`; domain.rs `ProviderCredential::validate`): the Sockudo SDK's putPushCredential /
// listPushCredentials shapes, secrets encrypted at rest and never shown, and the stored FCM / APNs credential used
// at the next start instead of the configured one (checked where it counts: what the local FCM / APNs servers get).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ConfigError } from '../../src/config/load.ts';
import { CredentialCipher } from '../../src/push/credentialCipher.ts';
import { finalStatus, pushBed, pushClient, registerDevice } from '../helpers/pushClient.ts';
import { type ApnsServer, type FcmServer, startApnsServer, startFcmServer } from '../helpers/pushProviders.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const KEY = 'credential-test-key-1';
const NO_KEY = 'PUSH_CREDENTIAL_ENCRYPTION_KEY must be configured before storing push credentials';
const ADMIN_ONLY = 'this push operation requires the push-admin capability';
const SUBSCRIBE = { 'x-sockudo-push-capability': 'push-subscribe' };

/** Secrets that must never leave the server, nor reach its disk in clear. */
const SECRETS = {
  fcm: 'PLAINTEXT-FCM-PRIVATE-KEY-7c1e',
  apnsKey: 'PLAINTEXT-APNS-P8-KEY-41aa',
  apnsPem: 'PLAINTEXT-APNS-PEM-93bd',
  apnsP12: 'PLAINTEXT-APNS-P12-0d7f',
  apnsP12Password: 'PLAINTEXT-APNS-P12-PASSWORD-55e0',
  webPush: 'PLAINTEXT-VAPID-PRIVATE-2b9c',
  hms: 'PLAINTEXT-HMS-CLIENT-SECRET-6f31',
  wns: 'PLAINTEXT-WNS-CLIENT-SECRET-a804',
};

type Row = { app_id: string; credential_id: string; provider: string; version: number };

describe('push credentials API', () => {
  const bed = pushBed({ acceptance_rps: 1000, credential_encryption_key: KEY });
  const answers: unknown[] = [];
  const post = async (provider: string, body: unknown, headers?: Record<string, string>) => {
    const res = await bed.api.post(`/credentials/${provider}`, body, headers);
    answers.push(res.body);
    return res;
  };
  const list = async (query: Record<string, string> = {}) => {
    const res = await bed.api.get('/credentials', query);
    answers.push(res.body);
    return res;
  };

  test('POST per provider: 201 {app_id, credential_id, provider, version} with the defaults; GET lists them by credentialId', async () => {
    const created = [
      await post('fcm', { serviceAccountJson: { type: 'service_account', private_key: SECRETS.fcm } }),
      await post('apns', { teamId: 'TEAM123456', keyId: 'KEY1234567', privateKey: SECRETS.apnsKey }),
      await post('apns', { credentialId: 'apns-cert', version: 3, pem: SECRETS.apnsPem, p12: SECRETS.apnsP12, p12Password: SECRETS.apnsP12Password }),
      await post('webpush', { publicKey: 'BPublicVapidKey', privateKey: SECRETS.webPush, appId: 'ignored' }),
      await post('hms', { hmsAppId: '10493117', clientSecret: SECRETS.hms, version: 2 }),
      await post('wns', { credentialId: 'wns-prod', packageSid: 'ms-app://s-1-15-2-1', clientSecret: SECRETS.wns }),
    ];
    for (const res of created) assert.equal(res.status, 201, JSON.stringify(res.body));
    const rows: Row[] = [
      { app_id: 'app-id', credential_id: 'fcm', provider: 'fcm', version: 1 },
      { app_id: 'app-id', credential_id: 'apns', provider: 'apns', version: 1 },
      { app_id: 'app-id', credential_id: 'apns-cert', provider: 'apns', version: 3 },
      { app_id: 'app-id', credential_id: 'webpush', provider: 'webPush', version: 1 },
      { app_id: 'app-id', credential_id: 'hms', provider: 'hms', version: 2 },
      { app_id: 'app-id', credential_id: 'wns-prod', provider: 'wns', version: 1 },
    ];
    assert.deepEqual(
      created.map((r) => r.body),
      rows,
    );
    const all = await list();
    assert.equal(all.status, 200);
    assert.deepEqual(all.body, { items: [...rows].sort((a, b) => (a.credential_id < b.credential_id ? -1 : 1)), next_cursor: null, has_more: false });
  });

  test('re-posting a credentialId replaces it (no history is kept)', async () => {
    const before = (await list()).body.items as Row[];
    const res = await post('fcm', { serviceAccountJson: { type: 'service_account', private_key: SECRETS.fcm, rotated: true }, version: 2 });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { app_id: 'app-id', credential_id: 'fcm', provider: 'fcm', version: 2 });
    const items = (await list()).body.items as Row[];
    assert.equal(items.length, before.length);
    assert.deepEqual(items.filter((r) => r.credential_id === 'fcm'), [res.body]);
    // Another provider under an id in use replaces it too, as Sockudo's store keys by (app, credentialId) only.
    const moved = await post('hms', { credentialId: 'apns-cert', hmsAppId: '1', clientSecret: SECRETS.hms });
    assert.equal(moved.status, 201);
    assert.deepEqual(((await list()).body.items as Row[]).find((r) => r.credential_id === 'apns-cert'), { app_id: 'app-id', credential_id: 'apns-cert', provider: 'hms', version: 1 });
  });

  test('GET pages with limit and cursor, in credentialId order', async () => {
    const everything = ((await list()).body.items as Row[]).map((r) => r.credential_id);
    assert.ok(everything.length >= 5);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 10, 'paging does not end');
      const page = await list({ limit: '2', ...(cursor ? { cursor } : {}) });
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((r: Row) => r.credential_id));
      assert.equal(page.body.has_more, page.body.next_cursor !== null);
      if (!page.body.has_more) break;
      cursor = page.body.next_cursor;
    }
    assert.deepEqual(seen, everything);
    assert.deepEqual(seen, [...seen].sort());
    const bad = await list({ limit: '0' });
    assert.equal(bad.status, 400);
  });

  test("refusals are 400s with Sockudo's texts (its store's validation answers 500), and store nothing", async () => {
    const before = (await list()).body.items;
    const refused = async (provider: string, body: unknown) => {
      const res = await post(provider, body);
      assert.equal(res.status, 400, `${provider} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      return res.body.error as string;
    };
    assert.equal(await refused('webpush', { publicKey: 'k', privateKey: '  ' }), 'secret must not be empty');
    assert.equal(await refused('hms', { hmsAppId: 'a', clientSecret: '' }), 'secret must not be empty');
    assert.equal(await refused('apns', { pem: '' }), 'secret must not be empty');
    assert.equal(await refused('fcm', { credentialId: ' ', serviceAccountJson: {} }), 'credentialId must not be empty');
    assert.equal(await refused('fcm', { version: 0, serviceAccountJson: {} }), 'version is invalid: must be greater than zero');
    assert.equal(await refused('webpush', { publicKey: '', privateKey: 'p' }), 'publicKey must not be empty');
    assert.equal(await refused('hms', { hmsAppId: ' ', clientSecret: 's' }), 'hmsAppId must not be empty');
    assert.equal(await refused('wns', { packageSid: '', clientSecret: 's' }), 'packageSid must not be empty');
    assert.equal(await refused('apns', { teamId: 'T', keyId: 'K' }), 'material is invalid: apns requires p12, pem, or token auth material');
    assert.equal(await refused('apns', {}), 'material is invalid: apns requires p12, pem, or token auth material');
    assert.equal(await refused('apns', { teamId: '', keyId: 'K', privateKey: 'p' }), 'teamId must not be empty');
    assert.equal(await refused('apns', { teamId: 'T', keyId: ' ', privateKey: 'p' }), 'keyId must not be empty');
    // Body shapes (Sockudo: "invalid JSON body: …" from its deserializer): named by field here.
    assert.equal(await refused('fcm', {}), 'serviceAccountJson: required');
    assert.equal(await refused('webpush', { publicKey: 'k' }), 'privateKey: required');
    assert.equal(await refused('wns', { packageSid: 's', clientSecret: 5 }), 'clientSecret: expected a string');
    assert.equal(await refused('fcm', { serviceAccountJson: {}, version: -1 }), 'version: expected a non-negative integer');
    assert.equal(await refused('fcm', { serviceAccountJson: {}, credentialId: 7 }), 'credentialId: expected a string');
    assert.equal(await refused('fcm', [{ serviceAccountJson: {} }]), '(body): expected a JSON object');
    const text = await bed.api.post('/credentials/fcm', { serviceAccountJson: {} }, { 'content-type': 'text/plain' });
    assert.equal(text.status, 400);
    assert.equal(text.body.error, 'expected application/json content type');
    assert.equal((await post('gcm', { serviceAccountJson: {} })).status, 404, 'only fcm, apns, webpush, hms and wns');
    assert.deepEqual((await list()).body.items, before);
  });

  test('push-subscribe may neither store nor list credentials (403)', async () => {
    const before = (await list()).body.items;
    const stored = await post('fcm', { credentialId: 'from-a-device', serviceAccountJson: {} }, SUBSCRIBE);
    assert.equal(stored.status, 403);
    assert.equal(stored.body.error, ADMIN_ONLY);
    const listed = await bed.api.get('/credentials', {}, SUBSCRIBE);
    assert.equal(listed.status, 403);
    assert.equal(listed.body.error, ADMIN_ONLY);
    assert.deepEqual((await list()).body.items, before);
  });

  test('no answer carries a secret; the stored documents hold AES-256-GCM envelopes, never the plaintext', async () => {
    const shown = JSON.stringify(answers);
    assert.ok(answers.length > 20);
    for (const [name, value] of Object.entries(SECRETS)) assert.ok(!shown.includes(value), `an answer shows the ${name} secret`);

    const file = bed.server.config.push.storage.sqlite_path;
    const db = new Database(file, { readonly: true, fileMustExist: true });
    let rows: { id: string; body: string }[];
    try {
      rows = db.prepare("SELECT id, body FROM push_documents WHERE app_id = 'app-id' AND kind = 'credential' ORDER BY id").all() as { id: string; body: string }[];
    } finally {
      db.close();
    }
    assert.ok(rows.length >= 5);
    const stored = Object.fromEntries(rows.map((r) => [r.id, JSON.parse(r.body)]));
    for (const [name, value] of Object.entries(SECRETS)) {
      assert.ok(!rows.some((r) => r.body.includes(value)), `the stored ${name} secret is in clear`);
      // Nor anywhere in the database files (the write-ahead log included).
      for (const f of [file, `${file}-wal`]) if (existsSync(f)) assert.ok(!readFileSync(f).includes(value), `${f} holds the ${name} secret in clear`);
    }
    const cipher = new CredentialCipher(KEY);
    const apns = stored.apns;
    assert.deepEqual(Object.keys(apns.material).sort(), ['keyId', 'privateKey', 'teamId']);
    assert.equal(apns.material.teamId, 'TEAM123456', 'the plain fields stay plain');
    assert.match(apns.material.privateKey, /^envelope:v1:aes256gcm:[A-Za-z0-9_-]+$/);
    assert.equal(cipher.decrypt(apns.material.privateKey), SECRETS.apnsKey);
    assert.throws(() => new CredentialCipher('another key').decrypt(apns.material.privateKey), /failed to decrypt/);
    assert.deepEqual(JSON.parse(cipher.decrypt(stored.fcm.material.serviceAccountJson)), { type: 'service_account', private_key: SECRETS.fcm, rotated: true });
    assert.equal(stored.webpush.material.publicKey, 'BPublicVapidKey');
    assert.equal(cipher.decrypt(stored.webpush.material.privateKey), SECRETS.webPush);
    assert.equal(cipher.decrypt(stored['wns-prod'].material.clientSecret), SECRETS.wns);
    // A fresh nonce per secret: the same plaintext twice gives two envelopes.
    assert.notEqual(cipher.encrypt('same'), cipher.encrypt('same'));
  });
});

describe('push credentials without PUSH_CREDENTIAL_ENCRYPTION_KEY', () => {
  const bed = pushBed();

  test(`a credential with a secret is refused: 400 "${NO_KEY}"`, async () => {
    for (const [provider, body] of [
      ['fcm', { serviceAccountJson: { private_key: 'x' } }],
      ['apns', { teamId: 'T', keyId: 'K', privateKey: 'p' }],
      ['webpush', { publicKey: 'k', privateKey: 'p' }],
      ['hms', { hmsAppId: 'a', clientSecret: 's' }],
      ['wns', { packageSid: 'p', clientSecret: 's' }],
    ] as const) {
      const res = await bed.api.post(`/credentials/${provider}`, body);
      assert.equal(res.status, 400, provider);
      assert.equal(res.body.error, NO_KEY, provider);
    }
    // As in Sockudo, a blank secret is named before the missing key.
    assert.equal((await bed.api.post('/credentials/webpush', { publicKey: 'k', privateKey: '' })).body.error, 'secret must not be empty');
    const listed = await bed.api.get('/credentials');
    assert.deepEqual(listed.body, { items: [], next_cursor: null, has_more: false });
  });
});

describe('stored credentials at start', () => {
  let fcm: FcmServer;
  let apns: ApnsServer;
  let storage: string;
  const servers: TestServer[] = [];

  const otherRsaKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const otherEcKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  /** A server on the shared push storage; FCM and APNs configured with credentials their servers refuse. */
  const start = async (env: NodeJS.ProcessEnv) => {
    const server = await startTestServer(
      {
        push: {
          storage: { sqlite_path: storage },
          webpush: { enabled: false },
          fcm: { enabled: true, service_account_json: JSON.stringify({ ...fcm.serviceAccount, private_key: otherRsaKey() }), endpoint: fcm.url },
          apns: { enabled: true, team_id: apns.teamId, key_id: 'WRONGKEYID', private_key: otherEcKey(), topic: apns.topic, endpoint: apns.url },
          retry: { max_attempts: 2, initial_backoff_ms: 50, max_backoff_ms: 100, jitter_ratio_percent: 0 },
        },
      },
      env,
    );
    servers.push(server);
    return server;
  };

  before(async () => {
    [fcm, apns] = await Promise.all([startFcmServer(), startApnsServer()]);
    storage = join(mkdtempSync(join(tmpdir(), 'sockudo-push-credentials-')), 'push.sqlite');
    // Stored through the API on one server (no provider of its own), then that server stops.
    const first = await startTestServer({ push: { storage: { sqlite_path: storage }, credential_encryption_key: KEY } });
    const api = pushClient(first.port);
    try {
      for (const [provider, body] of [
        ['fcm', { serviceAccountJson: fcm.serviceAccount }],
        ['fcm', { credentialId: 'fcm-as-text', serviceAccountJson: JSON.stringify(fcm.serviceAccount) }],
        ['apns', { teamId: apns.teamId, keyId: apns.keyId, privateKey: apns.privateKeyPem }],
        ['apns', { credentialId: 'apns-cert', pem: '-----BEGIN CERTIFICATE-----\n…' }],
        ['webpush', { credentialId: 'not-fcm', publicKey: 'k', privateKey: 'p' }],
      ] as const) {
        const res = await api.post(`/credentials/${provider}`, body);
        assert.equal(res.status, 201, JSON.stringify(res.body));
      }
    } finally {
      await first.shutdown();
    }
  });

  after(async () => {
    for (const s of servers) await s.shutdown();
    await Promise.all([fcm.close(), apns.close()]);
  });

  test('PUSH_FCM_APP_ID / PUSH_APNS_APP_ID: the stored service account and token key are used, not the configured ones', async () => {
    const server = await start({ PUSH_FCM_APP_ID: 'app-id', PUSH_APNS_APP_ID: 'app-id', PUSH_CREDENTIAL_ENCRYPTION_KEY: KEY });
    const api = pushClient(server.port);
    await registerDevice(api, 'stored-android', { transportType: 'gcm', registrationToken: 'stored-fcm-token' });
    await registerDevice(api, 'stored-ios', { transportType: 'apns', deviceToken: 'e'.repeat(64) });
    const res = await api.post('/publish', {
      recipients: [
        { type: 'device', device_id: 'stored-android' },
        { type: 'device', device_id: 'stored-ios' },
      ],
      payload: { title: 'From the stored credentials', body: 'b' },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const status = await finalStatus(api, res.body.publishId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status));
    assert.deepEqual(fcm.received.map((d) => [d.deviceId, d.payload.notification?.title]), [['stored-fcm-token', 'From the stored credentials']]);
    assert.deepEqual(apns.received.map((d) => d.deviceId), ['e'.repeat(64)]);
    assert.equal(fcm.stats.badAuth + apns.stats.badAuth, 0, 'the configured (refused) credentials were never tried');
  });

  test("a service account posted as the JSON file's text (a JSON string) is read too", async () => {
    const server = await start({ PUSH_FCM_APP_ID: 'app-id', PUSH_FCM_CREDENTIAL_ID: 'fcm-as-text', PUSH_CREDENTIAL_ENCRYPTION_KEY: KEY });
    const api = pushClient(server.port);
    const before = fcm.received.length;
    const res = await api.post('/publish', { recipients: [{ type: 'recipient', recipient: { transportType: 'gcm', registrationToken: 'text-fcm-token' } }], payload: { title: 't', body: 'b' } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal((await finalStatus(api, res.body.publishId)).state, 'succeeded');
    assert.deepEqual(fcm.received.slice(before).map((d) => d.deviceId), ['text-fcm-token']);
  });

  test('a missing, undecryptable, mismatched or certificate-only stored credential stops start-up naming the variables', async () => {
    const refusal = async (env: NodeJS.ProcessEnv) => {
      const err = await start(env).then(
        () => null,
        (e: Error) => e,
      );
      assert.ok(err, `started with ${JSON.stringify(env)}`);
      assert.ok(err instanceof ConfigError, err.stack);
      return err.message;
    };
    const withKey = { PUSH_CREDENTIAL_ENCRYPTION_KEY: KEY };
    assert.match(await refusal({ ...withKey, FCM_APP_ID: 'app-id', FCM_CREDENTIAL_ID: 'nope' }), /FCM_APP_ID \/ PUSH_FCM_APP_ID.*no stored credential "nope" for app "app-id"/);
    assert.match(await refusal({ ...withKey, PUSH_FCM_APP_ID: 'other-app' }), /FCM_APP_ID \/ PUSH_FCM_APP_ID.*no stored credential "fcm" for app "other-app"/);
    assert.match(await refusal({ PUSH_FCM_APP_ID: 'app-id' }), /FCM_APP_ID \/ PUSH_FCM_APP_ID.*PUSH_CREDENTIAL_ENCRYPTION_KEY.*is not/);
    assert.match(await refusal({ PUSH_FCM_APP_ID: 'app-id', PUSH_CREDENTIAL_ENCRYPTION_KEY: 'not the key' }), /FCM_APP_ID \/ PUSH_FCM_APP_ID.*cannot decrypt serviceAccountJson.*PUSH_CREDENTIAL_ENCRYPTION_KEY must be the key it was stored with/);
    assert.match(await refusal({ ...withKey, PUSH_FCM_APP_ID: 'app-id', PUSH_FCM_CREDENTIAL_ID: 'not-fcm' }), /FCM_APP_ID \/ PUSH_FCM_APP_ID.*is a webPush credential, not fcm/);
    assert.match(await refusal({ ...withKey, APNS_APP_ID: 'app-id', APNS_CREDENTIAL_ID: 'apns-cert' }), /APNS_APP_ID \/ PUSH_APNS_APP_ID.*certificate material \(pem \/ p12\) only/);
  });
});
