// Push under provider faults and restarts: 429 with Retry-After, 503 until dead-lettered (and replay), 410
// and FCM UNREGISTERED (device marked and unsubscribed), a provider that is down, expiry, cancellation,
// the acceptance rate limit, no providers at all, and a server restart (graceful and SIGKILL) in the middle
// of a fan-out. Every case ends in its documented state and no device receives a publish twice.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type PushClient, finalStatus, pushBed, pushClient, pushConfig, registerDevice } from '../helpers/pushClient.ts';
import { type ApnsServer, type FcmServer, type WebPushService, startApnsServer, startFcmServer, startWebPushService } from '../helpers/pushProviders.ts';
import { freePort } from '../helpers/ports.ts';
import { type TestServer, eventually, startTestServer } from '../helpers/server.ts';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import { startServer } from '../../src/primary/server.ts';
import { serverStartArgs } from '../../bench/startCommand.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

function webRecipient(web: WebPushService) {
  const sub = web.newSubscription();
  return { recipient: { transportType: 'web', endpoint: sub.endpoint, ...sub.keys }, id: sub.endpoint.split('/').pop() as string };
}

describe('push faults', () => {
  const bed = pushBed();

  test('429 with Retry-After: the retry waits as told, then succeeds; one message in all', async () => {
    const d = webRecipient(bed.web);
    await registerDevice(bed.api, 'throttled', d.recipient);
    const attempts: number[] = [];
    bed.web.override(({ deviceId, attempt }) => {
      if (deviceId !== d.id) return undefined;
      attempts.push(Date.now());
      return attempt === 1 ? { status: 429, headers: { 'retry-after': '1' }, body: 'slow down' } : undefined;
    });
    const res = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'throttled' }], payload: { title: 't' } });
    const status = await finalStatus(bed.api, res.body.publishId);
    bed.web.override(undefined);
    assert.equal(status.state, 'succeeded');
    assert.equal(status.counters.retryAttempted, 1);
    assert.equal(attempts.length, 2);
    assert.ok(attempts[1] - attempts[0] >= 950, `the retry came ${attempts[1] - attempts[0]} ms later; Retry-After said 1 s`);
    assert.equal(bed.web.received.filter((r) => r.deviceId === d.id).length, 1);
  });

  test('503 on every attempt: dead-lettered after max_attempts, listed, and a replay delivers it once', async () => {
    await registerDevice(bed.api, 'flaky', { transportType: 'gcm', registrationToken: 'flaky-token' });
    bed.fcm.override(({ deviceId }) => (deviceId === 'flaky-token' ? { status: 503, body: '{"error":{"code":503,"status":"UNAVAILABLE"}}' } : undefined));
    const res = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'flaky' }], payload: { title: 'f' } });
    const status = await finalStatus(bed.api, res.body.publishId);
    assert.equal(status.state, 'dead_lettered');
    assert.equal(status.counters.deadLettered, 1);
    assert.equal(status.counters.retryAttempted, 2, 'three attempts in all (max_attempts 3)');
    const dead = await bed.api.get('/deadLetters', { provider: 'fcm' });
    const letter = dead.body.items.find((l: { publishId: string }) => l.publishId === res.body.publishId);
    assert.ok(letter, 'the delivery is listed as a dead letter');
    assert.equal(letter.attempts, 3);
    assert.match(letter.lastError, /503/);

    bed.fcm.override(undefined);
    const replay = await bed.api.post(`/deadLetters/${letter.id}/replay`, {});
    assert.equal(replay.status, 202);
    const after = await finalStatus(bed.api, res.body.publishId);
    assert.equal(after.state, 'succeeded');
    assert.equal(bed.fcm.received.filter((r) => r.deviceId === 'flaky-token').length, 1);
  });

  test('410 from Web Push and APNs, UNREGISTERED from FCM: the device is marked FAILED, leaves its channels, and is not retried', async () => {
    const d = webRecipient(bed.web);
    await registerDevice(bed.api, 'gone-web', d.recipient, ['alerts']);
    await registerDevice(bed.api, 'gone-fcm', { transportType: 'gcm', registrationToken: 'gone-token' }, ['alerts']);
    await registerDevice(bed.api, 'gone-ios', { transportType: 'apns', deviceToken: 'c'.repeat(64) }, ['alerts']);
    await registerDevice(bed.api, 'alive', { transportType: 'gcm', registrationToken: 'alive-token' }, ['alerts']);
    bed.web.unregister(d.id);
    bed.fcm.unregister('gone-token');
    bed.apns.unregister('c'.repeat(64));
    const requestsBefore = bed.web.requests;
    const res = await bed.api.post('/publish', { recipients: [{ type: 'channel', channel: 'alerts' }], payload: { title: 'a' } });
    const status = await finalStatus(bed.api, res.body.publishId);
    assert.equal(status.state, 'partiallySucceeded');
    assert.equal(status.counters.succeeded, 1);
    assert.equal(status.counters.failed, 3);
    assert.equal(status.counters.retryAttempted, 0, 'an invalid token is not retried');
    assert.equal(bed.web.requests - requestsBefore, 1);
    for (const id of ['gone-web', 'gone-fcm', 'gone-ios']) {
      const device = await bed.api.get(`/deviceRegistrations/${id}`);
      assert.equal(device.body.pushState, 'FAILED');
    }
    const subs = await bed.api.get('/channelSubscriptions', { channel: 'alerts' });
    assert.deepEqual(subs.body.items.map((s: { deviceId: string }) => s.deviceId), ['alive']);
    const next = await bed.api.post('/publish', { recipients: [{ type: 'channel', channel: 'alerts' }], payload: { title: 'b' } });
    assert.equal(next.body.expectedRecipients, 1);
  });

  test('a provider that is down: network errors are retried, then dead-lettered', async () => {
    const closedPort = await freePort(); // nothing listens there
    const res = await bed.api.post('/publish', {
      recipients: [{ type: 'recipient', recipient: { transportType: 'web', endpoint: `http://127.0.0.1:${closedPort}/wp/x`, ...bed.web.newSubscription().keys } }],
      payload: { title: 'nobody home' },
    });
    const status = await finalStatus(bed.api, res.body.publishId);
    assert.equal(status.state, 'dead_lettered');
    const dead = await bed.api.get('/deadLetters');
    const letter = dead.body.items.find((l: { publishId: string }) => l.publishId === res.body.publishId);
    assert.match(letter.lastError, /ECONNREFUSED/);
  });

  test('expiry: a delivery still failing when expiresAtMs passes ends expired', async () => {
    await registerDevice(bed.api, 'late', { transportType: 'apns', deviceToken: 'b'.repeat(64) });
    bed.apns.override(({ deviceId }) => (deviceId === 'b'.repeat(64) ? { status: 503, headers: { 'retry-after': '5' }, body: '{"reason":"ServiceUnavailable"}' } : undefined));
    const res = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'late' }], payload: { title: 'l' }, expiresAtMs: Date.now() + 1000 });
    const status = await finalStatus(bed.api, res.body.publishId);
    bed.apns.override(undefined);
    assert.equal(status.state, 'expired');
    assert.equal(status.counters.expired, 1);
  });

  test('a scheduled publish can be cancelled before it is sent', async () => {
    await registerDevice(bed.api, 'later', { transportType: 'gcm', registrationToken: 'later-token' });
    const res = await bed.api.post('/publish', { recipients: [{ type: 'device', device_id: 'later' }], payload: { title: 'later' }, notBeforeMs: Date.now() + 60_000 });
    assert.equal((await bed.api.get(`/publish/${res.body.publishId}/status`)).body.state, 'queued');
    assert.equal((await bed.api.del(`/scheduled/${res.body.publishId}`)).status, 204);
    assert.equal((await bed.api.get(`/publish/${res.body.publishId}/status`)).body.state, 'cancelled');
    assert.equal((await bed.api.del(`/scheduled/${res.body.publishId}`)).status, 404);
    assert.equal(bed.fcm.received.filter((r) => r.deviceId === 'later-token').length, 0);
  });
});

