// Push decisions without I/O: retry timing, terminal states, provider payloads, Retry-After parsing, how FCM
// answers are read, and the provider circuit breaker.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffMs, outcomeOf } from '../../src/push/retryPolicy.ts';
import { finalState } from '../../src/push/scheduler.ts';
import { oversized, render, webPushTopic } from '../../src/push/render.ts';
import { retryAfterMs } from '../../src/push/providers/provider.ts';
import { classify as classifyFcm } from '../../src/push/providers/fcm.ts';
import { CircuitBreaker } from '../../src/push/circuitBreaker.ts';
import type { PublishIntent } from '../../src/push/types.ts';

const retry = { max_attempts: 5, initial_backoff_ms: 1000, max_backoff_ms: 60_000, jitter_ratio_percent: 20 };

describe('retry policy', () => {
  test('backoff doubles from initial_backoff_ms, is capped, and stays within ±jitter', () => {
    assert.equal(backoffMs(1, retry, () => 0.5), 1000);
    assert.equal(backoffMs(3, retry, () => 0.5), 4000);
    assert.equal(backoffMs(10, retry, () => 0.5), 60_000);
    assert.equal(backoffMs(1, retry, () => 0), 800);
    assert.equal(backoffMs(1, retry, () => 0.999999), 1200);
  });

  test("a provider's Retry-After wins over the backoff; the last attempt goes to the dead letters", () => {
    assert.deepEqual(outcomeOf({ kind: 'retry', error: '429', retryAfterMs: 7000 }, 1, retry, 1000), { kind: 'retry', nextAtMs: 8000, error: '429' });
    assert.equal(outcomeOf({ kind: 'retry', error: '503' }, 2, retry, 0, () => 0.5).kind, 'retry');
    assert.equal((outcomeOf({ kind: 'retry', error: '503' }, 2, retry, 0, () => 0.5) as { nextAtMs: number }).nextAtMs, 2000);
    assert.equal(outcomeOf({ kind: 'retry', error: '503' }, 5, retry, 0).kind, 'dead');
    assert.deepEqual(outcomeOf({ kind: 'invalidToken', error: '410' }, 1, retry, 0), { kind: 'failed', error: 'invalid token: 410' });
    assert.deepEqual(outcomeOf({ kind: 'ok' }, 3, retry, 0), { kind: 'succeeded' });
  });

  test('Retry-After in seconds or as an HTTP date', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4000), 6000);
    assert.equal(retryAfterMs('soon'), undefined);
    assert.equal(retryAfterMs(undefined), undefined);
  });
});

describe('terminal states', () => {
  test('from the counts of finished deliveries', () => {
    assert.equal(finalState({}).state, 'succeeded');
    assert.equal(finalState({ succeeded: 3 }).state, 'succeeded');
    assert.equal(finalState({ succeeded: 1, failed: 1 }).state, 'partiallySucceeded');
    assert.equal(finalState({ dead: 1, failed: 1 }).state, 'dead_lettered');
    assert.equal(finalState({ failed: 2 }).state, 'failed');
    assert.equal(finalState({ expired: 2 }).state, 'expired');
    assert.equal(finalState({ cancelled: 2 }).state, 'cancelled');
    assert.match(finalState({ succeeded: 1, dead: 1 }).reason ?? '', /1 of 2 deliveries succeeded/);
  });
});

describe('rendering', () => {
  const intent = (payload: PublishIntent['payload'], overrides: PublishIntent['overrides'] = {}): PublishIntent => ({ recipients: [], payload, overrides, notBeforeMs: 0, expiresAtMs: 0 });

  test("each provider's shape; FCM data values become strings; overrides are merged on top", () => {
    const r = render(intent({ title: 'T', body: 'B', sound: 'ding', collapseKey: 'k', data: { order_id: 'o1', total: 42 } }, { apns: { aps: { badge: 1 } } }));
    assert.deepEqual(r.fcm, { notification: { title: 'T', body: 'B' }, data: { order_id: 'o1', total: '42' }, android: { collapse_key: 'k', notification: { sound: 'ding' } } });
    assert.deepEqual(r.apns, { aps: { badge: 1 }, data: { order_id: 'o1', total: 42 } });
    assert.deepEqual(r.webPush, { notification: { title: 'T', body: 'B', sound: 'ding', tag: 'k' }, data: { order_id: 'o1', total: 42 } });
    // HMS: Push Kit's types (data as JSON text; collapse_key only as an integer from -1 to 100). WNS: Sockudo's toast.
    assert.deepEqual(r.hms, { notification: { title: 'T', body: 'B' }, data: '{"order_id":"o1","total":42}', android: { notification: { click_action: { type: 3 }, sound: 'ding' } } });
    assert.deepEqual(render(intent({ collapseKey: '5' })).hms, { android: { collapse_key: 5, notification: { click_action: { type: 3 } } } });
    assert.deepEqual(render(intent({ collapseKey: '101' })).hms, { android: { notification: { click_action: { type: 3 } } } });
    assert.deepEqual(r.wns, { type: 'toast', toast: { visual: { binding: { template: 'ToastGeneric', text: ['T', 'B'] } }, audio: { src: 'ding' } }, data: { order_id: 'o1', total: 42 } });
    assert.deepEqual(render(intent({ title: 'T' }, { wns: { type: 'raw' }, hms: { android: { urgency: 'HIGH' } } })).wns.type, 'raw');
    assert.deepEqual(oversized(r), []);
    assert.deepEqual(oversized(render(intent({ body: 'x'.repeat(4090) }))), ['webPush', 'fcm', 'apns', 'hms'], 'WNS allows 5000 bytes');
  });

  test('Web Push topics are at most 32 URL-safe characters', () => {
    assert.equal(webPushTopic('greeting'), 'greeting');
    assert.equal(webPushTopic(undefined), undefined);
    const hashed = webPushTopic('order updates: #124 (long name)') as string;
    assert.match(hashed, /^[A-Za-z0-9_-]{32}$/);
  });
});

