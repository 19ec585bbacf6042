// Counters shared across worker threads through a SharedArrayBuffer: connection quotas and metric counters.
// Each "thread" here is its own view object over the same buffer, as each real worker builds one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectionQuota } from '../../src/apps/connectionQuota.ts';
import { CHANNEL_TYPES, ERROR_TYPES, FIELD, LATENCY_BUCKETS_MS, LATENCY_SERIES_SLOTS, RECIPIENT_BUCKETS, WorkerCounters, latencySeries } from '../../src/metrics/workerCounters.ts';

describe('ConnectionQuota', () => {
  test('allocate: one Int32 for the host plus one per app, all zero', () => {
    const buf = ConnectionQuota.allocate(3);
    assert.ok(buf instanceof SharedArrayBuffer);
    assert.equal(buf.byteLength, 4 * 4);
    const q = new ConnectionQuota(buf);
    assert.equal(q.total(), 0);
    for (let i = 0; i < 3; i++) assert.equal(q.appConnections(i), 0);
  });

  test('unlimited (0) limits always accept and count per app and in total', () => {
    const q = new ConnectionQuota(ConnectionQuota.allocate(2));
    for (let i = 0; i < 5; i++) assert.equal(q.acquire(0, 0, 0), 'ok');
    for (let i = 0; i < 3; i++) assert.equal(q.acquire(1, 0, 0), 'ok');
    assert.equal(q.appConnections(0), 5);
    assert.equal(q.appConnections(1), 3);
    assert.equal(q.total(), 8);
  });

  test('app limit: the limit-th connection is accepted, the next refused with "app" and not counted', () => {
    const q = new ConnectionQuota(ConnectionQuota.allocate(2));
    assert.equal(q.acquire(0, 2, 0), 'ok');
    assert.equal(q.acquire(0, 2, 0), 'ok');
    assert.equal(q.acquire(0, 2, 0), 'app');
    assert.equal(q.acquire(0, 2, 0), 'app');
    assert.equal(q.appConnections(0), 2);
    assert.equal(q.total(), 2, 'a refused connection does not hold a host place');
    // another app is not affected by app 0's limit
    assert.equal(q.acquire(1, 2, 0), 'ok');
    assert.equal(q.appConnections(1), 1);
  });

  test('host limit applies across apps and is reported as "host"', () => {
    const q = new ConnectionQuota(ConnectionQuota.allocate(2));
    assert.equal(q.acquire(0, 0, 3), 'ok');
    assert.equal(q.acquire(1, 0, 3), 'ok');
    assert.equal(q.acquire(1, 0, 3), 'ok');
    assert.equal(q.acquire(0, 0, 3), 'host');
    assert.equal(q.acquire(1, 0, 3), 'host');
    assert.equal(q.total(), 3);
    assert.equal(q.appConnections(0), 1);
    assert.equal(q.appConnections(1), 2);
  });

  test('when both limits are reached the host limit is reported', () => {
    const q = new ConnectionQuota(ConnectionQuota.allocate(1));
    assert.equal(q.acquire(0, 1, 1), 'ok');
    assert.equal(q.acquire(0, 1, 1), 'host');
    assert.equal(q.total(), 1);
    assert.equal(q.appConnections(0), 1);
  });

  test('release frees a place for the next connection', () => {
    const q = new ConnectionQuota(ConnectionQuota.allocate(1));
    assert.equal(q.acquire(0, 1, 0), 'ok');
    assert.equal(q.acquire(0, 1, 0), 'app');
    q.release(0);
    assert.equal(q.appConnections(0), 0);
    assert.equal(q.total(), 0);
    assert.equal(q.acquire(0, 1, 0), 'ok');
    assert.equal(q.total(), 1);
  });

  test('views over the same buffer (one per worker thread) share the counts and the limits', () => {
    const buf = ConnectionQuota.allocate(2);
    const worker1 = new ConnectionQuota(buf);
    const worker2 = new ConnectionQuota(buf);
    assert.equal(worker1.acquire(0, 2, 0), 'ok');
    assert.equal(worker2.acquire(0, 2, 0), 'ok');
    assert.equal(worker2.acquire(0, 2, 0), 'app', "worker 2 sees worker 1's connection");
    assert.equal(worker1.acquire(0, 2, 0), 'app');
    assert.equal(new ConnectionQuota(buf).appConnections(0), 2, 'the primary reads the same numbers');
    worker1.release(0);
    assert.equal(worker2.acquire(0, 2, 0), 'ok', "worker 1's release frees a place for worker 2");
    assert.equal(worker2.total(), 2);
  });

  test('uses a real Int32Array over the buffer (the primary can read it with Atomics)', () => {
    const buf = ConnectionQuota.allocate(2);
    const q = new ConnectionQuota(buf);
    q.acquire(1, 0, 0);
    q.acquire(1, 0, 0);
    q.acquire(0, 0, 0);
    const raw = new Int32Array(buf);
    assert.deepEqual([...raw], [3, 1, 2]);
    assert.equal(Atomics.load(raw, 2), 2);
  });

  test('many acquire/release pairs leave the counts at zero', () => {
    const buf = ConnectionQuota.allocate(3);
    const views = [new ConnectionQuota(buf), new ConnectionQuota(buf), new ConnectionQuota(buf)];
    let held = 0;
    const heldPerApp = [0, 0, 0];
    for (let i = 0; i < 300; i++) {
      const app = i % 3;
      if (views[i % 3].acquire(app, 50, 120) === 'ok') {
        held++;
        heldPerApp[app]++;
      }
    }
    assert.equal(views[0].total(), held);
    assert.equal(held, 120);
    for (let app = 0; app < 3; app++) {
      assert.equal(views[1].appConnections(app), heldPerApp[app]);
      for (let k = 0; k < heldPerApp[app]; k++) views[(app + k) % 3].release(app);
    }
    assert.equal(views[2].total(), 0);
    for (let app = 0; app < 3; app++) assert.equal(views[2].appConnections(app), 0);
  });
});

