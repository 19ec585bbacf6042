// The primary's side of a publish a worker answered itself (worker/publishAdmission.ts): the worker hands over
// the body as it read it with each message's channel, and with other workers Api.acceptedPublish parses and
// validates the body again with the code that admitted it. It delivers exactly the events the worker validated:
// frames to the other workers, and to the admitting one only each message's id and V2 position (it builds its
// frames from the events it parsed); a body that does not validate (a bug somewhere, since the worker checked
// it) is logged and delivers nothing, and the request is still counted. With one worker there are no frames to
// build, and the positions come from the channels alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { ApiRateBudget } from '../../src/apps/apiRateBudget.ts';
import { loadConfig } from '../../src/config/load.ts';
import { Api } from '../../src/http/api.ts';
import type { TopicFrame } from '../../src/ipc/messages.ts';
import type { ApiMetrics } from '../../src/metrics/registry.ts';
import { MemoryIdempotencyStore } from '../../src/idempotency/memoryStore.ts';
import { Publisher, type WorkerLink } from '../../src/primary/publisher.ts';
import { PublishAdmission } from '../../src/worker/publishAdmission.ts';

function setup(alone = false, env: Record<string, string> = {}) {
  // Recovery on (off by default): these publishes carry positions.
  const config = loadConfig({ env: { SOCKUDO_CONNECTION_RECOVERY_ENABLED: 'true', ...env } });
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const published: TopicFrame[][] = [];
  const admitting: WorkerLink = { index: 0, publish: () => assert.fail('the admitting worker builds its own frames'), post() {} };
  const other: WorkerLink = { index: 1, publish: (frames) => void published.push(frames), post() {} };
  const counted = { calls: 0, ephemeral: 0 };
  const metrics: ApiMetrics = {
    httpCall: () => void counted.calls++,
    idempotentPublish() {},
    idempotentDuplicate() {},
    apiRateChecked() {},
    ephemeralMessage: () => void counted.ephemeral++,
  };
  const rateBudget = new ApiRateBudget(ApiRateBudget.allocate(config.apps.length));
  const publisher = new Publisher(() => (alone ? [admitting] : [admitting, other]), config, log);
  const api = new Api({ config, log, publisher, metrics, hub: undefined as never, idempotency: new MemoryIdempotencyStore(100), push: null, rateBudget });
  const admission = new PublishAdmission(config);
  // The message as the worker's HTTP bridge sends it; a body the worker would not admit lists no channels.
  const accepted = (body: string, batch: boolean) => {
    const path = `/apps/${config.apps[0].id}/${batch ? 'batch_events' : 'events'}`;
    const admitted = admission.admit({ method: 'POST', path, contentType: 'application/json', idempotencyKey: '', body }, config.apps[0].id);
    const positionChannels = admitted?.positionChannels ?? [];
    const ephemeralEvents = admitted?.ephemeralEvents ?? 0;
    if (admitted) admission.taken(admitted.seq);
    return api.acceptedPublish(
      { type: 'accepted-publish', seq: 0, app: 0, body, batch, positionChannels, ephemeralEvents, receivedBytes: body.length, sentBytes: 2 },
      0,
    );
  };
  return { api, accepted, published, lines, counted };
}