describe('FCM answers', () => {
  const fcmError = (code: number, status: string, message: string, errorCode?: string) =>
    JSON.stringify({ error: { code, status, message, ...(errorCode ? { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] } : {}) } });

  test('only a token error code invalidates the device; a bare 404, 401 or 403 is a credential/config failure', () => {
    assert.equal(classifyFcm(200, '{"name":"projects/p/messages/1"}', undefined).kind, 'ok');
    assert.equal(classifyFcm(404, fcmError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED'), undefined).kind, 'invalidToken');
    assert.equal(classifyFcm(400, fcmError(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT'), undefined).kind, 'invalidToken');
    assert.equal(classifyFcm(404, '<html>404 Not Found</html>', undefined).kind, 'failed');
    assert.equal(classifyFcm(404, fcmError(404, 'NOT_FOUND', 'Method not found.'), undefined).kind, 'failed');
    assert.equal(classifyFcm(403, fcmError(403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH'), undefined).kind, 'failed');
    assert.equal(classifyFcm(401, fcmError(401, 'UNAUTHENTICATED', 'bad token'), undefined).kind, 'failed');
    assert.equal(classifyFcm(400, fcmError(400, 'INVALID_ARGUMENT', 'Invalid value at message.data', 'INVALID_ARGUMENT'), undefined).kind, 'failed');
  });

  test('429 and 5xx are retried, with the Retry-After', () => {
    assert.deepEqual(classifyFcm(429, fcmError(429, 'RESOURCE_EXHAUSTED', 'quota', 'QUOTA_EXCEEDED'), 2000), { kind: 'retry', error: '429 throttled: QUOTA_EXCEEDED quota', retryAfterMs: 2000 });
    assert.equal(classifyFcm(503, fcmError(503, 'UNAVAILABLE', 'down'), undefined).kind, 'retry');
    assert.equal(classifyFcm(500, 'oops', undefined).kind, 'retry');
  });
});

describe('circuit breaker', () => {
  const config = { enabled: true, failure_threshold: 3, cooldown_secs: 10, half_open_max_inflight: 2 };

  test('opens after failure_threshold failures in a row; any answer in between resets the count', () => {
    const states: string[] = [];
    const b = new CircuitBreaker(config, (s) => states.push(s));
    b.record('failure', 0);
    b.record('failure', 0);
    b.record('answered', 0);
    b.record('failure', 0);
    b.record('failure', 0);
    assert.equal(b.state, 'closed');
    assert.equal(b.allowance(0, 50), Number.POSITIVE_INFINITY);
    b.record('failure', 100);
    assert.equal(b.state, 'open');
    assert.equal(b.reopensAt(), 10_100);
    assert.equal(b.allowance(10_099, 0), 0);
    b.record('failure', 200); // answers of requests sent before it opened change nothing
    assert.equal(b.reopensAt(), 10_100);
    assert.deepEqual(states, ['open']);
  });

  test('after the cooldown: half open with at most half_open_max_inflight; the first answer closes it, a failure reopens it', () => {
    const b = new CircuitBreaker(config);
    for (let i = 0; i < 3; i++) b.record('failure', 0);
    assert.equal(b.allowance(10_000, 0), 2);
    assert.equal(b.state, 'halfOpen');
    assert.equal(b.allowance(10_000, 1), 1);
    assert.equal(b.allowance(10_000, 2), 0);
    b.record('failure', 10_050);
    assert.equal(b.state, 'open');
    assert.equal(b.allowance(20_049, 0), 0);
    assert.equal(b.allowance(20_050, 0), 2);
    b.record('answered', 20_060);
    assert.equal(b.state, 'closed');
    assert.equal(b.allowance(20_060, 100), Number.POSITIVE_INFINITY);
    b.record('failure', 20_070);
    b.record('failure', 20_070);
    assert.equal(b.state, 'closed', 'the count started again from zero');
  });
});