describe('WorkerCounters', () => {
  const fields: number[] = [
    FIELD.newConnections,
    FIELD.disconnections,
    FIELD.wsMessagesReceived,
    FIELD.wsMessagesSent,
    FIELD.socketBytesReceived,
    FIELD.socketBytesSent,
    FIELD.clientEventRateChecks,
    FIELD.clientEventRateLimited,
    ...CHANNEL_TYPES.map((_, i) => FIELD.subscriptions + i),
    ...CHANNEL_TYPES.map((_, i) => FIELD.unsubscriptions + i),
    ...ERROR_TYPES.map((_, i) => FIELD.errors + i),
    FIELD.filterSuppressed,
    FIELD.echoSuppressed,
    FIELD.apiRateChecks,
    FIELD.apiRateRefused,
    FIELD.httpCalls,
    FIELD.httpBytesReceived,
    FIELD.httpBytesSent,
    FIELD.publishesHeld,
    ...Array.from({ length: CHANNEL_TYPES.length * RECIPIENT_BUCKETS.length * LATENCY_SERIES_SLOTS }, (_, i) => FIELD.latency + i),
  ];

  test('field layout: every field slot is distinct', () => {
    assert.deepEqual([...CHANNEL_TYPES], ['public', 'private', 'private_encrypted', 'presence', 'cache']);
    assert.equal(new Set(fields).size, fields.length);
    assert.equal(fields.length, 16 + 2 * CHANNEL_TYPES.length + ERROR_TYPES.length + CHANNEL_TYPES.length * RECIPIENT_BUCKETS.length * (LATENCY_BUCKETS_MS.length + 3));
    assert.equal(Math.max(...fields), fields.length - 1);
  });

  test('allocate: 8 bytes per worker × (apps + the unknown-app row) × field, all zero', () => {
    const buf = WorkerCounters.allocate(2, 3);
    assert.ok(buf instanceof SharedArrayBuffer);
    assert.equal(buf.byteLength, 8 * 2 * 4 * fields.length);
    const c = new WorkerCounters(buf, 2, 3, 0);
    for (let app = 0; app < 4; app++) for (const f of fields) assert.equal(c.sum(app, f), 0);
  });

  // Sockudo's sockudo_broadcast_latency_ms: buckets 0.5 … 5000 ms; recipient_count_bucket xs 1-10, sm 11-100,
  // md 101-1000, lg 1001-10000, xl above (SOCKUDO-REFERENCE §7.2; Sockudo's interface.rs track_broadcast_latency).
  test('observeLatency: one series per channel type and recipient bucket, le buckets, sum and count', () => {
    assert.deepEqual([...LATENCY_BUCKETS_MS], [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]);
    const c = new WorkerCounters(WorkerCounters.allocate(1, 1), 1, 1, 0);
    const slot = (type: number, bucket: number, i: number) => c.sum(0, FIELD.latency + latencySeries(type, bucket) + i);
    const COUNT = LATENCY_BUCKETS_MS.length + 2;
    c.observeLatency(0, 0.4, 0, 10); // public, xs, le 0.5
    c.observeLatency(0, 7, 0, 11); // public, sm, le 10
    c.observeLatency(0, 6000, 3, 10_000); // presence, lg, +Inf
    c.observeLatency(0, 1, 3, 10_001); // presence, xl, le 1
    assert.equal(slot(0, 0, 0), 1);
    assert.equal(slot(0, 0, COUNT), 1);
    assert.equal(slot(0, 0, COUNT - 1), 0.4, 'sum');
    assert.equal(slot(0, 1, 4), 1);
    assert.equal(slot(3, 3, LATENCY_BUCKETS_MS.length), 1, 'past 5000 ms: the unbounded bucket');
    assert.equal(slot(3, 4, 1), 1);
    let total = 0;
    for (let t = 0; t < CHANNEL_TYPES.length; t++) for (let r = 0; r < RECIPIENT_BUCKETS.length; r++) total += slot(t, r, COUNT);
    assert.equal(total, 4);
  });

  test('add defaults to 1 and accepts n', () => {
    const c = new WorkerCounters(WorkerCounters.allocate(1, 1), 1, 1, 0);
    c.add(0, FIELD.wsMessagesReceived);
    c.add(0, FIELD.wsMessagesReceived);
    c.add(0, FIELD.socketBytesReceived, 1500);
    c.add(0, FIELD.socketBytesReceived, 36);
    assert.equal(c.sum(0, FIELD.wsMessagesReceived), 2);
    assert.equal(c.sum(0, FIELD.socketBytesReceived), 1536);
  });

  test('the primary sums every worker region', () => {
    const buf = WorkerCounters.allocate(3, 2);
    const workers = [0, 1, 2].map((w) => new WorkerCounters(buf, 3, 2, w));
    const primary = new WorkerCounters(buf, 3, 2, 0);
    workers[0].add(1, FIELD.newConnections, 2);
    workers[1].add(1, FIELD.newConnections, 3);
    workers[2].add(1, FIELD.newConnections, 5);
    assert.equal(primary.sum(1, FIELD.newConnections), 10);
    assert.equal(primary.sum(0, FIELD.newConnections), 0);
  });

  test('no two (worker, app, field) slots overlap, including the last one', () => {
    const W = 3;
    const A = 4;
    const buf = WorkerCounters.allocate(W, A);
    const views = Array.from({ length: W }, (_, w) => new WorkerCounters(buf, W, A, w));
    // a distinct value for every slot, so an overlap would show up in the sums
    for (let w = 0; w < W; w++) for (let a = 0; a < A; a++) for (const f of fields) views[w].add(a, f, (w + 1) * 1000 + a * 100 + f);
    for (let a = 0; a < A; a++) {
      for (const f of fields) {
        const expected = (1 + 2 + 3) * 1000 + W * (a * 100 + f);
        assert.equal(views[0].sum(a, f), expected, `app ${a} field ${f}`);
      }
    }
    // nothing was written outside the buffer's slots (every slot accounted for)
    const raw = new Float64Array(buf);
    const total = raw.reduce((s, v) => s + v, 0);
    let expectedTotal = 0;
    for (let w = 0; w < W; w++) for (let a = 0; a < A; a++) for (const f of fields) expectedTotal += (w + 1) * 1000 + a * 100 + f;
    assert.equal(total, expectedTotal);
  });

  test('a worker writes only inside its own region', () => {
    const buf = WorkerCounters.allocate(2, 2);
    new WorkerCounters(buf, 2, 2, 1).add(0, FIELD.disconnections, 7);
    const raw = new Float64Array(buf);
    const perWorker = raw.length / 2;
    assert.ok(raw.subarray(0, perWorker).every((v) => v === 0), "worker 0's region untouched");
    assert.equal(raw.subarray(perWorker).reduce((s, v) => s + v, 0), 7);
  });

  test('subscriptions and unsubscriptions per channel type are separate counters', () => {
    const c = new WorkerCounters(WorkerCounters.allocate(1, 1), 1, 1, 0);
    const presence = CHANNEL_TYPES.indexOf('presence');
    c.add(0, FIELD.subscriptions + presence, 4);
    c.add(0, FIELD.unsubscriptions + presence, 1);
    assert.equal(c.sum(0, FIELD.subscriptions + presence), 4);
    assert.equal(c.sum(0, FIELD.unsubscriptions + presence), 1);
    for (let i = 0; i < CHANNEL_TYPES.length; i++) {
      if (i === presence) continue;
      assert.equal(c.sum(0, FIELD.subscriptions + i), 0);
      assert.equal(c.sum(0, FIELD.unsubscriptions + i), 0);
    }
  });
});
