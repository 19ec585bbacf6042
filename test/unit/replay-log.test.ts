// One channel's compact replay storage (worker/replayLog.ts): messages go in as V2Message objects and come
// back rebuilt from bytes and typed arrays, so every field a replay needs must survive the ring's wrap-around,
// its growth, the compaction of its byte buffer and non-ASCII text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V2Meta } from '../../src/ipc/messages.ts';
import { ReplayLog } from '../../src/worker/replayLog.ts';
import { V2Message } from '../../src/worker/v2Message.ts';

function meta(serial: number, over: Partial<V2Meta> = {}): V2Meta {
  return { channel: 'orders', event: 'e', messageId: `id-${serial}`, streamId: 's1', serial, ephemeral: false, publishedAt: 1_000 + serial, ...over };
}

/** A V1 frame whose length varies with the serial, with some multi-byte characters. */
function v1Frame(serial: number): string {
  return JSON.stringify({ event: 'e', channel: 'orders', data: `${'é€😀'.repeat(serial % 7)}${'x'.repeat((serial * 37) % 500)}#${serial}` });
}

describe('ReplayLog', () => {
  test('keeps the last maxSize messages through growth, wrap-around and compaction, every field intact', () => {
    const log = new ReplayLog('orders', 's1', 100);
    for (let s = 1; s <= 1_000; s++) log.push(V2Message.fromV1(meta(s, { messageId: `ïd-${s}-✓` }), v1Frame(s)), s);
    assert.equal(log.count, 100);
    assert.equal(log.serial, 1_000);
    const entries = log.entries();
    assert.deepEqual(
      entries.map((e) => e.serial),
      Array.from({ length: 100 }, (_, k) => 901 + k),
    );
    for (const e of entries) {
      assert.equal(e.messageId, `ïd-${e.serial}-✓`);
      assert.equal(e.publishedAt, 1_000 + e.serial);
      assert.equal(e.channel, 'orders');
      assert.equal(e.streamId, 's1');
      // The V2 frame rebuilt from the stored V1 frame is the one the live message had.
      assert.equal(e.frame, V2Message.fromV1(meta(e.serial, { messageId: `ïd-${e.serial}-✓` }), v1Frame(e.serial)).frame);
    }
    assert.equal(log.newestMessageId(), 'ïd-1000-✓');
  });

  test('built V2 frames come back as they were, and tags, extras and user ids only where they were given', () => {
    const log = new ReplayLog('orders', 's1', 4);
    for (let s = 1; s <= 9; s++) {
      const over: Partial<V2Meta> = s % 3 === 0 ? { tags: { k: `t${s}` }, extras: { headers: { h: s } }, userId: `u${s}` } : { event: `ev${s % 2}` };
      log.push(s % 2 === 0 ? V2Message.built(meta(s, over), `{"built":${s}}`) : V2Message.fromV1(meta(s, over), v1Frame(s)), s);
    }
    const entries = log.entries();
    assert.deepEqual(
      entries.map((e) => e.serial),
      [6, 7, 8, 9],
    );
    for (const e of entries) {
      const rare = e.serial % 3 === 0;
      assert.deepEqual(e.tags, rare ? { k: `t${e.serial}` } : undefined);
      assert.deepEqual(e.extras, rare ? { headers: { h: e.serial } } : undefined);
      assert.equal(e.userId, rare ? `u${e.serial}` : undefined);
      assert.equal(e.event, rare ? 'e' : `ev${e.serial % 2}`);
      assert.equal(e.sourceIsV2, e.serial % 2 === 0);
      if (e.serial % 2 === 0) assert.equal(e.frame, `{"built":${e.serial}}`);
    }
  });

  test('expiry drops the oldest by time; the log keeps taking messages afterwards, and empties completely', () => {
    const log = new ReplayLog('orders', 's1', 10);
    for (let s = 1; s <= 8; s++) log.push(V2Message.fromV1(meta(s), v1Frame(s)), s);
    log.expire(1_000 + 6); // published at 1_001..1_008: 1..5 go
    assert.deepEqual(
      log.entries().map((e) => e.serial),
      [6, 7, 8],
    );
    for (let s = 9; s <= 30; s++) log.push(V2Message.fromV1(meta(s), v1Frame(s)), s);
    assert.deepEqual(
      log.entries().map((e) => e.serial),
      Array.from({ length: 10 }, (_, k) => 21 + k),
    );
    assert.equal(log.entries(7)[0].serial, 28);
    for (const e of log.entries()) assert.equal(JSON.parse(e.source).data, JSON.parse(v1Frame(e.serial)).data);
    log.expire(Number.POSITIVE_INFINITY);
    assert.equal(log.count, 0);
    assert.equal(log.newestMessageId(), undefined);
    log.push(V2Message.fromV1(meta(31), v1Frame(31)), 31);
    assert.deepEqual(
      log.entries().map((e) => e.messageId),
      ['id-31'],
    );
  });
});