describe('push admission limits', () => {
  test('over acceptance_rps: 429 with Retry-After; with no provider configured: 503', async () => {
    const server = await startTestServer({ push: { acceptance_rps: 3 } });
    try {
      const api = pushClient(server.port);
      const body = { recipients: [{ type: 'channel', channel: 'nobody' }], payload: { title: 'x' } };
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await api.post('/publish', body));
      assert.deepEqual(answers.map((a) => a.status), [202, 202, 202, 429]);
      assert.equal(answers[3].body.error, 'push.acceptance_rate_limit exceeded');
      assert.ok(Number(answers[3].headers.get('retry-after')) >= 1);
      // A publish that reaches no device finishes at once.
      assert.equal((await finalStatus(api, answers[0].body.publishId)).state, 'succeeded');
    } finally {
      await server.shutdown();
    }
    const none = await startTestServer({ push: { webpush: { enabled: false } } });
    try {
      const res = await pushClient(none.port).post('/publish', { recipients: [{ type: 'channel', channel: 'x' }], payload: {} });
      assert.equal(res.status, 503);
      assert.deepEqual(res.body, { error: 'push admission unavailable: push providers are disabled', code: 'service_unavailable', status: 503 });
    } finally {
      await none.shutdown();
    }
  });
});

describe('push to a provider that is not configured', () => {
  test('its deliveries fail with a message naming the provider; the others go out', async () => {
    const web = await startWebPushService();
    const server = await startTestServer({});
    try {
      const api = pushClient(server.port);
      const sub = web.newSubscription();
      await registerDevice(api, 'w', { transportType: 'web', endpoint: sub.endpoint, ...sub.keys }, ['mixed']);
      await registerDevice(api, 'i', { transportType: 'apns', deviceToken: 'd'.repeat(64) }, ['mixed']);
      const res = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'mixed' }], payload: { title: 'm' }, sync: true });
      assert.equal(res.body.state, 'partiallySucceeded');
      assert.equal(res.body.counters.succeeded, 1);
      assert.equal(res.body.counters.failed, 1);
      assert.match(res.body.errorReason, /1 of 2 deliveries succeeded/);
    } finally {
      await server.shutdown();
      await web.close();
    }
  });
});

