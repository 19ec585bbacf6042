// The primary's side of a publish a worker answered itself (worker/publishAdmission.ts): the worker hands over
// the body as it read it, and Api.acceptedPublish parses and validates it again with the code that admitted it.
// It delivers exactly the events the worker validated; a body that does not validate (a bug somewhere, since
// the worker checked it) is logged and delivers nothing, and the request is still counted.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import { Api } from '../../src/http/api.ts';
import type { TopicFrame } from '../../src/ipc/messages.ts';
import type { ApiMetrics } from '../../src/metrics/registry.ts';
import { MemoryIdempotencyStore } from '../../src/idempotency/memoryStore.ts';
import { Publisher, type WorkerLink } from '../../src/primary/publisher.ts';

function setup() {
  const config = loadConfig({ env: {} });
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const published: TopicFrame[][] = [];
  const link: WorkerLink = { index: 0, publish: (frames) => void published.push(frames), post() {} };
  const counted = { calls: 0, ephemeral: 0 };
  const metrics: ApiMetrics = {
    httpCall: () => void counted.calls++,
    idempotentPublish() {},
    idempotentDuplicate() {},
    apiRateChecked() {},
    ephemeralMessage: () => void counted.ephemeral++,
  };
  const publisher = new Publisher(() => [link], config, log);
  const api = new Api({ config, log, publisher, metrics, hub: undefined as never, idempotency: new MemoryIdempotencyStore(100), push: null });
  const accepted = (body: string, batch: boolean) =>
    api.acceptedPublish({ type: 'accepted-publish', seq: 0, app: 0, body, batch, receivedBytes: body.length, sentBytes: 2, deliveredV1: false }, 0);
  return { api, accepted, published, lines, counted };
}

describe('accepted publishes on the primary', () => {
  test('a batch body is delivered as the events the worker validated, data objects as JSON strings', () => {
    const { accepted, published, counted } = setup();
    accepted(
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
  });

  test('a single-event body with several channels', () => {
    const { accepted, published } = setup();
    accepted(JSON.stringify({ name: 'e', channels: ['x', 'y'], data: '{}' }), false);
    assert.deepEqual(
      published[0].map((f) => JSON.parse(f.frame).channel),
      ['x', 'y'],
    );
  });

  test('a body that does not validate delivers nothing and is logged as an error; the call still counts', () => {
    const { accepted, published, lines, counted } = setup();
    accepted(JSON.stringify({ name: 'e', data: 'no channel' }), false);
    accepted('{not json', true);
    assert.equal(published.length, 0);
    const errors = lines.filter((l) => l.level === 50);
    assert.equal(errors.length, 2);
    assert.match(errors[0].msg, /did not validate/);
    assert.equal(counted.calls, 2);
  });
});
