// Idempotent publishing (§5.1): the in-memory store (claims, completion, release, TTL, bound) and the
// publish flow on top of it (repeat, conflict, in-progress wait with 503, failure releases the key).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HttpError } from '../../src/errors.ts';
import { type IdempotencyMetrics, IdempotentPublisher, fingerprint } from '../../src/http/idempotentPublish.ts';
import { MemoryIdempotencyStore } from '../../src/idempotency/memoryStore.ts';
import type { ClaimResult, IdempotencyStore, StoredResponse } from '../../src/idempotency/store.ts';
import { fakeClock } from '../helpers/fakeClock.ts';

const OK: StoredResponse = { status: 200, body: '{"ok":true}' };

/** Lets pending promise continuations run (setImmediate is not faked). */
const settle = () => new Promise<void>((r) => setImmediate(r));

function countingMetrics(): IdempotencyMetrics & { published: string[]; duplicates: string[] } {
  const published: string[] = [];
  const duplicates: string[] = [];
  return {
    published,
    duplicates,
    idempotentPublish: (appId) => void published.push(appId),
    idempotentDuplicate: (appId) => void duplicates.push(appId),
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

describe('MemoryIdempotencyStore', () => {
  test('claim, pending, conflict, complete, done', async () => {
    const s = new MemoryIdempotencyStore(100);
    assert.deepEqual(await s.claim('app', 'k', 'fp1', 60_000), { state: 'claimed' });
    assert.deepEqual(await s.claim('app', 'k', 'fp1', 60_000), { state: 'pending' });
    assert.deepEqual(await s.claim('app', 'k', 'fp2', 60_000), { state: 'conflict' });
    await s.complete('app', 'k', 'fp1', OK, 60_000);
    assert.deepEqual(await s.claim('app', 'k', 'fp1', 60_000), { state: 'done', response: OK });
    assert.deepEqual(await s.claim('app', 'k', 'fp2', 60_000), { state: 'conflict' });
  });

  test('keys are per scope', async () => {
    const s = new MemoryIdempotencyStore(100);
    assert.equal((await s.claim('app1', 'k', 'fp', 60_000)).state, 'claimed');
    assert.equal((await s.claim('app2', 'k', 'fp', 60_000)).state, 'claimed');
    assert.equal((await s.claim('app1', 'k2', 'fp', 60_000)).state, 'claimed');
    assert.equal(s.size, 3);
  });

  test('release forgets a claim so the key can be claimed again', async () => {
    const s = new MemoryIdempotencyStore(100);
    await s.claim('app', 'k', 'fp1', 60_000);
    await s.release('app', 'k');
    assert.equal(s.size, 0);
    assert.deepEqual(await s.claim('app', 'k', 'fp2', 60_000), { state: 'claimed' }, 'even with another payload');
  });

  test('a claim expires after its TTL', async (t) => {
    const clock = fakeClock(t);
    const s = new MemoryIdempotencyStore(100);
    await s.claim('app', 'k', 'fp', 1_000);
    clock.advance(999);
    assert.equal((await s.claim('app', 'k', 'fp', 1_000)).state, 'pending', 'still held 1 ms before the TTL');
    clock.advance(2);
    assert.equal(s.size, 0);
    assert.equal((await s.claim('app', 'k', 'fp', 1_000)).state, 'claimed', 'free again after the TTL');
  });

  test('a completed response expires after the TTL given to complete()', async (t) => {
    const clock = fakeClock(t);
    const s = new MemoryIdempotencyStore(100);
    await s.claim('app', 'k', 'fp', 1_000);
    clock.advance(500);
    await s.complete('app', 'k', 'fp', OK, 1_000);
    clock.advance(900); // 1400 ms after the claim, 900 ms after completion
    assert.deepEqual(await s.claim('app', 'k', 'fp', 1_000), { state: 'done', response: OK });
    clock.advance(200);
    assert.deepEqual(await s.claim('app', 'k', 'other-payload', 1_000), { state: 'claimed' });
  });

  test('at most max_entries keys are kept, the oldest forgotten first', async (t) => {
    const clock = fakeClock(t);
    const s = new MemoryIdempotencyStore(3);
    for (const k of ['a', 'b', 'c', 'd', 'e']) {
      await s.claim('app', k, 'fp', 60_000);
      clock.advance(1);
    }
    assert.equal(s.size, 3);
    assert.equal((await s.claim('app', 'e', 'fp', 60_000)).state, 'pending');
    assert.equal((await s.claim('app', 'd', 'fp', 60_000)).state, 'pending');
    assert.equal((await s.claim('app', 'c', 'fp', 60_000)).state, 'pending');
    assert.equal(s.size, 3);
    assert.equal((await s.claim('app', 'a', 'fp', 60_000)).state, 'claimed', 'the oldest key was forgotten');
    assert.equal(s.size, 3);
  });
});

describe('IdempotentPublisher.run', () => {
  test('the first call publishes; a repeat returns the stored response and publishes nothing', async () => {
    const store = new MemoryIdempotencyStore(100);
    const metrics = countingMetrics();
    const p = new IdempotentPublisher(store, metrics);
    let calls = 0;
    const publish = () => {
      calls++;
      return { status: 200, body: `{"call":${calls}}` };
    };
    const first = await p.run('app1', 'app1', 'k', 'fp', 60_000, publish);
    assert.deepEqual(first, { status: 200, body: '{"call":1}' });
    const again = await p.run('app1', 'app1', 'k', 'fp', 60_000, publish);
    assert.deepEqual(again, first);
    assert.equal(calls, 1);
    assert.deepEqual(metrics.published, ['app1']);
    assert.deepEqual(metrics.duplicates, ['app1']);
    // another key publishes again
    await p.run('app1', 'app1', 'k2', 'fp', 60_000, publish);
    assert.equal(calls, 2);
    assert.deepEqual(metrics.published, ['app1', 'app1']);
  });

  test('the same key with another payload: 409, nothing published', async () => {
    const store = new MemoryIdempotencyStore(100);
    const metrics = countingMetrics();
    const p = new IdempotentPublisher(store, metrics);
    await p.run('app1', 'app1', 'k', 'fp1', 60_000, () => OK);
    let published = false;
    const err = await rejection(
      p.run('app1', 'app1', 'k', 'fp2', 60_000, () => {
        published = true;
        return OK;
      }),
    );
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, 409);
    assert.equal(err.code, 'idempotency_conflict');
    assert.equal(published, false);
    assert.deepEqual(metrics.duplicates, []);
  });

  test('a key that stays pending: 503 backpressure with Retry-After after a bounded wait', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let claims = 0;
    const store: IdempotencyStore = {
      claim: async (): Promise<ClaimResult> => {
        claims++;
        return { state: 'pending' };
      },
      complete: async () => assert.fail('complete must not be called'),
      release: async () => assert.fail('release must not be called'),
    };
    const p = new IdempotentPublisher(store, countingMetrics());
    let outcome: unknown = 'unsettled';
    void p.run('app1', 'app1', 'k', 'fp', 60_000, () => assert.fail('must not publish')).then(
      () => (outcome = 'resolved'),
      (err: unknown) => (outcome = err),
    );
    // Reference: poll 6 × 50 ms, then 503.
    for (let elapsed = 0; elapsed < 300; elapsed += 50) {
      await settle();
      assert.equal(outcome, 'unsettled', `still waiting after ${elapsed} ms`);
      t.mock.timers.tick(50);
    }
    await settle();
    assert.ok(outcome instanceof HttpError, `expected an HttpError after 300 ms, got ${String(outcome)}`);
    assert.equal(outcome.status, 503);
    assert.equal(outcome.code, 'backpressure');
    assert.equal(outcome.headers?.['Retry-After'], '1');
    assert.ok(claims >= 2, `the store was asked again while waiting (${claims} claims)`);
  });

  test('a pending key that completes while waiting: the stored response, no publish', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const answers: ClaimResult[] = [{ state: 'pending' }, { state: 'pending' }, { state: 'done', response: OK }];
    const store: IdempotencyStore = {
      claim: async () => answers.shift() ?? assert.fail('asked too often'),
      complete: async () => assert.fail('complete must not be called'),
      release: async () => assert.fail('release must not be called'),
    };
    const metrics = countingMetrics();
    const p = new IdempotentPublisher(store, metrics);
    let outcome: unknown = 'unsettled';
    void p.run('app1', 'app1', 'k', 'fp', 60_000, () => assert.fail('must not publish')).then(
      (r) => (outcome = r),
      (err: unknown) => (outcome = err),
    );
    for (let i = 0; i < 6 && outcome === 'unsettled'; i++) {
      await settle();
      t.mock.timers.tick(50);
    }
    await settle();
    assert.deepEqual(outcome, OK);
    assert.deepEqual(metrics.duplicates, ['app1']);
    assert.deepEqual(metrics.published, []);
  });

  test('a publish that throws releases the claim, so a retry publishes', async () => {
    const store = new MemoryIdempotencyStore(100);
    const metrics = countingMetrics();
    const p = new IdempotentPublisher(store, metrics);
    const boom = new HttpError('invalidInput', 'bad channel');
    const err = await rejection(
      p.run('app1', 'app1', 'k', 'fp', 60_000, () => {
        throw boom;
      }),
    );
    assert.equal(err, boom, 'the publish error is passed on unchanged');
    assert.equal(store.size, 0, 'the claim was released');
    assert.deepEqual(metrics.published, []);
    let calls = 0;
    const r = await p.run('app1', 'app1', 'k', 'fp', 60_000, () => {
      calls++;
      return OK;
    });
    assert.deepEqual(r, OK);
    assert.equal(calls, 1);
    assert.deepEqual(metrics.published, ['app1']);
  });

  test('the stored response expires with the TTL, then the key publishes again', async (t) => {
    const clock = fakeClock(t);
    const p = new IdempotentPublisher(new MemoryIdempotencyStore(100), countingMetrics());
    let calls = 0;
    const publish = () => ({ status: 200, body: String(++calls) });
    await p.run('app1', 'app1', 'k', 'fp', 1_000, publish);
    clock.advance(999);
    assert.equal((await p.run('app1', 'app1', 'k', 'fp', 1_000, publish)).body, '1');
    clock.advance(2);
    assert.equal((await p.run('app1', 'app1', 'k', 'fp', 1_000, publish)).body, '2');
  });
});