describe('push credentials', () => {
  test('never appear in the logs (debug level, failures included) or in API answers', async () => {
    const [web, fcm, apns] = await Promise.all([startWebPushService(), startFcmServer(), startApnsServer()]);
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'sockudo-push-secrets-'));
    const config = loadConfig({
      fileContents: { port: 0, workers: 1, metrics: { enabled: false }, log: { level: 'debug' }, push: { ...pushConfig(web, fcm, apns), storage: { sqlite_path: join(dir, 'push.sqlite') } } },
      env: {},
    });
    const server = await startServer(config, pino({ level: 'debug' }, sink));
    try {
      const api = pushClient(server.port);
      const sub = web.newSubscription();
      await registerDevice(api, 's-web', { transportType: 'web', endpoint: sub.endpoint, ...sub.keys }, ['secrets']);
      await registerDevice(api, 's-fcm', { transportType: 'gcm', registrationToken: 'secret-fcm-token' }, ['secrets']);
      await registerDevice(api, 's-ios', { transportType: 'apns', deviceToken: 'e'.repeat(64) }, ['secrets']);
      fcm.unregister('secret-fcm-token');
      apns.override(() => ({ status: 500, body: '{"reason":"InternalServerError"}' }));
      const res = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'secrets' }], payload: { title: 's' }, sync: true });
      apns.override(undefined);
      const answers = JSON.stringify([res.body, (await api.get('/deviceRegistrations')).body, (await api.get('/deadLetters')).body, (await api.get('/publish/' + res.body.publishId + '/status')).body]);
      const vapid = JSON.parse(readFileSync(join(dir, 'vapid-keys.json'), 'utf8')) as { privateKey: string };
      const secrets = {
        'FCM private key': fcm.serviceAccount.private_key.split('\n')[1],
        'APNs private key': apns.privateKeyPem.split('\n')[1],
        'VAPID private key': vapid.privateKey,
        'device token': 'secret-fcm-token',
        'Web Push auth secret': sub.keys.auth,
      };
      const logs = lines.join('');
      assert.ok(logs.includes('push publish finished'), 'the logs were captured');
      for (const [what, secret] of Object.entries(secrets)) {
        assert.ok(!logs.includes(secret), `${what} is not in the logs`);
        assert.ok(!answers.includes(secret), `${what} is not in API answers`);
      }
    } finally {
      await server.shutdown();
      await Promise.all([web.close(), fcm.close(), apns.close()]);
    }
  });
});

