// Which publishes a worker may answer itself (worker/publishAdmission.ts): only those the primary could not
// refuse; everything else must go to the primary, which gives the coded answer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { type AdmittedPublish, MAX_UNCONFIRMED_PUBLISHES, PublishAdmission, type PublishRequest } from '../../src/worker/publishAdmission.ts';

const apps = [
  { id: 'app-id', key: 'app-key', secret: 'app-secret', limits: { max_event_batch_size: 3 } },
  { id: 'limited', key: 'limited-key', secret: 's', limits: { max_api_requests_per_second: 100 } },
  { id: 'off', key: 'off-key', secret: 's', enabled: false },
];
const config = loadConfig({ env: {}, fileContents: { apps } });

const event = (extra: Record<string, unknown> = {}) => JSON.stringify({ name: 'e', channel: 'c', data: 'd', ...extra });
const request = (o: Partial<PublishRequest> = {}): PublishRequest => ({
  method: 'POST',
  path: '/apps/app-id/events',
  contentType: 'application/json',
  idempotencyKey: '',
  body: event(),
  ...o,
});

describe('publishes a worker answers itself', () => {
  test('a valid event or batch is admitted with the answer the primary would give', () => {
    const admission = new PublishAdmission(config);
    const one = admission.admit(request(), 'app-id');
    assert.equal(one?.answer, '{"ok":true}');
    assert.equal(one?.app, 0);
    assert.deepEqual(one?.events.map((e) => [e.name, e.channels, e.data]), [['e', ['c'], 'd']]);
    const batch = admission.admit(request({ path: '/apps/app-id/batch_events', body: JSON.stringify({ batch: [{ name: 'a', channel: 'x', data: { n: 1 } }, { name: 'b', channel: 'y' }] }) }), 'app-id');
    assert.equal(batch?.answer, '{}');
    assert.deepEqual(batch?.events.map((e) => [e.name, e.channels, e.data]), [['a', ['x'], '{"n":1}'], ['b', ['y'], 'null']]);
    assert.ok(admission.admit(request({ contentType: 'application/json; charset=utf-8', path: '/apps/app-id/events/' }), 'app-id'));
    // An app with an API rate limit too: the worker's gate spent its budget before (worker/apiRateGate.ts).
    assert.equal(admission.admit(request({ path: '/apps/limited/events' }), 'limited')?.app, 1);
  });

  test('anything the primary could refuse, or must answer with more than ok, is left to it', () => {
    const admission = new PublishAdmission(config);
    const cases: [string, PublishRequest, string][] = [
      ['invalid JSON', request({ body: '{"name":' }), 'app-id'],
      ['no channel', request({ body: JSON.stringify({ name: 'e', data: 'd' }) }), 'app-id'],
      ['batch over the app limit', request({ path: '/apps/app-id/batch_events', body: JSON.stringify({ batch: [1, 2, 3, 4].map(() => ({ name: 'e', channel: 'c' })) }) }), 'app-id'],
      ['not JSON content', request({ contentType: 'text/plain' }), 'app-id'],
      ['GET', request({ method: 'GET' }), 'app-id'],
      ['another route', request({ path: '/apps/app-id/channels' }), 'app-id'],
      ['idempotency header', request({ idempotencyKey: 'k' }), 'app-id'],
      ['idempotency key in the body', request({ body: event({ idempotency_key: 'k' }) }), 'app-id'],
      ['idempotency key on a batch item', request({ path: '/apps/app-id/batch_events', body: JSON.stringify({ batch: [{ name: 'e', channel: 'c', idempotency_key: 'k' }] }) }), 'app-id'],
      ['info asked for', request({ body: event({ info: 'subscription_count' }) }), 'app-id'],
      ['a message_id (answered with its acknowledgement id)', request({ body: event({ message_id: 'm-1' }) }), 'app-id'],
      ['a message_id on a batch item', request({ path: '/apps/app-id/batch_events', body: JSON.stringify({ batch: [{ name: 'e', channel: 'c', message_id: 'm-1' }] }) }), 'app-id'],
      ['info on a batch item', request({ path: '/apps/app-id/batch_events', body: JSON.stringify({ batch: [{ name: 'e', channel: 'c', info: 'user_count' }] }) }), 'app-id'],
      ['a cache channel (new subscribers must find it cached)', request({ body: JSON.stringify({ name: 'e', channels: ['c', 'cache-c'], data: 'd' }) }), 'app-id'],
      ['a disabled app', request({ path: '/apps/off/events' }), 'off'],
      ['a path of another app', request({ path: '/apps/limited/events' }), 'app-id'],
    ];
    for (const [what, req, appId] of cases) assert.equal(admission.admit(req, appId), undefined, what);
  });

  test('with several hosts the primary answers every publish (Redis can fail)', () => {
    const clustered = loadConfig({ env: {}, fileContents: { apps, redis: { url: 'redis://127.0.0.1:6379' } } });
    assert.equal(new PublishAdmission(clustered).admit(request(), 'app-id'), undefined);
  });

  /** Admits a request as the worker does: stamped with the next sequence number. */
  function admitStamped(admission: PublishAdmission, seq: number): AdmittedPublish {
    const admitted = admission.admit(request(), 'app-id');
    assert.ok(admitted);
    admitted.seq = seq;
    return admitted;
  }

  test('says whether the primary had taken every earlier publish answered here', () => {
    const admission = new PublishAdmission(config);
    assert.equal(admitStamped(admission, 0)?.primaryCaughtUp, true);
    assert.equal(admitStamped(admission, 1)?.primaryCaughtUp, false);
    admission.taken(0);
    assert.equal(admitStamped(admission, 2)?.primaryCaughtUp, false);
    admission.taken(1);
    admission.taken(2);
    assert.equal(admitStamped(admission, 3)?.primaryCaughtUp, true);
  });

  // Found by review: a publish delivered here but numbered by the primary has its positions only in its answer, so
  // numbering a later one here before that answer came gave one serial twice (worker/positionTracker.ts).
  test('says whether every other publish waiting for the primary was numbered here', () => {
    const admission = new PublishAdmission(config);
    const numberedHere = { messageIds: ['m'], streamIds: ['s'], serials: [1], publishedAt: 0 };
    const first = admitStamped(admission, 0) as AdmittedPublish;
    assert.equal(admission.othersNumberedHere(first), true, 'nothing else is waiting');
    first.local = numberedHere;
    const byPrimary = admitStamped(admission, 1) as AdmittedPublish;
    assert.equal(admission.othersNumberedHere(byPrimary), true, 'the one before was numbered here');
    const next = admitStamped(admission, 2) as AdmittedPublish;
    assert.equal(admission.othersNumberedHere(next), false, 'stamp 1 is numbered by the primary, whose answer has not come');
    admission.taken(0);
    admission.taken(1);
    assert.equal(admission.othersNumberedHere(next), true, 'its answer came');
  });

  test('hands back the publish the primary names, oldest first; ones it skipped are dropped and reported', () => {
    const admission = new PublishAdmission(config);
    const held = [5, 6, 7, 8].map((seq) => admitStamped(admission, seq));
    assert.equal(admission.taken(5), held[0]);
    const skipped: AdmittedPublish[] = [];
    assert.equal(admission.taken(7, skipped), held[2]);
    assert.deepEqual(skipped, [held[1]]);
    assert.equal(admission.taken(7), undefined, 'not held any more');
    assert.equal(admission.taken(8), held[3]);
    // Stamps wrap around the Int32 counter.
    const a = admitStamped(admission, 2 ** 31 - 1);
    const b = admitStamped(admission, -(2 ** 31));
    assert.equal(admission.taken(-(2 ** 31), skipped), b);
    assert.equal(skipped.at(-1), a);
  });

  test('past the bound of unconfirmed publishes, requests wait for the primary again', () => {
    const admission = new PublishAdmission(config);
    for (let i = 0; i < MAX_UNCONFIRMED_PUBLISHES; i++) admitStamped(admission, i);
    assert.equal(admission.admit(request(), 'app-id'), undefined);
    admission.taken(0);
    admitStamped(admission, MAX_UNCONFIRMED_PUBLISHES);
    assert.equal(admission.admit(request(), 'app-id'), undefined);
  });
});