describe('IdempotentPublisher: batch items', () => {
  test('claimed, then duplicate after completion; conflict 409; pending 503', async () => {
    const store = new MemoryIdempotencyStore(100);
    const p = new IdempotentPublisher(store, countingMetrics());
    assert.equal(await p.claimItem('app1', 'i1', 'fp', 60_000), 'claimed');
    const pending = await rejection(p.claimItem('app1', 'i1', 'fp', 60_000));
    assert.ok(pending instanceof HttpError);
    assert.equal(pending.status, 503);
    await p.completeItem('app1', 'i1', 'fp', 60_000);
    assert.equal(await p.claimItem('app1', 'i1', 'fp', 60_000), 'duplicate');
    const conflict = await rejection(p.claimItem('app1', 'i1', 'other', 60_000));
    assert.ok(conflict instanceof HttpError);
    assert.equal(conflict.status, 409);
    await p.claimItem('app1', 'i2', 'fp', 60_000);
    await p.releaseItem('app1', 'i2');
    assert.equal(await p.claimItem('app1', 'i2', 'fp', 60_000), 'claimed');
  });
});

describe('fingerprint', () => {
  const route = 'POST /apps/1/events';
  const body = { name: 'e', channel: 'orders', data: '{"id":1}', info: { a: 1, b: [1, 2] } };

  test('is a SHA-256 hex digest', () => {
    assert.match(fingerprint(route, body), /^[0-9a-f]{64}$/);
  });

  test('ignores idempotency_key and does not change the body', () => {
    const withKey = { ...body, idempotency_key: 'abc' };
    assert.equal(fingerprint(route, withKey), fingerprint(route, body));
    assert.equal(fingerprint(route, withKey), fingerprint(route, { ...body, idempotency_key: 'other' }));
    assert.equal(withKey.idempotency_key, 'abc');
  });

  test('ignores key order, at every depth', () => {
    const reordered = { info: { b: [1, 2], a: 1 }, data: '{"id":1}', channel: 'orders', name: 'e' };
    assert.equal(fingerprint(route, reordered), fingerprint(route, body));
  });

  test('depends on every value, on types, on array order and on the route', () => {
    const base = fingerprint(route, body);
    const variants: unknown[] = [
      { ...body, name: 'f' },
      { ...body, data: '{"id":2}' },
      { ...body, info: { a: '1', b: [1, 2] } },
      { ...body, info: { a: 1, b: [2, 1] } },
      { ...body, info: { a: 1, b: [1, 2], c: null } },
      { ...body, extra: true },
      { name: 'e', channel: 'orders', data: '{"id":1}' },
    ];
    const prints = variants.map((v) => fingerprint(route, v));
    for (const [i, p] of prints.entries()) assert.notEqual(p, base, `variant ${i}: ${JSON.stringify(variants[i])}`);
    assert.equal(new Set(prints).size, prints.length);
    assert.notEqual(fingerprint('POST /apps/1/batch_events', body), base);
  });
});