describe('accepted publishes on the primary', () => {
  test('a batch body is delivered as the events the worker validated, data objects as JSON strings', () => {
    const { accepted, published, counted } = setup();
    const positions = accepted(
      JSON.stringify({
        batch: [
          { name: 'a', channel: 'one', data: { n: 1 } },
          { name: 'b', channel: 'two', data: 'text', extras: { ephemeral: true } },
        ],
      }),
      true,
    );
    assert.equal(published.length, 1);
    const frames = published[0].map((f) => JSON.parse(f.frame));
    assert.deepEqual(frames, [
      { event: 'a', channel: 'one', data: '{"n":1}' },
      { event: 'b', channel: 'two', data: 'text' },
    ]);
    assert.equal(counted.ephemeral, 1);
    assert.equal(counted.calls, 1);
    // The admitting worker's columns, frame by frame: the same message ids and positions the others got.
    assert.ok(positions);
    assert.deepEqual(positions.messageIds, published[0].map((f) => f.alsoV2?.messageId));
    assert.equal(new Set(positions.messageIds).size, 2);
    assert.deepEqual(positions.serials, [1, -1]); // the ephemeral message has no position
    assert.equal(positions.streamIds[0], published[0][0].alsoV2?.streamId);
    assert.equal(positions.streamIds[1], '');
    assert.equal(positions.publishedAt, published[0][0].alsoV2?.publishedAt);
  });

  test('a single-event body with several channels', () => {
    const { accepted, published } = setup();
    accepted(JSON.stringify({ name: 'e', channels: ['x', 'y'], data: '{}' }), false);
    assert.deepEqual(
      published[0].map((f) => JSON.parse(f.frame).channel),
      ['x', 'y'],
    );
  });

  test('with one worker, the one that admitted it, no frame is built: it gets the positions only', () => {
    const { accepted, published, counted } = setup(true);
    const first = accepted(JSON.stringify({ name: 'e', channels: ['x', 'y'], data: '{}' }), false);
    const second = accepted(JSON.stringify({ name: 'e', channel: 'x', data: '{}' }), false);
    const batch = accepted(
      JSON.stringify({
        batch: [
          { name: 'a', channel: 'y', data: '1' },
          { name: 'b', channel: 'x', data: '2', extras: { ephemeral: true } },
        ],
      }),
      true,
    );
    assert.equal(published.length, 0);
    assert.deepEqual(first?.serials, [1, 1]);
    assert.deepEqual(second?.serials, [2]);
    assert.equal(second?.streamIds[0], first?.streamIds[0]);
    // The ephemeral message takes no position (and does not use up a serial of x); each message has its own id.
    assert.deepEqual(batch?.serials, [2, -1]);
    assert.equal(batch?.streamIds[1], '');
    assert.equal(new Set([...(first?.messageIds ?? []), ...(second?.messageIds ?? []), ...(batch?.messageIds ?? [])]).size, 5);
    assert.equal(counted.ephemeral, 1);
    assert.equal(counted.calls, 3);
  });

  test('with one worker the body is not parsed again: the positions follow the channels the worker listed', () => {
    const { api, published } = setup(true);
    const body = '{"name":"e","channel":"z","data":"1"}';
    const m = { type: 'accepted-publish' as const, seq: 0, app: 0, body, batch: false, ephemeralEvents: 0, receivedBytes: 1, sentBytes: 2 };
    assert.deepEqual(api.acceptedPublish({ ...m, positionChannels: ['z', 'w'] }, 0)?.serials, [1, 1]);
    assert.deepEqual(api.acceptedPublish({ ...m, positionChannels: ['z'] }, 0)?.serials, [2]);
    assert.equal(published.length, 0);
  });

  test('recovery off: a message to a user\'s sockets has an id, ephemeral or not, with one worker or two; a broadcast has none', () => {
    const recoveryOff = { SOCKUDO_CONNECTION_RECOVERY_ENABLED: 'false' };
    const body = JSON.stringify({
      batch: [
        { name: 'a', channel: '#server-to-user-u1', data: '1' },
        { name: 'b', channel: '#server-to-user-u1', data: '2', extras: { ephemeral: true } },
        { name: 'c', channel: 'news', data: '3' },
      ],
    });
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    for (const alone of [true, false]) {
      const { accepted, published } = setup(alone, recoveryOff);
      const positions = accepted(body, true);
      assert.ok(positions);
      assert.match(positions.messageIds[0], uuid, `one worker: ${alone}`);
      assert.match(positions.messageIds[1], uuid, `one worker: ${alone}; the ephemeral one too`);
      assert.equal(positions.messageIds[2], '', `one worker: ${alone}; a channel broadcast, as Sockudo's with recovery off`);
      assert.deepEqual(positions.serials, [-1, -1, -1]);
      if (!alone) assert.deepEqual(published[0].map((f) => f.alsoV2?.messageId ?? ''), positions.messageIds);
    }
  });

  test('a body that does not validate delivers nothing and is logged as an error; the call still counts', () => {
    const { accepted, published, lines, counted } = setup();
    assert.equal(accepted(JSON.stringify({ name: 'e', data: 'no channel' }), false), undefined);
    assert.equal(accepted('{not json', true), undefined);
    assert.equal(published.length, 0);
    const errors = lines.filter((l) => l.level === 50);
    assert.equal(errors.length, 2);
    assert.match(errors[0].msg, /did not validate/);
    assert.equal(counted.calls, 2);
  });
});