describe('push across restarts', () => {
  let web: WebPushService;
  before(async () => {
    web = await startWebPushService();
  });
  after(async () => web.close());

  async function fanOutTo(api: PushClient, count: number, channel: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const d = webRecipient(web);
      ids.push(d.id);
      await registerDevice(api, `${channel}-${i}`, d.recipient, [channel]);
    }
    return ids;
  }

  test('graceful restart in the middle of a fan-out: the rest is sent after the restart, nothing twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockudo-push-restart-'));
    const push = { storage: { sqlite_path: join(dir, 'push.sqlite') }, concurrency_per_provider: 4 };
    let server = await startTestServer({ push });
    let api = pushClient(server.port);
    const ids = await fanOutTo(api, 40, 'bulk');
    web.delayMs = 100;
    const res = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'bulk' }], payload: { title: 'bulk' } });
    await eventually(() => web.received.filter((r) => ids.includes(r.deviceId)).length >= 8, 'part of the fan-out');
    await server.shutdown();
    const sentBefore = web.received.filter((r) => ids.includes(r.deviceId)).length;
    assert.ok(sentBefore < 40, `the restart came in the middle (${sentBefore} of 40 sent)`);

    server = await startTestServer({ push });
    api = pushClient(server.port);
    try {
      const status = await finalStatus(api, res.body.publishId, 15_000);
      assert.equal(status.state, 'succeeded');
      assert.equal(status.counters.succeeded, 40);
      const got = web.received.filter((r) => ids.includes(r.deviceId)).map((r) => r.deviceId);
      assert.equal(got.length, 40);
      assert.equal(new Set(got).size, 40, 'no device received the publish twice');
    } finally {
      web.delayMs = 0;
      await server.shutdown();
    }
  });

  test('SIGKILL in the middle of a fan-out: after the restart every delivery is settled, none sent twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockudo-push-crash-'));
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ push: { storage: { sqlite_path: join(dir, 'push.sqlite') }, concurrency_per_provider: 4 } }));
    let run = startChild(configFile);
    let api = pushClient(await portOf(run));
    const ids = await fanOutTo(api, 40, 'crash');
    web.delayMs = 100;
    const res = await api.post('/publish', { recipients: [{ type: 'channel', channel: 'crash' }], payload: { title: 'crash' } });
    await eventually(() => web.received.filter((r) => ids.includes(r.deviceId)).length >= 8, 'part of the fan-out');
    run.child.kill('SIGKILL');
    await run.exit;

    run = startChild(configFile);
    api = pushClient(await portOf(run));
    try {
      const status = await finalStatus(api, res.body.publishId, 15_000);
      const got = web.received.filter((r) => ids.includes(r.deviceId)).map((r) => r.deviceId);
      assert.equal(new Set(got).size, got.length, 'no device received the publish twice');
      // Sends cut off by the kill are settled as failed (the provider may or may not have them), never resent.
      assert.equal(status.counters.succeeded + status.counters.failed, 40);
      assert.ok(status.counters.failed <= 4, `at most the in-flight sends (concurrency 4) were cut off: ${status.counters.failed}`);
      assert.ok(got.length >= status.counters.succeeded);
      assert.ok(['succeeded', 'partiallySucceeded'].includes(status.state));
    } finally {
      web.delayMs = 0;
      run.child.kill('SIGTERM');
      await run.exit;
    }
  });
});

interface Child {
  child: ChildProcess;
  stdout: string[];
  exit: Promise<number | null>;
}

function startChild(configFile: string): Child {
  const child = spawn(process.execPath, [...serverStartArgs(ROOT), '--config', configFile], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, SOCKUDO_LOG_PRETTY: 'false', SOCKUDO_PORT: '0', SOCKUDO_METRICS_ENABLED: 'false', SOCKUDO_WORKERS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const run: Child = { child, stdout: [], exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout?.on('data', (d: Buffer) => run.stdout.push(d.toString()));
  return run;
}

async function portOf(run: Child): Promise<number> {
  const line = await eventually(() => run.stdout.join('').split('\n').find((l) => l.includes('sockudo-ts listening')), 'the server to listen', 15_000);
  return (JSON.parse(line) as { port: number }).port;
}
